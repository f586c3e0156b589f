// Several conversations open at once, one tab each (WAI-ARIA tabs: arrow keys move between tabs).
import { h } from '/widget/dom.js';

/**
 * Creates the tab strip and panel area; views come from `createView(id)`. `onUserClose(id, view, label)`: the agent
 * closed a tab with its × (not a conversation that left their hands).
 */
export function createConversationTabs({ createView, onUserClose = () => {} }) {
  const strip = h('div', { class: 'tabs', role: 'tablist', 'aria-label': '開啟的對話' });
  const panels = h('div', { class: 'panels' });
  const empty = h('p', { class: 'empty-panel', tabindex: '-1' }, '從左側佇列接手對話，或接管機器人服務中的對話。');
  const el = h('section', { class: 'workspace', 'aria-label': '對話' }, strip, panels);
  const open = new Map();
  let active = null;

  function select(id, focus = false) {
    active = id;
    for (const [key, t] of open) {
      const on = key === id;
      t.tab.setAttribute('aria-selected', String(on));
      t.tab.tabIndex = on ? 0 : -1;
      t.panel.hidden = !on;
      if (on) t.tab.querySelector('.unread').hidden = true;
    }
    if (focus) open.get(id)?.tab.focus();
  }

  function render() {
    if (open.size === 0) panels.replaceChildren(empty);
    else if (empty.isConnected) empty.remove();
  }

  function close(id) {
    const t = open.get(id);
    if (!t) return;
    // The keyboard was in what goes: it moves to the tab shown next (or the empty area), not to the page.
    const focused = document.activeElement;
    const hadFocus = focused !== null && (t.tab.parentElement?.contains(focused) || t.panel.contains(focused));
    t.tab.parentElement?.remove();
    t.panel.remove();
    open.delete(id);
    if (active === id) {
      const next = [...open.keys()].at(-1) ?? null;
      if (next) select(next);
      else active = null;
    }
    render();
    if (hadFocus) (active ? open.get(active).tab : empty).focus();
  }

  strip.addEventListener('keydown', (e) => {
    const ids = [...open.keys()];
    const i = ids.indexOf(active);
    if (i < 0) return;
    const to = e.key === 'ArrowRight' ? ids[(i + 1) % ids.length] : e.key === 'ArrowLeft' ? ids[(i - 1 + ids.length) % ids.length] : e.key === 'Home' ? ids[0] : e.key === 'End' ? ids.at(-1) : null;
    if (to) {
      e.preventDefault();
      select(to, true);
    }
  });

  render();
  return {
    el,
    /**
     * Opens (or shows) the tab of conversation `id`, loading it once. `background`: opened without taking the screen or
     * the keyboard from what the agent is doing, marked unread.
     */
    async open(id, label, { background = false } = {}) {
      if (!open.has(id)) {
        const view = createView(id);
        const tabId = `tab-${id}`;
        const panelId = `panel-${id}`;
        const tab = h('button', { type: 'button', role: 'tab', id: tabId, 'aria-controls': panelId, class: 'tab', onClick: () => select(id) },
          h('span', { class: 'tab-label' }, label),
          h('span', { class: 'unread', 'aria-label': '有新訊息', hidden: true }, '●'));
        const closeButton = h('button', { type: 'button', class: 'tab-close', 'aria-label': `關閉 ${label} 分頁`, onClick: () => {
          onUserClose(id, view, label);
          close(id);
        } }, '×');
        const panel = h('div', { role: 'tabpanel', id: panelId, 'aria-labelledby': tabId, class: 'panel' }, view.el);
        strip.append(h('span', { class: 'tab-wrap' }, tab, closeButton));
        panels.append(panel);
        open.set(id, { tab: tab, panel, view, closeButton });
        render();
        if (background && active !== null) {
          tab.tabIndex = -1;
          tab.setAttribute('aria-selected', 'false');
          panel.hidden = true;
          tab.querySelector('.unread').hidden = false;
        }
        await view.load();
        if (background && active !== null && active !== id) return;
      }
      select(id);
      if (!background) open.get(id).view.focus();
    },
    close,
    view: (id) => open.get(id)?.view ?? null,
    /** The views of every open tab. */
    views: () => [...open.values()].map((t) => t.view),
    /** Marks a background tab that got a message. */
    unread(id) {
      const t = open.get(id);
      if (t && id !== active) t.tab.querySelector('.unread').hidden = false;
    },
    has: (id) => open.has(id),
  };
}
