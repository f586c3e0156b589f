// Words the console shows for the API's codes, and small formatting helpers.

export const STATE = { bot: '機器人服務中', queued: '排隊中', agent: '專員服務中', closed: '已結束' };
export const AUTHOR = { customer: '客戶', bot: '機器人', agent: '專員', system: '系統' };
export const TRIGGER = { router: '機器人轉接', button: '客戶要求', pull: '專員接手', transfer: '轉接', callback: '留言回電', release: '專員離線，重新排隊' };
export const CHANNEL = { web: '網頁', api: 'API', line: 'LINE', botframework: 'Teams' };
export const GROUP = { default: '一般', bank: '銀行', life: '壽險' };
/** A queue group's name, with its code when there is a Chinese one. */
export const groupLabel = (g) => (GROUP[g] ? `${GROUP[g]}（${g}）` : g);
export const OUTCOME = { answer: '回答', clarify: '澄清', fallback: '無法回答', handoff: '轉真人' };
export const DISPOSITION = {
  resolved: '已解決', callback: '需回電', spam: '垃圾訊息', no_response: '客戶未回應',
  transferred_out: '已轉外部', duplicate: '重複', other: '其他',
};
export const ERROR = {
  KEFU_ALREADY_CLAIMED: '已被其他專員接手',
  KEFU_LOGIN_FAILED: '帳號或密碼錯誤',
  KEFU_RATE_LIMITED: '嘗試次數過多，請稍後再試',
  KEFU_SESSION_REQUIRED: '登入已逾時，請重新登入',
  KEFU_ROLE_FORBIDDEN: '此帳號沒有使用專員工作台的權限',
  KEFU_GROUP_FORBIDDEN: '此對話不屬於您服務的群組',
  KEFU_NOT_CONVERSATION_OWNER: '此對話不在您手上',
  KEFU_CONVERSATION_STATE: '對話狀態已改變，請重新整理',
};

/** A short Chinese message for an API error. */
export function errorText(err) {
  if (err?.code === 'KEFU_RATE_LIMITED' && err.retryAfter) return `嘗試次數過多，請 ${err.retryAfter} 秒後再試`;
  // The server names who won the claim in the error's details.
  const winner = err?.code === 'KEFU_ALREADY_CLAIMED' ? err.details?.ownerName : null;
  if (winner) return `${ERROR.KEFU_ALREADY_CLAIMED}（${winner}）`;
  return ERROR[err?.code] ?? err?.message ?? String(err);
}

/** 3 分 05 秒 style durations. */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} 秒`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} 分 ${String(s % 60).padStart(2, '0')} 秒`;
  return `${Math.floor(m / 60)} 小時 ${m % 60} 分`;
}

/** HH:MM in local time. */
export const clock = (iso) => new Date(iso).toLocaleTimeString('zh-TW', { hour: '2-digit', minute: '2-digit', hour12: false });

export const percent = (x) => `${Math.round(x * 100)}%`;

/** The priority badge: the queue puts higher first (fraud, complaints). */
export const priorityLabel = (p) => (p > 0 ? `優先 ${p}` : "一般");
