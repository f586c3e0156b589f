// The launcher button and the chat panel: header tools (中文/EN, 大字, close), the message log, the typing
// indicator, the rating, the handoff and end buttons, and the composer.
import { h } from './dom.js';
import { uiText } from './i18n.js';
import { createMessageList } from './message-list.js';
import { createStarRating } from './star-rating.js';

/**
 * Builds the widget's UI inside `shadow`. `actions` receives the customer's intents: send, quickReply, feedback,
 * handoff, end, rate, typing, prefs. Returns the methods the controller updates it with.
 */
export function createChatPanel(shadow, { lang, large, open, title, actions }) {
  let t = uiText(lang);
  let currentLang = lang;
  let typingTimer = null;

  const launcherText = h('span', { class: 'launcher-text' });
  const launcher = h('button', { type: 'button', class: 'launcher', 'aria-controls': 'kefu-panel', onclick: () => setOpen(panel.hidden) },
    h('span', { class: 'launcher-icon', 'aria-hidden': 'true' }, '💬'), launcherText);
  const heading = h('h2', { id: 'kefu-title' });
  const langButton = h('button', { type: 'button', class: 'tool', onclick: () => switchLang() });
  const largeButton = h('button', { type: 'button', class: 'tool', 'aria-pressed': String(large), onclick: () => setLarge(!root.classList.contains('large')) });
  const closeButton = h('button', { type: 'button', class: 'tool close', onclick: () => setOpen(false) }, '×');
  const status = h('p', { class: 'status', role: 'status', hidden: true });
  const log = h('ol', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-labelledby': 'kefu-title' });
  const typingLabel = h('span', { class: 'typing-label' });
  const typing = h('div', { class: 'typing', hidden: true }, h('span', { class: 'dots', 'aria-hidden': 'true' }, h('i'), h('i'), h('i')), typingLabel);
  const rating = createStarRating((stars, comment) => actions.rate(stars, comment));
  const ended = h('p', { class: 'ended', hidden: true });
  const handoffButton = h('button', { type: 'button', class: 'handoff', onclick: () => actions.handoff() });
  const endButton = h('button', { type: 'button', class: 'end', disabled: true, onclick: () => actions.end() });
  const inputLabel = h('label', { for: 'kefu-input', class: 'sr-only' });
  const input = h('input', { id: 'kefu-input', type: 'text', autocomplete: 'off', enterkeyhint: 'send', maxlength: 2000, oninput: onInput });
  const sendButton = h('button', { type: 'submit', class: 'primary send' });
  const composer = h('form', { class: 'composer', onsubmit: submit }, inputLabel, input, sendButton);

  // One scrolling area for the messages and what follows them, so the rating never squeezes the log on a phone.
  // Focusable, so the keyboard can scroll it.
  const body = h('div', { class: 'body', tabindex: '0', role: 'region', 'aria-labelledby': 'kefu-title' }, log, typing, rating.el, ended);
  const panel = h('section', { class: 'panel', id: 'kefu-panel', role: 'dialog', 'aria-labelledby': 'kefu-title', hidden: true },
    h('header', {}, heading, h('div', { class: 'tools' }, langButton, largeButton, closeButton)),
    status, body,
    h('div', { class: 'actions' }, handoffButton, endButton),
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
    typingLabel.textContent = t.typing;
    inputLabel.textContent = t.inputLabel;
    input.placeholder = t.placeholder;
    sendButton.textContent = t.send;
    endButton.textContent = t.end;
    ended.textContent = t.ended;
    status.textContent = t.offline;
    rating.setText(t);
    messages.setText(t);
    updateHandoff();
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
  function setLarge(on) {
    root.classList.toggle('large', on);
    largeButton.setAttribute('aria-pressed', String(on));
    actions.prefs({ large: on });
    scrollDown();
  }
  function switchLang() {
    currentLang = currentLang === 'en' ? 'zh-TW' : 'en';
    actions.prefs({ lang: currentLang });
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
  function scrollDown() {
    body.scrollTop = body.scrollHeight;
  }

  applyText();
  setOpen(open, false);

  return {
    messages(list) {
      for (const m of list) messages.upsert(m);
      scrollDown();
    },
    pending(entry) {
      messages.pending(entry);
      scrollDown();
    },
    failed(clientMessageId, code) {
      messages.failed(clientMessageId, code);
    },
    /** Reflects the conversation's state: handoff button, end button, rating, the ended note. */
    conversation(c, fresh) {
      if (fresh) messages.divider(c.id);
      state = c.state;
      updateHandoff();
      endButton.disabled = c.state === 'closed';
      ended.hidden = c.state !== 'closed';
      const over = c.state === 'closed' || c.state === 'queued';
      rating.show(c.rating ? (over ? 'done' : 'none') : over ? 'ask' : 'none');
      if (c.state !== 'bot') typing.hidden = true;
      scrollDown();
    },
    typing(on) {
      typing.hidden = !on;
      if (on) scrollDown();
    },
    connection(online) {
      status.hidden = online;
    },
  };
}
