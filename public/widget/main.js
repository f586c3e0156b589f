// Mounts the widget: a shadow root (so the bank's CSS cannot reach in, nor ours out), the panel, and the socket
// client, wired together. Loaded by /widget.js.
import { createStorage } from './storage.js';
import { createChatPanel } from './chat-panel.js';
import { createChatClient } from './chat-client.js';

/** Adds the chat launcher and panel to the page. */
export function mountWidget({ server, locale = 'zh-TW', title = '', identityToken = null, identityUrl = null }) {
  const host = document.createElement('div');
  host.setAttribute('data-kefu-widget', '');
  document.body.append(host);
  const shadow = host.attachShadow({ mode: 'open' });
  const css = document.createElement('link');
  css.rel = 'stylesheet';
  css.href = `${server}/widget.css`;
  shadow.append(css);

  const storage = createStorage(server);
  const prefs = storage.prefs();
  let client = null;
  // The UI has English and Traditional Chinese; the conversation also Simplified, when the page asks for it.
  // Read from storage each time, not kept: the customer's last choice in any tab of the site is the one that counts
  // (a tab left open in Chinese must not switch back a conversation the customer moved to English in another).
  const uiLang = () => storage.prefs().lang ?? (locale === 'en' ? 'en' : 'zh-TW');
  const chatLocale = () => (uiLang() === 'en' ? 'en' : locale === 'en' ? 'zh-TW' : locale);
  const panel = createChatPanel(shadow, {
    lang: uiLang(),
    large: prefs.large,
    open: prefs.open,
    title,
    actions: {
      send: (text) => client.send(text),
      quickReply: (text) => client.send(text),
      feedback: (messageId, feedback) => client.rateAnswer(messageId, feedback),
      handoff: () => client.requestHuman(),
      end: () => client.end(),
      callback: (text, contactTime) => client.requestCallback(text, contactTime),
      rate: (stars, comment) => client.rate(stars, comment),
      typing: (on) => client.typing(on),
      prefs: (patch) => storage.savePrefs(patch),
      lang: () => void client.setLocale(chatLocale()),
      opened: () => client?.open(),
    },
  });

  client = createChatClient({
    server,
    locale: chatLocale,
    storage,
    identityToken,
    identityUrl,
    emit(type, data) {
      if (type === 'messages') panel.messages(data);
      else if (type === 'pending') panel.pending(data);
      else if (type === 'failed') panel.failed(data.clientMessageId, data.code);
      else if (type === 'conversation') panel.conversation(data.conversation, data.fresh);
      else if (type === 'typing') panel.typing(data);
      else if (type === 'queue') panel.queue(data);
      else if (type === 'connection') panel.connection(data === 'online');
    },
  });
  storage.onOtherTab(() => panel.prefsChanged(storage.prefs()));
  // A panel restored open by a reload counts as opened.
  if (prefs.open) client.open();
}
