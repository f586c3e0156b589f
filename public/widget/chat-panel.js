// The launcher button and the chat panel: header tools (中文/EN, 大字, close), the message log, the typing
// indicator, the rating, the handoff and end buttons, and the composer.
import { h } from './dom.js';
import { uiText } from './i18n.js';
import { createMessageList } from './message-list.js';
import { createStarRating } from './star-rating.js';

const CALLBACK_MAX = 1000;

// The queue line, the line naming the agent, and the call-back form (kept here, with the code that draws them).
/**
 * Builds the widget's UI inside `shadow`. `actions` receives the customer's intents: send, quickReply, feedback,
 * handoff, callback, end, rate, typing, prefs, lang (the customer switched language). Returns the methods the controller updates it with.
 */
export function createChatPanel(shadow, { lang, large, open, title, actions }) {
  let t = uiText(lang);
  let currentLang = lang;
  let typingTimer = null;
  let typingAuthor = 'bot'; // who the typing indicator shows: the bot or the agent

  const launcherText = h('span', { class: 'launcher-text' });
  const launcher = h('button', { type: 'button', class: 'launcher', 'aria-controls': 'kefu-panel', onclick: () => setOpen(panel.hidden) },
    h('span', { class: 'launcher-icon', 'aria-hidden': 'true' }, '💬'), launcherText);
  const heading = h('h2', { id: 'kefu-title' });
  const langButton = h('button', { type: 'button', class: 'tool', onclick: () => switchLang() });
  const largeButton = h('button', { type: 'button', class: 'tool', 'aria-pressed': String(large), onclick: () => setLarge(!root.classList.contains('large')) });
  const closeButton = h('button', { type: 'button', class: 'tool close', onclick: () => (setOpen(false), launcher.focus()) }, '×');
  const status = h('p', { class: 'status', role: 'status', hidden: true });
  const log = h('ol', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-labelledby': 'kefu-title' });
  const typingLabel = h('span', { class: 'typing-label' });
  const typing = h('div', { class: 'typing', hidden: true }, h('span', { class: 'dots', 'aria-hidden': 'true' }, h('i'), h('i'), h('i')), typingLabel);
  // Said to a screen reader when someone starts typing: a live region already in the page, since one that appears
  // (the indicator above) is not read out by every screen reader.
  const typingNews = h('p', { class: 'sr-only', role: 'status' });
  const rating = createStarRating((stars, comment) => actions.rate(stars, comment));
  // Focusable by script, as are the queue and agent lines: where the keyboard goes when the button it was on goes (see
  // rescueFocus).
  const ended = h('p', { class: 'ended', tabindex: '-1', hidden: true });
  const handoffButton = h('button', { type: 'button', class: 'handoff', onclick: () => runAction(actions.handoff) });
  const endButton = h('button', { type: 'button', class: 'end', disabled: true, onclick: () => runAction(actions.end) });
  // Why 轉真人客服 or 結束對話 did nothing (offline, refused), where the customer sees it and a screen reader says it.
  const actionError = h('p', { class: 'action-error', role: 'alert', hidden: true });
  const inputLabel = h('label', { for: 'kefu-input', class: 'sr-only' });
  const input = h('input', { id: 'kefu-input', type: 'text', autocomplete: 'off', enterkeyhint: 'send', maxlength: 2000, oninput: onInput });
  const sendButton = h('button', { type: 'submit', class: 'primary send' });
  const composer = h('form', { class: 'composer', onsubmit: submit }, inputLabel, input, sendButton);

  // While queued: where the customer stands (live from queue:position), just above the composer.
  const queueLine = h('p', { class: 'queue-status', role: 'status', tabindex: '-1', hidden: true });
  // While an agent serves the conversation: who it is, in the same place.
  const agentLine = h('p', { class: 'agent-status', role: 'status', tabindex: '-1', hidden: true });
  // Nobody on duty (the position says callbackOffered): leave a message for a call back.
  const callbackHeading = h('h3', { id: 'kefu-callback-title' });
  const callbackTextLabel = h('label', { for: 'kefu-callback-text' });
  const callbackText = h('textarea', {
    id: 'kefu-callback-text', name: 'text', rows: 3, maxlength: CALLBACK_MAX, required: true, 'aria-required': 'true',
    oninput: () => setCallbackError(null),
  });
  const callbackTimeLabel = h('label', { for: 'kefu-callback-time' });
  const callbackTime = h('input', { id: 'kefu-callback-time', name: 'contactTime', type: 'text', maxlength: 100, autocomplete: 'off' });
  const callbackError = h('p', { id: 'kefu-callback-error', class: 'callback-error', role: 'alert', hidden: true });
  const callbackSubmit = h('button', { type: 'submit', class: 'primary' });
  const callbackForm = h('form', { class: 'callback', 'aria-labelledby': 'kefu-callback-title', novalidate: true, hidden: true, onsubmit: submitCallback },
    callbackHeading, callbackTextLabel, callbackText, callbackTimeLabel, callbackTime, callbackError, callbackSubmit);
  const callbackDone = h('p', { class: 'callback-done', role: 'status', tabindex: '-1', hidden: true });

  // One scrolling area for the messages and what follows them, so the rating never squeezes the log on a phone.
  // Focusable, so the keyboard can scroll it.
  const body = h('div', { class: 'body', tabindex: '0', role: 'region', 'aria-labelledby': 'kefu-title' }, log, typing, callbackForm, callbackDone, rating.el, ended);
  const panel = h('section', { class: 'panel', id: 'kefu-panel', role: 'dialog', 'aria-labelledby': 'kefu-title', hidden: true },
    h('header', {}, heading, h('div', { class: 'tools' }, langButton, largeButton, closeButton)),
    status, body, typingNews,
    actionError,
    h('div', { class: 'actions' }, handoffButton, endButton),
    queueLine,
    agentLine,
    composer,
  );
  const root = h('div', { class: `kefu${large ? ' large' : ''}` }, panel, launcher);
  root.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !panel.hidden) {
      setOpen(false);
      launcher.focus();
    }
  });
  shadow.append(root);
  const messages = createMessageList(log, actions);

  function applyText() {
    t = uiText(currentLang);
    root.setAttribute('lang', currentLang === 'en' ? 'en' : 'zh-Hant-TW');
    launcherText.textContent = t.launcher;
    launcher.setAttribute('aria-label', panel.hidden ? t.openChat : t.closeChat);
    heading.textContent = title || t.title;
    langButton.textContent = t.switchLang;
    langButton.setAttribute('aria-label', t.switchLangLabel);
    largeButton.textContent = t.large;
    largeButton.setAttribute('aria-label', t.largeLabel);
    closeButton.setAttribute('aria-label', t.closeChat);
    closeButton.title = t.closeChat;
    typingLabel.textContent = typingAuthor === 'agent' ? t.agentTyping : t.typing;
    inputLabel.textContent = t.inputLabel;
    input.placeholder = t.placeholder;
    sendButton.textContent = t.send;
    endButton.textContent = t.end;
    ended.textContent = t.ended;
    status.textContent = t.offline;
    rating.setText(t);
    messages.setText(t);
    updateHandoff();
    callbackHeading.textContent = t.callbackTitle;
    callbackTextLabel.textContent = t.callbackText;
    callbackTimeLabel.textContent = t.callbackTime;
    callbackTime.placeholder = t.callbackTimePlaceholder;
    callbackSubmit.textContent = callbackBusy ? t.callbackSending : t.callbackSubmit;
    callbackDone.textContent = t.callbackDone;
    if (callbackErrorCode) callbackError.textContent = errorText(callbackErrorCode);
    if (actionErrorCode) actionError.textContent = errorText(actionErrorCode);
    updateQueue();
  }

  // The queue: the last QueuePosition pushed for this conversation (null when it is not waiting).
  let position = null;
  let agentName = null; // the agent serving the conversation, while its state is 'agent'
  let conversationId = null;
  let callbackSent = false; // this conversation's message for a call back was taken
  let callbackBusy = false;
  let callbackErrorCode = null;
  let actionErrorCode = null;
  const errorText = (code) => (code === 'EMPTY' ? t.callbackEmpty : t.errors[code] ?? t.errors.default);
  function updateQueue() {
    const queued = state === 'queued' && position !== null && position.conversationId === conversationId;
    // Waiting for a live chat: the line shows at once, saying the customer is being put through until the server says
    // where they stand (the queue's place comes after the new state), so that the focus has somewhere to go.
    const waiting = state === 'queued' && !callbackSent && (!queued || (position.kind === 'chat' && position.position > 0));
    queueLine.hidden = !waiting;
    if (waiting && queued) {
      const minutes = Math.max(1, Math.ceil((position.expectedWaitSeconds ?? 0) / 60));
      queueLine.textContent = t.queuePosition(position.position, minutes);
    } else if (waiting) queueLine.textContent = t.queueConnecting;
    agentLine.hidden = !(state === 'agent' && agentName);
    if (!agentLine.hidden) agentLine.textContent = t.withAgent(agentName);
    const wasHidden = callbackForm.hidden;
    callbackForm.hidden = !(queued && position.kind === 'chat' && position.callbackOffered && !callbackSent);
    callbackDone.hidden = !(state === 'queued' && callbackSent);
    if (wasHidden && !callbackForm.hidden) scrollDown();
  }
  function setCallbackError(code) {
    callbackErrorCode = code;
    callbackError.hidden = !code;
    callbackError.textContent = code ? errorText(code) : '';
    if (code) {
      callbackText.setAttribute('aria-invalid', String(code === 'EMPTY'));
      callbackText.setAttribute('aria-describedby', 'kefu-callback-error');
    } else {
      callbackText.removeAttribute('aria-invalid');
      callbackText.removeAttribute('aria-describedby');
    }
  }
  async function submitCallback(e) {
    e.preventDefault();
    if (callbackBusy) return;
    const text = callbackText.value.trim();
    if (!text) {
      setCallbackError('EMPTY');
      callbackText.focus();
      return;
    }
    setCallbackError(null);
    callbackBusy = true;
    // aria-disabled, not disabled: a disabled button would drop the keyboard focus to the page (callbackBusy already
    // ignores a second press).
    callbackSubmit.setAttribute('aria-disabled', 'true');
    callbackSubmit.textContent = t.callbackSending;
    let r = null;
    try {
      r = await actions.callback(text.slice(0, CALLBACK_MAX), callbackTime.value.trim());
    } catch {
      r = { ok: false, error: { code: 'default' } };
    } finally {
      callbackBusy = false;
      callbackSubmit.removeAttribute('aria-disabled');
      callbackSubmit.textContent = t.callbackSubmit;
    }
    if (!r) return setCallbackError('OFFLINE');
    if (!r.ok) return setCallbackError(r.error?.code ?? 'default');
    callbackSent = true;
    callbackText.value = '';
    callbackTime.value = '';
    updateQueue();
    // The form is gone with the keyboard focus in it: move the focus to the confirmation.
    callbackDone.focus();
    scrollDown();
  }

  // The keyboard focus must not fall to the page when what has it is disabled or hidden (the button just pressed, a
  // status line that went): Escape, handled on the widget's root, would stop working and a screen reader would say
  // nothing. It moves to what now says where the conversation stands. `had`: what had the focus before the change;
  // `disabling`: it is about to be disabled (called before, so that it keeps the focus until then). Hidden, it has
  // lost the focus already (Chrome gives it to the page at once), which is why losing it counts too.
  function rescueFocus(had, disabling = false) {
    if (!had) return;
    const now = shadow.activeElement;
    if (now === null || (now === had && (disabling || had.closest('[hidden]')))) statusTarget().focus();
  }
  function statusTarget() {
    if (state === 'closed') return rating.entry() ?? ended;
    return [agentLine, queueLine, callbackDone].find((el) => !el.hidden) ?? input;
  }

  // The client answers null when it could not even ask (offline, or not yet back in the conversation after a reconnect).
  async function runAction(action) {
    setActionError(null);
    let r = null;
    try {
      r = await action();
    } catch {
      r = { ok: false, error: { code: 'default' } };
    }
    if (!r) setActionError('OFFLINE');
    else if (!r.ok) setActionError(r.error?.code ?? 'default');
  }
  function setActionError(code) {
    actionErrorCode = code;
    actionError.hidden = !code;
    actionError.textContent = code ? errorText(code) : '';
  }

  let state = null;
  function updateHandoff() {
    const waiting = state === 'queued' || state === 'agent';
    handoffButton.textContent = waiting ? t.handoffWaiting : t.handoff;
    handoffButton.disabled = waiting;
  }

  // Focus moves into the panel only when the customer opened it, never when a reload restores it open.
  function setOpen(isOpen, byCustomer = true) {
    panel.hidden = !isOpen;
    launcher.setAttribute('aria-expanded', String(isOpen));
    launcher.setAttribute('aria-label', isOpen ? t.closeChat : t.openChat);
    if (byCustomer) actions.prefs({ open: isOpen });
    if (isOpen) actions.opened();
    if (isOpen && byCustomer) input.focus();
    if (isOpen) scrollDown();
  }
  function setLarge(on, byCustomer = true) {
    root.classList.toggle('large', on);
    largeButton.setAttribute('aria-pressed', String(on));
    if (byCustomer) actions.prefs({ large: on });
    scrollDown();
  }
  function switchLang() {
    currentLang = currentLang === 'en' ? 'zh-TW' : 'en';
    actions.prefs({ lang: currentLang });
    actions.lang(currentLang);
    applyText();
    langButton.focus();
    scrollDown();
  }
  function submit(e) {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    stopTyping();
    actions.send(text);
  }
  // The customer's typing is reported once when it starts and once after a pause.
  function onInput() {
    if (!typingTimer) actions.typing(true);
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, 2500);
  }
  function stopTyping() {
    if (!typingTimer) return;
    clearTimeout(typingTimer);
    typingTimer = null;
    actions.typing(false);
  }
  function showTyping(on) {
    if (on && typing.hidden) typingNews.textContent = typingLabel.textContent;
    if (!on) typingNews.textContent = '';
    typing.hidden = !on;
  }
  function scrollDown() {
    body.scrollTop = body.scrollHeight;
  }

  applyText();
  setOpen(open, false);

  return {
    messages(list) {
      for (const m of list) messages.upsert(m);
      // A message ends its writer's typing (the server sends no separate "stopped" for a bot's turn that answered). A
      // notice ends the bot's too, not the agent's: they may still be writing.
      if (list.some((m) => (typingAuthor === 'agent' ? m.author === 'agent' : m.author !== 'customer'))) showTyping(false);
      scrollDown();
    },
    pending(entry) {
      messages.pending(entry);
      scrollDown();
    },
    failed(clientMessageId, code) {
      messages.failed(clientMessageId, code);
    },
    /** Reflects the conversation's state: handoff button, end button, queue or agent line, rating, the ended note. */
    conversation(c, fresh) {
      if (fresh) messages.divider(c.id);
      if (c.id !== conversationId) {
        conversationId = c.id;
        callbackSent = false;
        setCallbackError(null);
        rating.reset();
        messages.conversation(c.id);
      }
      const had = shadow.activeElement;
      state = c.state;
      agentName = c.agentName ?? null;
      updateQueue();
      ended.hidden = c.state !== 'closed';
      // Rated only once it is over: waiting for an agent, or talking to one, is the middle of the service.
      const over = c.state === 'closed';
      rating.show(c.rating ? (over ? 'done' : 'none') : over ? 'ask' : 'none');
      // What now shows where it stands is in place: the focus can move there before its button is disabled.
      rescueFocus(had, (had === handoffButton && (state === 'queued' || state === 'agent')) || (had === endButton && over));
      updateHandoff();
      endButton.disabled = over;
      // Only the one serving the conversation can be typing in it.
      if (c.state !== (typingAuthor === 'agent' ? 'agent' : 'bot')) showTyping(false);
      scrollDown();
    },
    /** Where the queued conversation stands (QueuePosition), or null once it no longer waits. */
    queue(p) {
      const had = shadow.activeElement;
      position = p;
      if (p?.kind === 'callback' && p.conversationId === conversationId) callbackSent = true;
      updateQueue();
      rescueFocus(had);
    },
    /** The bot or the agent started (or stopped) typing. */
    typing({ author, typing: on }) {
      if (!on && author !== typingAuthor) return; // the other one is still typing
      typingAuthor = author;
      typingLabel.textContent = author === 'agent' ? t.agentTyping : t.typing;
      showTyping(on);
      if (on) scrollDown();
    },
    connection(online) {
      status.hidden = online;
      // Back online: "try again in a moment" no longer holds.
      if (online && actionErrorCode === 'OFFLINE') setActionError(null);
    },
    /** The customer chose a language or text size in another tab: this one shows it too (nothing is sent or saved). */
    prefsChanged({ lang: next, large: nextLarge }) {
      if (next && next !== currentLang) {
        currentLang = next;
        applyText();
      }
      if (nextLarge !== root.classList.contains('large')) setLarge(nextLarge, false);
    },
  };
}
