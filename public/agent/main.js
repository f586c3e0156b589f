// The agent console: sign in, then the queue and live lists on the left and the open conversations in tabs.
// Live updates come over the /agent socket.io namespace (the session cookie authenticates the handshake).
import { io } from '/widget/socket.io.esm.min.js';
import { h } from '/widget/dom.js';
import { api, ApiError, whenSignedOut } from './api.js';
import { errorText } from './labels.js';
import { renderLogin } from './login-form.js';
import { createQueuePanel } from './queue-panel.js';
import { createConversationTabs } from './conversation-tabs.js';
import { createConversationView } from './conversation-view.js';

const root = document.getElementById('app');

function signIn(notice) {
  renderLogin(root, { onSignedIn: startConsole, notice });
}

function startConsole(me) {
  const socket = io('/agent', { withCredentials: true, transports: ['websocket', 'polling'] });
  const toastEl = h('div', { class: 'toast', role: 'status', 'aria-live': 'polite' });
  let toastTimer = null;
  const toast = (text, kind = 'info') => {
    toastEl.textContent = text;
    toastEl.className = `toast show ${kind}`;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { toastEl.className = 'toast'; }, 4000);
  };

  // Conversations I still hold whose tab I closed: the customer's next message brings the tab back (in the
  // background, marked unread), so nothing they write is missed. Its room is still watched: closing never unwatches.
  const closedButHeld = new Map(); // id → tab label
  const tabs = createConversationTabs({
    createView: (id) => createConversationView(id, { me, socket, toast, onEnded: (cid) => tabs.close(cid) }),
    onUserClose: (id, view, label) => {
      if (view.holds()) closedButHeld.set(id, label);
    },
  });

  async function claim(id, label) {
    try {
      await api.claim(id);
      await tabs.open(id, label);
    } catch (err) {
      toast(errorText(err), 'error');
      if (err instanceof ApiError && err.code === 'KEFU_ALREADY_CLAIMED') refreshLists();
    }
  }

  const queue = createQueuePanel({ onClaim: (id, label) => void claim(id, label) });
  const connection = h('span', { class: 'connection', role: 'status' }, '連線中…');
  const status = h('select', { id: 'agent-status', 'aria-label': '我的狀態' },
    h('option', { value: 'available' }, '上線服務'), h('option', { value: 'away' }, '暫時離開'));
  let heldStatus = 'available'; // as the server last said
  status.addEventListener('change', () => socket.emit('status', { status: status.value }, (r) => {
    if (r?.ok) return;
    toast(errorText(r?.error ?? {}), 'error');
    status.value = heldStatus; // not what the server holds: show what it does
  }));
  const logout = h('button', { type: 'button', class: 'link', async onClick() {
    await api.logout().catch(() => null);
    teardown();
    signIn('已登出');
  } }, '登出');

  root.replaceChildren(
    h('header', { class: 'topbar' },
      h('h1', {}, 'kefu 專員工作台'),
      connection,
      h('span', { class: 'me' }, `${me.displayName}（${me.groups.length ? me.groups.join('、') : 'default'}）`),
      status, logout),
    h('div', { class: 'layout' }, queue.el, h('main', { class: 'main' }, tabs.el)),
    toastEl);

  function refreshLists() {
    socket.emit('queue:refresh', {}, (r) => r?.ok && queue.setQueue(r.items));
  }

  // Everything shown, fetched again: the queue, the live list, and the open conversations (what was said while this
  // console was offline, or while the server could not hear the others, was never pushed to it).
  let connectedBefore = false;
  function catchUp() {
    refreshLists();
    socket.emit('live:watch', {}, (r) => r?.ok && queue.setLive(r.conversations));
    for (const view of tabs.views()) void view.catchUp().catch(() => null);
    // Back after a break: a held conversation whose tab was closed is no longer watched, and may have news.
    for (const [id, label] of closedButHeld) {
      closedButHeld.delete(id);
      void tabs.open(id, label, { background: true }).catch(() => null);
    }
  }
  socket.on('connect', () => {
    connection.textContent = '已連線';
    connection.className = 'connection online';
    // The first time, the server pushes the queue by itself and the tabs load as they open.
    if (connectedBefore) catchUp();
    else socket.emit('live:watch', {}, (r) => r?.ok && queue.setLive(r.conversations));
    connectedBefore = true;
  });
  socket.on('resync', catchUp);
  socket.on('disconnect', () => {
    connection.textContent = '連線中斷，重新連線中…';
    connection.className = 'connection offline';
  });
  socket.on('connect_error', (err) => {
    if (err?.data?.code === 'KEFU_SESSION_REQUIRED' || err?.data?.code === 'KEFU_ROLE_FORBIDDEN') {
      teardown();
      signIn(errorText(err.data));
    }
  });
  socket.on('session:ended', () => {
    teardown();
    signIn('登入已結束，請重新登入');
  });
  // The server says which status holds (kept across reloads, shared by all of this agent's consoles).
  socket.on('status', ({ status: value }) => {
    heldStatus = value;
    status.value = value;
  });
  socket.on('queue', ({ items }) => queue.setQueue(items));
  socket.on('live:message', ({ conversation, message }) => queue.liveMessage(conversation, message));
  socket.on('live:state', ({ conversation }) => queue.liveState(conversation));
  socket.on('live:gone', ({ conversationId }) => queue.liveGone(conversationId));
  socket.on('conversation:message', ({ conversationId, message }) => {
    const view = tabs.view(conversationId);
    if (!view) {
      const label = closedButHeld.get(conversationId);
      if (label && message.author === 'customer') {
        closedButHeld.delete(conversationId);
        void tabs.open(conversationId, label, { background: true }).catch(() => null);
      }
      return;
    }
    view.message(message);
    if (message.author === 'customer') tabs.unread(conversationId);
  });
  socket.on('conversation:note', ({ conversationId, note }) => tabs.view(conversationId)?.note(note));
  socket.on('conversation:state', ({ conversation }) => void tabs.view(conversation.id)?.state(conversation));
  socket.on('customer:typing', ({ conversationId, typing }) => tabs.view(conversationId)?.customerTyping(typing));
  socket.on('conversation:assigned', ({ conversation }) => {
    // Transferred to me, or claimed in another of my tabs: open it here too.
    if (!tabs.has(conversation.id)) void tabs.open(conversation.id, `客戶 ${conversation.customerId.slice(-6)}`).catch(() => null);
  });
  socket.on('conversation:released', ({ conversation }) => {
    closedButHeld.delete(conversation.id);
    if (tabs.has(conversation.id)) {
      tabs.close(conversation.id);
      toast(`客戶 ${conversation.customerId.slice(-6)} 的對話已離開您手上`);
    }
  });

  whenSignedOut(() => {
    teardown();
    signIn('登入已逾時，請重新登入');
  });

  function teardown() {
    whenSignedOut(() => {});
    socket.removeAllListeners();
    socket.disconnect();
    queue.dispose();
  }

  // Reopen the conversations I hold (a reload, a second window).
  api.mine().then(
    ({ items }) => Promise.all(items.map((i) => tabs.open(i.conversation.id, `客戶 ${i.conversation.customerId.slice(-6)}`))),
    (err) => toast(errorText(err), 'error'),
  );
}

api.me().then(
  ({ agent }) => startConsole(agent),
  () => signIn(''),
);
