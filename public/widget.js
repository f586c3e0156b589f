/*
 * kefu chat widget loader. Embed on any page:
 *   <script src="https://kefu.example.com/widget.js" data-server="https://kefu.example.com"
 *           data-locale="zh-TW" data-title="凱福銀行 線上客服" defer></script>
 * A classic script, so it works with plain `defer`; it imports the widget's modules from the kefu server.
 */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || document.querySelector('[data-kefu-widget]')) return;
  var server = (script.getAttribute('data-server') || new URL(script.src, location.href).origin).replace(/\/+$/, '');
  var options = {
    server: server,
    locale: script.getAttribute('data-locale') || 'zh-TW',
    title: script.getAttribute('data-title') || '',
  };
  function boot() {
    import(server + '/widget/main.js')
      .then(function (m) { m.mountWidget(options); })
      .catch(function (err) { console.error('[kefu] the chat widget could not be loaded', err); });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
  else boot();
})();
