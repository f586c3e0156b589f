// The widget's side of the /chat socket.io namespace: starts or resumes the conversation, sends the outbox in
// order (a retry reuses the clientMessageId, so the server answers it once), and reports what happens.
import { io } from './socket.io.esm.min.js';

const ACK_TIMEOUT_MS = 20_000;
const RETRY_MS = 3_000;
// Messages a resume answers with at most (the store's page): a full page means there may be more.
const HISTORY_PAGE = 500;
// A resync reaches every widget on a server at once: each waits up to this long, at random, before it asks.
const RESYNC_SPREAD_MS = 2_000;
// A closed conversation still shows on a new page this long, so its customer can rate it after a reload.
const FORGET_CLOSED_AFTER_MS = 10 * 60_000;
// Worth trying again later; anything else means this message can never be sent as it is.
const TRANSIENT = new Set(['TIMEOUT', 'KEFU_INTERNAL', 'KEFU_NOT_READY', 'KEFU_RATE_LIMITED']);
// A limit's allowance refills over a minute: a refused message waits longer than a server restarting would need.
const RATE_LIMITED_RETRY_MS = 15_000;
// The stored conversation is gone, over, or no longer ours (its token was signed with an older server secret):
// start a new one and send there.
const CONVERSATION_GONE = new Set(['KEFU_CONVERSATION_NOT_FOUND', 'KEFU_CONVERSATION_CLOSED', 'KEFU_CONVERSATION_EXPIRED', 'KEFU_FORBIDDEN', 'KEFU_UNAUTHORIZED']);

/**
 * Connects to the kefu server. `emit(type, data)` reports: 'connection' (online|offline), 'conversation'
 * (a conversation, with fresh: true when a new one replaced an older one), 'messages' (a list to merge),
 * 'pending' / 'failed' (an outbox entry and why it failed), 'typing' ({ author: 'bot'|'agent', typing }: the bot
 * working out a slow answer, or the agent writing), 'queue' (the
 * customer's QueuePosition while the conversation waits for an agent, null when it no longer does).
 */
