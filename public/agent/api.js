// The console's REST calls: same-origin, the HttpOnly session cookie goes along by itself. Errors come back as
// { error: { code, message } } (docs/agent-api.md); they are thrown as ApiError so views can match on the code.

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null, details = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    // A list of problems, or named facts for some codes (KEFU_ALREADY_CLAIMED: { ownerAgentId, ownerName }).
    this.details = details;
  }
}

let onSignedOut = () => {};
/** Called when a console call finds the session gone (401 on anything but the sign-in itself). */
export const whenSignedOut = (listener) => {
  onSignedOut = listener;
};

async function call(method, path, body) {
  const res = await fetch(`/api/v1${path}`, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return null;
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new ApiError(res.status, data.error?.code ?? 'KEFU_HTTP', data.error?.message ?? res.statusText, Number(res.headers.get('retry-after')) || null, data.error?.details ?? null);
    if (res.status === 401 && path !== '/auth/login' && path !== '/auth/me') onSignedOut(err);
    throw err;
  }
  return data;
}

const conv = (id) => `/agent/conversations/${encodeURIComponent(id)}`;

/** A fresh id for an outgoing message (getRandomValues: unlike randomUUID it works on a plain-http intranet host too). */
export const newMessageId = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');

/** Every call the console makes. */
export const api = {
  me: () => call('GET', '/auth/me'),
  login: (username, password) => call('POST', '/auth/login', { username, password }),
  logout: () => call('POST', '/auth/logout'),
  queue: () => call('GET', '/agent/queue'),
  live: () => call('GET', '/agent/conversations/live'),
  mine: () => call('GET', '/agent/conversations/mine'),
  detail: (id) => call('GET', conv(id)),
  claim: (id) => call('POST', `${conv(id)}/claim`),
  suggestions: (id, k = 3) => call('GET', `${conv(id)}/suggestions?k=${k}`),
  send: (id, text, clientMessageId) => call('POST', `${conv(id)}/messages`, { text, clientMessageId }),
  note: (id, text) => call('POST', `${conv(id)}/notes`, { text }),
  transfer: (id, to) => call('POST', `${conv(id)}/transfer`, to),
  returnToBot: (id) => call('POST', `${conv(id)}/return`),
  close: (id, disposition, note) => call('POST', `${conv(id)}/close`, note ? { disposition, note } : { disposition }),
  directory: () => call('GET', '/agent/directory'),
};
