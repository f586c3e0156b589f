// The 1–5 star rating shown when a conversation ends. Native radio buttons keep it keyboard- and
// screen-reader-friendly (Tab into the group, arrow keys choose); the stars are only their labels.
import { h, srOnly } from './dom.js';

/**
 * Builds the rating form; `onRate(stars, comment)` resolves to the server's answer ({ ok, error }), or null when it
 * could not be asked (offline).
 */
export function createStarRating(onRate) {
  let t = null;
  let chosen = 0;
  let busy = false; // a rating is on its way
  let errorCode = null;
  const legend = h('legend');
  const stars = h('div', { class: 'stars' });
  const radios = [];
  const labels = [];
  for (let n = 1; n <= 5; n++) {
    const id = `kefu-star-${n}`;
    const radio = h('input', { type: 'radio', name: 'kefu-stars', id, value: n, class: 'star-input', onchange: () => paint(n) });
    const label = h('label', { for: id, class: 'star' });
    radios.push(radio);
    labels.push(label);
    stars.append(radio, label);
  }
  const commentLabel = h('label', { for: 'kefu-rating-comment', class: 'comment-label' });
  const comment = h('textarea', { id: 'kefu-rating-comment', rows: 2, maxlength: 1000 });
  const submit = h('button', { type: 'submit', class: 'primary' });
  const error = h('p', { class: 'rating-error', role: 'alert', hidden: true });
  // Focusable by script: the form the focus was in disappears once the rating is sent, and the focus must not go with it.
  const thanks = h('p', { class: 'rated', role: 'status', tabindex: '-1', hidden: true });
  const form = h('form', { class: 'rating', hidden: true, onsubmit: send }, h('fieldset', {}, legend, stars), commentLabel, comment, error, submit);
  const el = h('div', { class: 'rating-area' }, form, thanks);

  function paint(n) {
    chosen = n;
    labels.forEach((l, i) => l.classList.toggle('on', i < n));
  }

  function setError(code) {
    errorCode = code;
    error.hidden = !code;
    error.textContent = code ? t.errors[code] ?? t.errors.default : '';
  }

  // aria-disabled while sending, not disabled: a disabled button would drop the keyboard focus to the page, and a
  // rating that failed could not be sent again from where the customer was.
  async function send(event) {
    event.preventDefault();
    if (busy) return;
    if (chosen === 0) return radios[0].focus();
    busy = true;
    submit.setAttribute('aria-disabled', 'true');
    setError(null);
    let r = null;
    try {
      r = await onRate(chosen, comment.value.trim());
    } catch {
      r = { ok: false, error: { code: 'default' } };
    } finally {
      busy = false;
      submit.removeAttribute('aria-disabled');
    }
    if (!r?.ok) return setError(r ? r.error?.code ?? 'default' : 'OFFLINE');
    form.hidden = true;
    thanks.hidden = false;
    thanks.focus();
  }

  return {
    el,
    setText(text) {
      t = text;
      legend.textContent = t.rateTitle;
      labels.forEach((l, i) => l.replaceChildren(h('span', { 'aria-hidden': 'true' }, '★'), srOnly(t.stars(i + 1))));
      commentLabel.textContent = t.comment;
      submit.textContent = t.submitRating;
      thanks.textContent = t.rated;
      if (errorCode) setError(errorCode);
    },
    /** Empties the form (no star, no comment): each conversation is rated on its own. */
    reset() {
      for (const radio of radios) radio.checked = false;
      paint(0);
      comment.value = '';
      setError(null);
    },
    /** Where the keyboard enters the form (its chosen star, else the first); null while it is not shown. */
    entry() {
      return form.hidden ? null : radios.find((r) => r.checked) ?? radios[0];
    },
    /** 'ask' shows the form, 'done' the thanks, 'none' neither. */
    show(mode) {
      form.hidden = mode !== 'ask';
      thanks.hidden = mode !== 'done';
    },
  };
}