export function createChatClient({ server, locale, storage, emit, identityToken = null, identityUrl = null }) {
  // `locale()`: the language the customer wants answers in now (the page's, or the one they switched to).
  const url = new URL(server);
  const socket = io(`${url.origin}/chat`, { path: `${url.pathname.replace(/\/$/, '')}/socket.io` });
  let conversation = null; // as last seen from the server
  let joined = false; // resumed or started on the current connection
  let lastSeq = 0; // highest seq shown on this page, so a reconnect asks only for what it missed
  let pumping = false;
  let retryTimer = null; // pump's own: the outbox is tried again
  let startTimer = null; // a refused start is tried again
  let startFailures = 0; // starts refused in a row
  let startAgainAt = 0; // no start before this (performance.now(), which a clock change does not move): the back-off holds whoever asks, pump included
  let missingAfter = null; // history paging stopped after this seq: a resume asks from there, not from lastSeq
  let wanted = false; // the panel has been opened: have a conversation ready, with its greeting
  let resumed = Promise.resolve(); // settles when this connection has resumed the stored conversation (or found none)

  const call = (event, payload) =>
    new Promise((resolve) => {
      socket.timeout(ACK_TIMEOUT_MS).emit(event, payload, (err, res) => {
        resolve(err ? { ok: false, error: { code: 'TIMEOUT', message: String(err.message ?? err) } } : res);
      });
    });
  const auth = () => storage.conversation();

  // Signed in on the bank's site: the conversation is that customer's. Another customer's (a shared computer), or a
  // signed-in one's on a page where nobody is signed in, is not resumed here, and what they left unsent is not sent
  // for this one. The subject is read, not checked: the server checks the token.
  let identity = identityToken;
  const ownerNow = () => (identity ? subjectOf(identity) : null);
  // With the bank's identity URL, a fresh token before each start (a page may stay open longer than a token lives).
  async function refreshIdentity() {
    if (!identityUrl) return;
    try {
      const res = await fetch(identityUrl, { credentials: 'include', cache: 'no-store' });
      if (res.ok) identity = (await res.text()).trim() || null;
      else if (res.status === 401 || res.status === 403 || res.status === 404) identity = null; // signed out
    } catch {
      // Unreachable for now: the token already held, if any, is tried; the server says if it is too old.
    }
  }
  const identityChecked = refreshIdentity().then(() => {
    if ((auth() || storage.outbox().length > 0) && storage.conversationOwner() !== ownerNow()) {
      storage.forgetConversation();
      storage.clearOutbox();
    }
  });

  let position = null; // the last QueuePosition shown, while queued
  const showPosition = (p) => {
    position = p;
    emit('queue', p);
  };
  // Where a queued conversation stands is pushed only when it changes: after a (re)join, ask for it once.
  async function fetchPosition() {
    const a = auth();
    if (!a || conversation?.state !== 'queued' || conversation.id !== a.conversationId) return;
    const r = await call('queue:position', a);
    if (r.ok && conversation?.state === 'queued' && conversation.id === a.conversationId) showPosition(r.position ?? null);
  }

  const setConversation = (c, fresh = false) => {
    if (conversation && c.id !== conversation.id) (lastSeq = 0), (missingAfter = null);
    const requeued = c.state === 'queued' && conversation?.id === c.id && conversation.state !== 'queued';
    conversation = c;
    emit('conversation', { conversation: c, fresh });
    if (c.state !== 'queued' && position) showPosition(null);
    // Back in the queue (an agent left, or passed it on): where it stands now is asked for, not waited for (the
    // server pushes a place only when it changes, and this one may be the same as the last one pushed).
    if (requeued && joined) void fetchPosition();
  };
  const showMessages = (messages) => {
    const mine = messages.filter((m) => !conversation || m.conversationId === conversation.id);
    for (const m of mine) lastSeq = Math.max(lastSeq, m.seq);
    if (mine.length > 0) emit('messages', mine);
  };

  async function resume() {
    const a = auth();
    if (!a) return;
    const r = await call('conversation:resume', { ...a, afterSeq: (missingAfter ?? lastSeq) || undefined });
    if (auth()?.conversationId !== a.conversationId) return; // another tab moved on meanwhile
    if (!r.ok) {
      if (CONVERSATION_GONE.has(r.error.code)) storage.forgetConversation();
      return;
    }
    // A conversation that is over and rated, or over for a while (the server closes idle ones), is history: a fresh
    // page starts clean, and on a shared computer the next person does not find the last one's chat.
    const over = r.conversation.state === 'closed' && (r.conversation.rating || Date.now() - Date.parse(r.conversation.closedAt ?? '') > FORGET_CLOSED_AFTER_MS);
    if (over && lastSeq === 0 && !conversation) {
      storage.forgetConversation();
      return;
    }
    joined = true;
    setConversation(r.conversation);
    showMessages(r.messages);
    await restOfHistory(a, r.messages);
    void fetchPosition();
    void followLocale();
  }

  // The server answers a page at a time from the oldest: a long chat (an agent's, say) needs the rest too. Paged by
  // the last seq of each page, not by lastSeq: a live message pushed between two pages would skip what lies between.
  // A page that fails leaves its place in missingAfter, so the next resume (a reconnect) fills the gap.
  async function restOfHistory(a, firstPage) {
    missingAfter = null;
    for (let page = firstPage; page.length >= HISTORY_PAGE && auth()?.conversationId === a.conversationId; ) {
      const after = page[page.length - 1].seq;
      const more = await call('conversation:resume', { ...a, afterSeq: after });
      if (!more.ok) {
        missingAfter = after;
        return;
      }
      showMessages(more.messages);
      page = more.messages;
    }
  }

  // The conversation answers in the language the customer chose last (on this page, another page of the site, or
  // while its start was on the way).
  const followLocale = () => (conversation && conversation.state !== 'closed' && conversation.locale !== locale() ? setLocale(locale()) : undefined);

  async function setLocale(next) {
    const a = auth();
    if (!joined || !a || !conversation || conversation.state === 'closed' || conversation.locale === next) return;
    const r = await call('conversation:locale', { ...a, locale: next });
    if (r.ok && conversation?.id === r.conversation.id) setConversation(r.conversation);
  }

  // One start at a time: the panel opening, the outbox and a reconnect may all ask at once.
  let starting = null;
  function ensureConversation() {
    if (joined && conversation && conversation.state !== 'closed') return Promise.resolve(true);
    if (performance.now() < startAgainAt) return Promise.resolve(false); // startTimer comes back then
    starting ??= startConversation().finally(() => (starting = null));
    return starting;
  }
  async function startConversation(fetchIdentity = true) {
    const hadOne = conversation !== null;
    if (fetchIdentity) await refreshIdentity();
    // Another tab may have started one: its token (shared in storage) lets this tab join it.
    const token = auth()?.token;
    const r = await call('conversation:start', {
      customerId: storage.customerId(), locale: locale(), resume: true, ...(token ? { token } : {}), ...(identity ? { identityToken: identity } : {}),
    });
    if (!r.ok && r.error.code === 'KEFU_IDENTITY_INVALID' && identity) {
      // Expired (the page stayed open past its life) or refused: the customer is still served, as one not signed in.
      identity = null;
      return startConversation(false);
    }
    if (!r.ok) {
      // Refused or unanswered (the server restarting, too many starts from this address): try again shortly rather
      // than leave the outbox waiting for a reconnect that may never come, backing off, so a refusal that lasts does
      // not spend this address's allowance of starts.
      startFailures++;
      const wait = Math.min(60_000, RETRY_MS * 2 ** (startFailures - 1));
      startAgainAt = performance.now() + wait;
      clearTimeout(startTimer);
      startTimer = setTimeout(() => (storage.outbox().length > 0 ? pump() : wanted && !conversation && ensureConversation()), wait);
      return false;
    }
    startFailures = 0;
    startAgainAt = 0;
    storage.saveConversation(r.conversation.id, r.token, ownerNow());
    joined = true;
    setConversation(r.conversation, hadOne && r.conversation.id !== conversation?.id);
    showMessages(r.messages);
    // Resumed (another tab's conversation) with a long history: the rest of it too.
    if (r.resumed) await restOfHistory({ conversationId: r.conversation.id, token: r.token }, r.messages);
    void fetchPosition();
    void followLocale();
    return true;
  }

  // Sends the outbox one message at a time, oldest first, while connected.
  async function pump() {
    if (pumping || !socket.connected) return;
    pumping = true;
    clearTimeout(retryTimer);
    try {
      await resumed; // never start a conversation while the stored one may still come back
      let restarts = 0;
      while (socket.connected) {
        const entry = storage.outbox()[0];
        if (!entry) break;
        if (!(await ensureConversation())) break;
        const r = await call('message:send', { ...auth(), text: entry.text, clientMessageId: entry.clientMessageId });
        if (r.ok) {
          storage.dropOutbox(entry.clientMessageId);
          setConversation(r.conversation);
          showMessages(r.reply ? [r.customer, r.reply] : [r.customer]);
          continue;
        }
        const code = r.error.code;
        if (TRANSIENT.has(code)) {
          retryTimer = setTimeout(pump, code === 'KEFU_RATE_LIMITED' ? RATE_LIMITED_RETRY_MS : RETRY_MS);
          break;
        }
        if (CONVERSATION_GONE.has(code) && restarts++ < 2) {
          storage.forgetConversation();
          joined = false;
          if (conversation) conversation = { ...conversation, state: 'closed' };
          continue;
        }
        storage.dropOutbox(entry.clientMessageId);
        emit('failed', { clientMessageId: entry.clientMessageId, code });
      }
    } finally {
      pumping = false;
    }
  }

  socket.on('connect', async () => {
    emit('connection', 'online');
    joined = false;
    resumed = identityChecked.then(resume);
    await resumed;
    if (wanted && !conversation) await ensureConversation();
    void pump();
  });
  socket.on('disconnect', () => {
    joined = false;
    emit('connection', 'offline');
  });
  // The server missed pushes for a while (its link to the other servers broke): fetch what came meanwhile, as after a
  // reconnect. After any resume still running (never two at once: each would page from its own idea of what is
  // missing), and a moment later at random, so that every widget told at once does not ask at once.
  socket.on('resync', async () => {
    await new Promise((resolve) => setTimeout(resolve, Math.random() * RESYNC_SPREAD_MS));
    for (let running = resumed; ; running = resumed) {
      await running;
      if (resumed === running) break; // nothing started meanwhile
    }
    if (joined) resumed = resume();
  });
  socket.on('message', ({ message }) => showMessages([message]));
  socket.on('conversation:state', ({ conversation: c }) => {
    if (conversation && c.id === conversation.id) setConversation(c);
  });
  socket.on('queue:position', ({ conversationId, position: p }) => {
    if (conversation && conversationId === conversation.id && conversation.state === 'queued') showPosition(p);
  });
  for (const author of ['bot', 'agent']) {
    socket.on(`${author}:typing`, ({ conversationId, typing }) => {
      if (conversation && conversationId === conversation.id) emit('typing', { author, typing });
    });
  }

  // Actions that need a conversation first (asking for a person can be the very first thing a customer does).
  const act = async (event, extra) => {
    if (!socket.connected) return null;
    await resumed;
    if (event === 'handoff:request' ? !(await ensureConversation()) : !joined) return null;
    const r = await call(event, { ...auth(), ...extra });
    if (r.ok && r.conversation) setConversation(r.conversation);
    if (r.ok && r.notice) showMessages([r.notice]);
    return r;
  };

  // Messages left over from an earlier page (sent but never acknowledged) show as pending and go out again.
  for (const entry of storage.outbox()) emit('pending', entry);

  return {
    /** The customer opened the chat: start (or resume) the conversation now rather than at the first message. */
    async open() {
      wanted = true;
      if (!socket.connected) return; // the connect handler sees `wanted`
      await resumed;
      // An ended conversation stays on screen (with its rating) until the customer writes again.
      if (!conversation) await ensureConversation();
    },
    /** Queues a customer message; it is sent now if connected, else on reconnect. */
    send(text) {
      const entry = { clientMessageId: storage.newMessageId(), text };
      storage.pushOutbox(entry, ownerNow());
      emit('pending', entry);
      void pump();
    },
    typing(on) {
      if (joined && conversation && conversation.state !== 'closed') socket.emit('typing', { ...auth(), typing: on });
    },
    /** The customer switched language: the open conversation is answered in `next` from now on (a new one starts in it). */
    setLocale,
    requestHuman: () => act('handoff:request', {}),
    end: () => act('conversation:end', {}),
    rate: (stars, comment) => act('rating:conversation', { stars, ...(comment ? { comment } : {}) }),
    /** Leaves a message for a call back (offered while nobody is on duty); resolves to the ack (null if offline). */
    async requestCallback(text, contactTime) {
      const r = await act('callback:request', { text, ...(contactTime ? { contactTime } : {}) });
      // It is now a callback ticket: no place in the live queue (the server pushes none for tickets).
      if (r?.ok && conversation?.state === 'queued') showPosition({ ...(position ?? {}), conversationId: conversation.id, kind: 'callback', position: 0, expectedWaitSeconds: 0, callbackOffered: false });
      return r;
    },
    async rateAnswer(messageId, feedback) {
      const r = await act('rating:answer', { messageId, feedback });
      if (r?.ok) emit('messages', [r.message]);
      return r;
    },
  };
}

/** The `sub` of a JWT, unchecked (null when it has none or is not one). */
function subjectOf(jwt) {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = new TextDecoder().decode(Uint8Array.from(atob(part.padEnd(Math.ceil(part.length / 4) * 4, '=')), (c) => c.charCodeAt(0)));
    const sub = JSON.parse(json).sub;
    return typeof sub === 'string' ? sub : null;
  } catch {
    return null;
  }
}
