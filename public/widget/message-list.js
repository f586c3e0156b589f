// The conversation as a list: messages in seq order, customer messages still waiting for the server at the end,
// one element per message however often the server sends it (ack, room push, resume), so nothing shows twice.
// The list is an aria-live log, so elements are updated in place rather than replaced: a screen reader announces
// each message once, not again when it is acknowledged or rated.
import { h, srOnly } from './dom.js';

/**
 * Renders messages into `list` (an <ol role="log">). `actions.quickReply(title)` and
 * `actions.feedback(messageId, 'up'|'down')` are called on clicks.
 */
const HAN = /[\u3400-\u9fff\uf900-\ufaff]/g;
const LATIN_WORD = /[A-Za-z]+/g;
/**
 * 'zh' or 'en', whichever the text is mostly in: a Chinese character weighs as much as an English word, so an
 * English answer naming 凱福銀行 reads as English and 我要開 account as Chinese.
 */
const textLang = (text) => ((text.match(HAN)?.length ?? 0) >= (text.match(LATIN_WORD)?.length ?? 0) ? 'zh' : 'en');

export function createMessageList(list, actions) {
  let t = null;
  const messages = new Map(); // id → message
  const pending = new Map(); // clientMessageId → { entry, code }
  const elements = new Map(); // message id, or 'c:' + clientMessageId while pending → <li>
  const dividers = [];
  // Quick replies are spent once the customer has answered them: chose one, or wrote anything after them. Written
  // after is read from the history (a later customer message of the same conversation), so a reload, which brings
  // the history back from the server, shows them as they were, with nothing kept in the browser. An earlier
  // conversation's are spent too, once another has started: pressed, they would ask their question in the new one,
  // which never offered it (and whose bot no longer has the context it was offered in).
  const answered = new Set(); // ids of messages whose quick replies are spent
  const offered = new Set(); // ids of messages whose quick replies are still on offer
  const lastAsked = new Map(); // conversation id → seq of its latest customer message shown
  let current = null; // the conversation the widget is in: only its answers can be rated
  const greeting = h('li', { class: 'msg msg-bot greeting' });
  list.append(greeting);

  // The server takes a rating only with the token of the answer's own conversation, which the widget no longer holds
  // once another has started: thumbs pressed there would fail unseen.
  const isPast = (m) => current !== null && m.conversationId !== current;

  function body(m) {
    const canRate = m.author === 'bot' && m.outcome?.outcome === 'answer';
    const thumb = (feedback, icon, label) =>
      h('button', {
        type: 'button', class: 'thumb', 'data-feedback': feedback, 'aria-label': label, title: label,
        'aria-pressed': String(m.feedback === feedback), disabled: isPast(m), onclick: () => actions.feedback(m.id, feedback),
      }, icon);
    // An agent's words come under their name (王小明：…), as a person's would; the bot and notices speak unnamed.
    const named = m.author === 'agent' && m.agentName;
    return [
      srOnly(named ? `${t.author.agent} ` : `${t.author[m.author]}：`),
      // Its own language, not the panel's: a screen reader then reads a Chinese answer with a Chinese voice in the
      // English UI, and the other way round.
      h('div', { class: 'bubble', lang: textLang(m.text) }, named ? [h('span', { class: 'agent-name' }, `${m.agentName}：`), m.text] : m.text),
      m.outcome?.needsVerification ? h('p', { class: 'note' }, t.verify) : null,
      m.quickReplies.length > 0
        ? h('div', { class: 'quick-replies', role: 'group', 'aria-label': t.suggestions },
            m.quickReplies.map((q) => h('button', {
              type: 'button', class: 'quick-reply', 'aria-disabled': answered.has(m.id) ? 'true' : null,
              onclick: () => choose(m, q.title),
            }, q.title)))
        : null,
      canRate ? h('div', { class: 'thumbs' }, thumb('up', '👍', t.helpful), thumb('down', '👎', t.notHelpful)) : null,
    ];
  }

  // One choice per message: a double click, or Enter pressed twice, must not ask twice (each press would be a new
  // message).
  function choose(m, title) {
    if (answered.has(m.id)) return;
    spend(m);
    actions.quickReply(title);
  }
  // Changed in place, not re-rendered, so that nothing is read out again. aria-disabled, not disabled: a disabled
  // button would drop the keyboard focus to the page.
  function spend(m) {
    answered.add(m.id);
    offered.delete(m.id);
    for (const b of elements.get(m.id)?.querySelectorAll('.quick-reply') ?? []) b.setAttribute('aria-disabled', 'true');
  }
  // A customer message answers the quick replies before it in its conversation.
  function asked(m) {
    lastAsked.set(m.conversationId, Math.max(lastAsked.get(m.conversationId) ?? 0, m.seq));
    for (const id of offered) {
      const o = messages.get(id);
      if (o.conversationId === m.conversationId && o.seq < m.seq) spend(o);
    }
  }

  function fill(el, m) {
    el.className = `msg msg-${m.author}`;
    el.dataset.id = m.id;
    el.dataset.seq = String(m.seq);
    el.dataset.conversation = m.conversationId;
    patch(el, body(m).filter(Boolean));
    showFeedback(el, m);
  }

  // Puts `parts` in `el`, keeping each child that is already as it should be: one put back, even unchanged, is added
  // to the live log again and read out a second time (a customer's message when it is acknowledged, say).
  function patch(el, parts) {
    parts.forEach((part, i) => {
      const old = el.childNodes[i];
      if (!old) el.append(part);
      else if (!old.isEqualNode(part)) el.replaceChild(part, old);
    });
    while (el.childNodes.length > parts.length) el.lastChild.remove();
  }

  // Only the thumbs change on a stored message; the thanks is added (and so announced) once.
  function showFeedback(el, m) {
    for (const b of el.querySelectorAll('.thumb')) b.setAttribute('aria-pressed', String(b.dataset.feedback === m.feedback));
    const thumbs = el.querySelector('.thumbs');
    if (thumbs && m.feedback && !thumbs.querySelector('.feedback-thanks')) {
      thumbs.append(h('span', { class: 'feedback-thanks', role: 'status' }, t.feedbackThanks));
    }
  }

  function fillPending(el, { entry, code }) {
    el.className = `msg msg-customer pending${code ? ' failed' : ''}`;
    // The bubble as the acknowledged message will have it, so that it is kept then (see patch).
    patch(el, [
      srOnly(`${t.author.customer}：`),
      h('div', { class: 'bubble', lang: textLang(entry.text) }, entry.text),
      h('p', { class: 'note' }, code ? `${t.failed}：${t.errors[code] ?? t.errors.default}` : t.sending),
    ]);
  }

  // Messages still waiting for the server stay last; one that failed keeps its place in time.
  const isWaiting = (el) => el.classList.contains('pending') && !el.classList.contains('failed');

  // Where a message goes: before the first later message of its conversation, else before the waiting ones.
  function place(el, m) {
    for (const other of list.children) {
      if (other === el) continue;
      if (isWaiting(other) || (other.dataset.conversation === m.conversationId && Number(other.dataset.seq) > m.seq)) {
        if (el.nextSibling !== other) list.insertBefore(el, other);
        return;
      }
    }
    if (list.lastElementChild !== el) list.append(el);
  }

  return {
    /** Sets (or switches) the UI language, quietly re-rendering what is shown. */
    setText(text) {
      const first = t === null;
      t = text;
      // A language switch re-renders every message; the live region must not read them all out again.
      if (!first) list.setAttribute('aria-live', 'off');
      greeting.replaceChildren(srOnly(`${t.author.bot}：`), h('div', { class: 'bubble' }, t.greeting));
      for (const d of dividers) d.textContent = t.newConversation;
      for (const m of messages.values()) fill(elements.get(m.id), m);
      for (const p of pending.values()) fillPending(elements.get(`c:${p.entry.clientMessageId}`), p);
      if (!first) setTimeout(() => list.setAttribute('aria-live', 'polite'), 500);
    },
    /** Adds or updates a stored message; its pending copy, if shown, becomes it. */
    upsert(m) {
      const known = messages.has(m.id);
      messages.set(m.id, m);
      // The server's own greeting (the bot's first message, answering nothing) stands in for the built-in one.
      if (m.author === 'bot' && m.seq === 1 && !m.replyTo) greeting.hidden = true;
      if (known) return showFeedback(elements.get(m.id), m);
      const key = m.clientMessageId ? `c:${m.clientMessageId}` : null;
      const el = (key && elements.get(key)) || h('li');
      if (key && elements.has(key)) {
        pending.delete(m.clientMessageId);
        elements.delete(key);
      }
      elements.set(m.id, el);
      // Its answer may have come first (a push can overtake an acknowledgement), or it is an earlier conversation's:
      // spent at once.
      if (m.quickReplies.length > 0 && ((lastAsked.get(m.conversationId) ?? 0) > m.seq || isPast(m))) answered.add(m.id);
      else if (m.quickReplies.length > 0) offered.add(m.id);
      fill(el, m);
      place(el, m);
      if (m.author === 'customer') asked(m);
    },
    /** Shows a customer message not yet acknowledged, or (with a code) why it could not be sent. */
    pending(entry, code = null) {
      if ([...messages.values()].some((m) => m.clientMessageId === entry.clientMessageId)) return;
      const key = `c:${entry.clientMessageId}`;
      const p = { entry, code };
      pending.set(entry.clientMessageId, p);
      const el = elements.get(key) ?? list.appendChild(h('li'));
      elements.set(key, el);
      fillPending(el, p);
    },
    failed(clientMessageId, code) {
      const p = pending.get(clientMessageId);
      if (p) this.pending(p.entry, code);
    },
    /** The conversation the widget is now in: earlier ones' answers can no longer be rated, nor their quick replies chosen. */
    conversation(id) {
      current = id;
      // Changed in place, not re-rendered, so that nothing is read out again.
      for (const m of messages.values()) {
        for (const b of elements.get(m.id)?.querySelectorAll('.thumb') ?? []) b.disabled = isPast(m);
      }
      for (const mid of offered) {
        const o = messages.get(mid);
        if (isPast(o)) spend(o);
      }
    },
    /** Marks where a new conversation begins after an earlier one ended. */
    divider() {
      const el = h('li', { class: 'divider', role: 'separator' }, t.newConversation);
      dividers.push(el);
      list.insertBefore(el, [...list.children].find(isWaiting) ?? null);
    },
  };
}
