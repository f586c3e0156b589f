// The sign-in form. On success it hands the signed-in agent to `onSignedIn`.
import { h } from '/widget/dom.js';
import { api } from './api.js';
import { errorText } from './labels.js';

/** Renders the sign-in form into `root`. */
export function renderLogin(root, { onSignedIn, notice = '' }) {
  const error = h('p', { class: 'form-error', role: 'alert' }, notice);
  const username = h('input', { id: 'login-username', name: 'username', autocomplete: 'username', required: true, autofocus: true });
  const password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, '登入');
  const form = h('form', {
    class: 'login',
    'aria-labelledby': 'login-title',
    async onSubmit(e) {
      e.preventDefault();
      submit.disabled = true;
      error.textContent = '';
      try {
        const { agent } = await api.login(username.value.trim(), password.value);
        onSignedIn(agent);
      } catch (err) {
        error.textContent = errorText(err);
        password.select();
      } finally {
        submit.disabled = false;
      }
    },
  },
  h('h1', { id: 'login-title' }, 'kefu 專員工作台'),
  h('label', { for: 'login-username' }, '帳號'), username,
  h('label', { for: 'login-password' }, '密碼'), password,
  error, submit);
  root.replaceChildren(h('main', { class: 'login-page' }, form));
  username.focus();
}
