import * as api from '../api.js';
import { h, errorNotice, notice, field } from '../dom.js';

export function renderSignIn(root, message, onSignedIn) {
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, autofocus: true });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const output = h('div', { 'aria-live': 'polite' }, message ? notice('info', message) : null);
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', {
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      output.replaceChildren();
      if (!email.value.trim() || !password.value) {
        output.append(notice('error', 'Enter your email and password.'));
        return;
      }
      submit.disabled = true;
      try {
        const session = await api.post('/api/v1/session', { email: email.value.trim(), password: password.value });
        password.value = '';
        await onSignedIn(session);
      } catch (err) {
        output.append(errorNotice(err));
        password.select();
      } finally {
        submit.disabled = false;
      }
    },
  },
  field('Email', email),
  field('Password', password),
  submit);

  root.append(h('main', { class: 'signin' },
    h('div', { class: 'panel' },
      h('div', { class: 'brand' }, h('img', { src: '/assets/favicon.svg', alt: '' }), 'tessera'),
      h('h1', {}, 'Sign in'),
      h('p', { class: 'help' }, 'Administer your integrations, webhooks and API tokens.'),
      output,
      form)));
  email.focus();
}
