// What the widget remembers in localStorage, per kefu server: the customer's browser id, the open conversation
// and its token, messages not yet acknowledged (the outbox), and display preferences.
// Storage can be unavailable (private mode, blocked cookies); then it lives in memory for this page only.

function randomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function backend() {
  try {
    const probe = '__kefu_probe__';
    localStorage.setItem(probe, probe);
    localStorage.removeItem(probe);
    return localStorage;
  } catch {
    const mem = new Map();
    return { getItem: (k) => mem.get(k) ?? null, setItem: (k, v) => void mem.set(k, String(v)), removeItem: (k) => void mem.delete(k) };
  }
}

/** Opens the widget's storage for one kefu server. */
export function createStorage(server) {
  const store = backend();
  const key = `kefu:${server}`;
  const read = () => {
    try {
      return JSON.parse(store.getItem(key) ?? '{}') ?? {};
    } catch {
      return {};
    }
  };
  const write = (data) => {
    try {
      store.setItem(key, JSON.stringify(data));
    } catch {
      // Quota exceeded: the conversation still works, it just will not survive a reload.
    }
  };
  const update = (patch) => write({ ...read(), ...patch });

  if (!read().customerId) update({ customerId: randomId() });

  return {
    newMessageId: randomId,
    customerId: () => read().customerId,
    /** The conversation this browser is in: { conversationId, token } or null. */
    conversation: () => {
      const d = read();
      return d.conversationId && d.token ? { conversationId: d.conversationId, token: d.token } : null;
    },
    /** Whose the conversation and the outbox are: the signed-in customer (the identity token's subject), or null. */
    conversationOwner: () => read().owner ?? null,
    saveConversation: (conversationId, token, owner = null) => update({ conversationId, token, owner }),
    forgetConversation: () => update({ conversationId: null, token: null, owner: null }),
    outbox: () => read().outbox ?? [],
    /** Queues a message to send, written by `owner` (see conversationOwner). */
    pushOutbox: (entry, owner = null) => update({ outbox: [...(read().outbox ?? []), entry], owner }),
    clearOutbox: () => update({ outbox: [] }),
    dropOutbox: (clientMessageId) => update({ outbox: (read().outbox ?? []).filter((e) => e.clientMessageId !== clientMessageId) }),
    prefs: () => ({ lang: null, large: false, open: false, ...(read().prefs ?? {}) }),
    savePrefs: (patch) => update({ prefs: { ...(read().prefs ?? {}), ...patch } }),
    /** Calls `listener` when another tab of this site changes what is stored (the browser tells no tab of its own writes). */
    onOtherTab: (listener) => {
      if (store !== globalThis.localStorage) return; // kept in memory: no other tab shares it
      addEventListener('storage', (e) => {
        if (e.storageArea === store && (e.key === key || e.key === null)) listener();
      });
    },
  };
}
