import type { Locale } from '../domain/types.ts';

// What customers are told about the queue, in their conversation's locale. System messages are stored with the
// conversation, so a customer who comes back later reads the same words.

const minutes = (seconds: number): number => Math.max(1, Math.ceil(seconds / 60));

const TEXTS = {
  'zh-TW': {
    position: (n: number, s: number) => `目前排在第 ${n} 位，預計等候約 ${minutes(s)} 分鐘，專員將依序為您服務。`,
    offline: '目前沒有專員在線上。您可以留下想詢問的內容與方便聯絡的時間，專員會盡快回電給您；也可以繼續在此等候。',
    joined: (name: string) => `專員 ${name} 已加入對話。`,
    transferred: '正在為您轉接其他專員，請稍候。',
    released: '為您服務的專員已離線，已將您排回隊伍最前面，將由下一位專員優先為您服務。',
    returned: (bot: string) => `專員已將對話交回智能客服${bot}，還有其他問題歡迎繼續詢問。`,
    closed: '專員已結束本次對話，感謝您的耐心與等候。',
    callback: (t: string | null) => `已收到您的留言${t ? `（方便聯絡時間：${t}）` : ''}，專員會盡快與您聯繫。`,
  },
  'zh-CN': {
    position: (n: number, s: number) => `目前排在第 ${n} 位，预计等候约 ${minutes(s)} 分钟，专员将依序为您服务。`,
    offline: '目前没有专员在线。您可以留下想咨询的内容与方便联系的时间，专员会尽快回电给您；也可以继续在此等候。',
    joined: (name: string) => `专员 ${name} 已加入对话。`,
    transferred: '正在为您转接其他专员，请稍候。',
    released: '为您服务的专员已离线，已将您排回队伍最前面，将由下一位专员优先为您服务。',
    returned: (bot: string) => `专员已将对话交回智能客服${bot}，还有其他问题欢迎继续咨询。`,
    closed: '专员已结束本次对话，感谢您的耐心与等候。',
    callback: (t: string | null) => `已收到您的留言${t ? `（方便联系时间：${t}）` : ''}，专员会尽快与您联系。`,
  },
  en: {
    position: (n: number, s: number) => `You are number ${n} in the queue; the expected wait is about ${minutes(s)} minute${minutes(s) === 1 ? '' : 's'}.`,
    offline: 'No agent is available right now. You can leave your question and a good time to call you, and an agent will call you back; or keep waiting here.',
    joined: (name: string) => `Agent ${name} has joined the conversation.`,
    transferred: 'Transferring you to another agent. Please wait a moment.',
    released: 'Your agent has gone offline. You are back at the front of the queue and the next agent will be with you first.',
    returned: (bot: string) => `The agent has handed you back to ${bot}, the virtual assistant. Ask anything else you need.`,
    closed: 'The agent has ended this conversation. Thank you for your patience.',
    callback: (t: string | null) => `We have your message${t ? ` (best time to call: ${t})` : ''}; an agent will contact you soon.`,
  },
} satisfies Record<Locale, unknown>;

export const handoffNotices = {
  /** Where the customer stands in the queue and for how long, roughly. */
  position: (locale: Locale, position: number, expectedWaitSeconds: number): string => TEXTS[locale].position(position, expectedWaitSeconds),
  /** Nobody is on duty: the offer to leave a message for a call back. */
  offline: (locale: Locale): string => TEXTS[locale].offline,
  joined: (locale: Locale, agentName: string): string => TEXTS[locale].joined(agentName),
  transferred: (locale: Locale): string => TEXTS[locale].transferred,
  /** The agent serving the customer signed out or went offline: back to the front of the queue. */
  released: (locale: Locale): string => TEXTS[locale].released,
  returned: (locale: Locale, botName: string): string => TEXTS[locale].returned(botName),
  closed: (locale: Locale): string => TEXTS[locale].closed,
  callback: (locale: Locale, contactTime: string | null): string => TEXTS[locale].callback(contactTime),
};
