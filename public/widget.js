/*
 * kefu chat widget loader. Embed on any page:
 *   <script src="https://kefu.example.com/widget.js" data-server="https://kefu.example.com"
 *           data-locale="zh-TW" data-title="凱福銀行 線上客服" defer></script>
 * On pages where the customer is signed in, add data-identity-token="<JWT your server signs with kefu's
 * identity.secret>", or data-identity-url="<a URL of your site that answers such a JWT for the signed-in customer>"
 * (fetched with the customer's cookies before each new conversation): agents then know who they serve (README).
 * A classic script, so it works with plain `defer`; it imports the widget's modules from the kefu server.
 */
(function () {
  'use strict';
  var script = document.currentScript;
  // Set at once, not when the widget's element appears (after an import): a page that embeds the tag twice gets one.
  if (!script || window.__kefuWidget || document.querySelector('[data-kefu-widget]')) return;
  window.__kefuWidget = true;
  var server = (script.getAttribute('data-server') || new URL(script.src, location.href).origin).replace(/\/+$/, '');
  var options = {
    server: server,
    locale: supportedLocale(script.getAttribute('data-locale')),
    title: script.getAttribute('data-title') || '',
    identityToken: script.getAttribute('data-identity-token') || null,
    identityUrl: script.getAttribute('data-identity-url') || null,
  };
  // A page's own language tag (en-US, zh-Hant-TW, zh-cn …) to one kefu has; anything else is Traditional Chinese.
  function supportedLocale(tag) {
    var t = String(tag || '').toLowerCase();
    if (/^en\b/.test(t)) return 'en';
    if (/^zh-(cn|sg|hans)\b/.test(t)) return 'zh-CN';
    return 'zh-TW';
  }
  function boot() {
    import(server + '/widget/main.js')
      .then(function (m) { m.mountWidget(options); })
      .catch(function (err) { console.error('[kefu] the chat widget could not be loaded', err); });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
  else boot();
})();
