// One conversation in a tab: the history with each bot turn's trace, the customer, suggested replies, the
// composer (message or internal note), and what the holder can do with it (transfer, return to bot, close).
import { h } from '/widget/dom.js';
import { api, newMessageId } from './api.js';
import { AUTHOR, CHANNEL, DISPOSITION, STATE, TRIGGER, clock, duration, errorText, groupLabel, percent } from './labels.js';
import { traceDetails } from './trace-details.js';

/** Creates the view of conversation `id` for `me`; `onEnded(id)` when it leaves my hands (returned, closed, transferred). */
export function createConversationView(id, { me, socket, onEnded, toast }) {
  let detail = null;
  let readAt = 0; // performance.now() when `detail` was read: its timers are as of then
  const seen = new Set();
  // New messages are read out here, and only here (not the whole console, whose timers tick every few seconds).
  const history = h('ol', { class: 'history', 'aria-label': '對話紀錄', tabindex: 0, role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions' });
  const notes = h('ul', { class: 'notes', 'aria-label': '內部備註' });
  const header = h('header', { class: 'conv-header' });
  const customer = h('section', { class: 'card customer', 'aria-label': '客戶資料' });
  const suggestions = h('ul', { class: 'suggestions', 'aria-label': '建議回覆' });
  const typing = h('p', { class: 'typing', 'aria-live': 'polite' });
  const status = h('p', { class: 'status', role: 'status' });

  const composer = h('textarea', { id: `composer-${id}`, rows: 3, placeholder: '輸入要傳給客戶的訊息（Ctrl+Enter 送出）' });
  const noteMode = h('input', { type: 'checkbox', id: `note-mode-${id}` });
  const sendButton = h('button', { type: 'submit', class: 'primary' }, '傳送');
  const form = h('form', { class: 'composer', onSubmit: (e) => { e.preventDefault(); void submit(); } },
    h('label', { for: `composer-${id}`, class: 'sr-only' }, '訊息'),
    composer,
    h('div', { class: 'composer-row' },
      h('label', { class: 'note-toggle' }, noteMode, ' 內部備註（不會傳給客戶）'),
      sendButton));
  noteMode.addEventListener('change', () => {
    form.classList.toggle('note', noteMode.checked);
    sendButton.textContent = noteMode.checked ? '新增備註' : '傳送';
    composer.placeholder = noteMode.checked ? '只有專員看得到的備註（Ctrl+Enter 新增）' : '輸入要傳給客戶的訊息（Ctrl+Enter 送出）';
  });
  let typingTimer = null;
  composer.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      void submit();
    }
  });
  composer.addEventListener('input', () => {
    if (noteMode.checked || !holding()) return;
    if (!typingTimer) socket.emit('typing', { conversationId: id, typing: true });
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => {
      typingTimer = null;
      socket.emit('typing', { conversationId: id, typing: false });
    }, 2000);
  });

  const actions = h('section', { class: 'card actions', 'aria-label': '處理對話' });
  const el = h('div', { class: 'conversation', 'data-conversation-id': id },
    h('div', { class: 'conv-main' }, header, history, typing, status, form),
    h('div', { class: 'conv-side' },
      customer,
      h('section', { class: 'card', 'aria-labelledby': `sugg-${id}` },
        h('h3', { id: `sugg-${id}` }, '建議回覆'), suggestions),
      actions,
      h('section', { class: 'card', 'aria-labelledby': `notes-${id}` }, h('h3', { id: `notes-${id}` }, '內部備註'), notes)));

  const holding = () => detail?.conversation.state === 'agent' && currentHandoff()?.agentId === me.id;
  const currentHandoff = () => detail?.handoffs.at(-1) ?? null;

  function say(text, kind = 'info') {
    status.textContent = text;
    status.className = `status ${kind}`;
  }

  function messageItem(m) {
    const who = m.author === 'agent' ? `專員${m.agentName ? ` ${m.agentName}` : ''}` : AUTHOR[m.author] ?? m.author;
    return h('li', { class: `msg msg-${m.author}`, 'data-message-id': m.id, 'data-seq': m.seq },
      h('div', { class: 'msg-meta' }, h('span', { class: 'who' }, who), h('time', { datetime: m.createdAt }, clock(m.createdAt))),
      h('div', { class: 'bubble' }, m.text),
      m.author === 'bot' ? traceDetails(m.outcome) : null);
  }

  // In seq order wherever it comes from (a push, a reload, a catch-up after a gap), once; `suggest`: fetch suggested
  // replies for a new customer message (not for each one a reload replays).
  function addMessage(m, { suggest = true } = {}) {
    if (seen.has(m.id)) return;
    seen.add(m.id);
    const atBottom = history.scrollHeight - history.scrollTop - history.clientHeight < 40;
    const later = [...history.children].find((li) => Number(li.dataset.seq) > m.seq);
    history.insertBefore(messageItem(m), later ?? null);
    if (atBottom) history.scrollTop = history.scrollHeight;
    if (suggest && m.author === 'customer') void loadSuggestions();
  }

  function addNote(n) {
    if (seen.has(n.id)) return;
    seen.add(n.id);
    notes.append(h('li', { class: 'note' },
      h('div', { class: 'msg-meta' }, h('span', { class: 'who' }, `備註 · ${n.agentName ?? ''}`), h('time', { datetime: n.createdAt }, clock(n.createdAt))),
      h('div', {}, n.text)));
  }

  function renderHeader() {
    const c = detail.conversation;
    const ho = currentHandoff();
    header.replaceChildren(
      h('h2', {}, `客戶 ${c.customerId.slice(-6)}`),
      h('span', { class: `badge state-${c.state}` }, STATE[c.state] ?? c.state),
      h('span', { class: 'meta' }, `${CHANNEL[c.channel] ?? c.channel} · ${c.locale}`,
        ho ? ` · ${TRIGGER[ho.trigger] ?? ho.trigger} · 群組 ${ho.group}` : '',
        ho?.timers.waitSeconds != null ? ` · 等候 ${duration(ho.timers.waitSeconds)}` : '',
        ho?.timers.handlingSeconds != null ? ` · 處理 ${duration(handlingNow(ho))}` : ''));
  }
  // While someone serves it, handling time runs on between reads (the server counted it when it was read).
  const handlingNow = (ho) =>
    ho.timers.handlingSeconds + (detail.conversation.state === 'agent' && ho.status === 'claimed' ? Math.floor((performance.now() - readAt) / 1000) : 0);
  const ticker = setInterval(() => {
    if (!el.isConnected && detail) return clearInterval(ticker); // the tab was closed
    if (detail && detail.conversation.state === 'agent') renderHeader();
  }, 5000);

  function renderCustomer() {
    const { customer: cu } = detail;
    const p = cu.profile;
    customer.replaceChildren(
      h('h3', {}, '客戶資料'),
      h('dl', {},
        h('dt', {}, '身分'), h('dd', {}, cu.verified ? '已驗證' : '未驗證'),
        p?.displayName ? [h('dt', {}, '姓名'), h('dd', {}, p.displayName)] : null,
        ...Object.entries(p?.data ?? {}).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
        h('dt', {}, '客戶編號'), h('dd', { class: 'mono' }, cu.customerId)),
      cu.verified ? null : h('p', { class: 'hint' }, '客戶尚未驗證身分，請勿透露帳戶資料。'));
  }

  let directory = null;
  async function renderActions() {
    const mine = holding();
    composer.disabled = !mine;
    sendButton.disabled = !mine;
    if (!mine) {
      const c = detail.conversation;
      actions.replaceChildren(h('h3', {}, '處理對話'),
        h('p', { class: 'hint' }, c.state === 'closed' ? '此對話已結束。' : '此對話不在您手上，只能檢視。'),
        c.state === 'bot' || c.state === 'queued'
          ? h('button', { type: 'button', class: 'primary', onClick: () => void claimHere() }, c.state === 'bot' ? '接管對話' : '接手')
          : null);
      return;
    }
    directory ??= await api.directory().catch(() => ({ agents: [], groups: [] }));
    const target = h('select', { id: `transfer-${id}` },
      h('optgroup', { label: '群組' }, ...directory.groups.map((g) => h('option', { value: `group:${g}` }, groupLabel(g)))),
      h('optgroup', { label: '專員' }, ...directory.agents.filter((a) => a.id !== me.id && a.role !== 'trainer')
        .map((a) => h('option', { value: `agent:${a.id}` }, `${a.displayName}（${a.status === 'available' ? '上線' : a.status === 'away' ? '離開' : '離線'}）`))));
    const disposition = h('select', { id: `disposition-${id}` },
      ...Object.entries(DISPOSITION).map(([value, label]) => h('option', { value }, label)));
    actions.replaceChildren(h('h3', {}, '處理對話'),
      h('div', { class: 'action-row' },
        h('label', { for: `transfer-${id}` }, '轉接給'), target,
        h('button', { type: 'button', onClick: () => void act('轉接', () => {
          const [kind, value] = target.value.split(':');
          return api.transfer(id, kind === 'group' ? { group: value } : { agentId: value });
        }) }, '轉接')),
      h('div', { class: 'action-row' },
        h('button', { type: 'button', onClick: () => void act('交還機器人', () => api.returnToBot(id)) }, '交還機器人')),
      h('div', { class: 'action-row' },
        h('label', { for: `disposition-${id}` }, '結案原因'), disposition,
        h('button', { type: 'button', class: 'danger', onClick: () => void act('結案', () => api.close(id, disposition.value)) }, '結束對話')));
  }

  async function act(label, run) {
    try {
      await run();
      toast(`${label}完成`);
      onEnded(id);
    } catch (err) {
      say(`${label}失敗：${errorText(err)}`, 'error');
    }
  }

  async function claimHere() {
    try {
      await api.claim(id);
      await load();
    } catch (err) {
      say(errorText(err), 'error');
    }
  }

  async function loadSuggestions() {
    try {
      const { suggestions: list, message } = await api.suggestions(id, 3);
      if (!list.length) return suggestions.replaceChildren(h('li', { class: 'empty' }, message ? '沒有合適的建議' : '客戶尚未發問'));
      suggestions.replaceChildren(...list.map((s) => h('li', {},
        h('button', {
          type: 'button', class: 'suggestion', title: '插入到訊息框（可先編輯再送出）',
          onClick() {
            noteMode.checked = false;
            noteMode.dispatchEvent(new Event('change'));
            composer.value = composer.value ? `${composer.value}\n${s.answer}` : s.answer;
            composer.focus();
          },
        },
        h('span', { class: 'sugg-title' }, s.title, ' ', h('span', { class: 'conf' }, percent(s.confidence))),
        h('span', { class: 'sugg-answer' }, s.answer)))));
    } catch (err) {
      suggestions.replaceChildren(h('li', { class: 'empty' }, errorText(err)));
    }
  }

  // The id of the message being sent: kept while its text is unchanged, so sending again after a failure (the
  // answer lost on the way back, say) cannot give the customer the same message twice.
  let outgoing = null;
  async function submit() {
    const text = composer.value.trim();
    if (!text) return;
    sendButton.disabled = true;
    try {
      if (noteMode.checked) {
        const { note } = await api.note(id, text);
        addNote({ ...note, agentName: note.agentName ?? me.displayName });
      } else {
        if (outgoing?.text !== text) outgoing = { text, clientMessageId: newMessageId() };
        const { message } = await api.send(id, text, outgoing.clientMessageId);
        outgoing = null;
        addMessage(message);
        history.scrollTop = history.scrollHeight;
        if (typingTimer) {
          clearTimeout(typingTimer);
          typingTimer = null;
          socket.emit('typing', { conversationId: id, typing: false });
        }
      }
      composer.value = '';
      say('');
    } catch (err) {
      say(errorText(err), 'error');
    } finally {
      sendButton.disabled = !holding();
      composer.focus();
    }
  }

  // Each read of the conversation is numbered: one that answers after a newer one is dropped, not shown over it.
  let reads = 0;
  async function read() {
    const n = ++reads;
    const d = await api.detail(id);
    if (n !== reads) return null;
    // Merged into what is shown, never replacing it: a message pushed (or sent from here) while the read was on its
    // way stays, and what the read brings that was missed falls into place by seq.
    for (const m of d.messages) addMessage(m, { suggest: false });
    for (const note of d.notes) addNote(note);
    const before = detail;
    detail = d;
    readAt = performance.now();
    renderHeader();
    renderCustomer();
    return { before };
  }

  async function load() {
    if ((await read()) === null) return;
    history.scrollTop = history.scrollHeight;
    await renderActions();
    await loadSuggestions();
  }

  /** Fetches what may have been missed (after a reconnect or a resync), leaving the actions as they are unless who holds it changed. */
  async function catchUp() {
    const shown = seen.size;
    const r = await read();
    if (r === null) return;
    const holderOf = (x) => `${x?.conversation.state}:${x?.handoffs.at(-1)?.agentId ?? ''}`;
    if (holderOf(r.before) !== holderOf(detail)) await renderActions();
    if (seen.size > shown) await loadSuggestions();
  }

  return {
    el,
    id,
    load,
    catchUp,
    focus: () => (composer.disabled ? history : composer).focus(),
    /** Whether I hold this conversation now. */
    holds: () => holding(),
    message(m) {
      addMessage(m);
      if (m.author === 'customer') typing.textContent = '';
    },
    note: addNote,
    async state(conversation) {
      if (!detail) return;
      const was = detail.conversation.state;
      detail.conversation = conversation;
      if (was !== conversation.state) await load().catch((err) => say(errorText(err), 'error'));
    },
    customerTyping(on) {
      typing.textContent = on ? '客戶正在輸入…' : '';
    },
  };
}
