// A tiny element builder: text is always set as text (never parsed as HTML), so bot and agent messages cannot
// inject markup into the bank's page.

/** Creates an element: attributes (on* keys are listeners; false/null/undefined are left out) and children. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key === 'class') el.className = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Text only screen readers read. */
export const srOnly = (text) => h('span', { class: 'sr-only' }, text);
