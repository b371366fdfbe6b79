// Small DOM helpers: build elements without innerHTML, so nothing from the API is
// ever interpreted as markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'class') {
      el.className = value;
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key in el && typeof value !== 'string') {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

let uid = 0;
export function nextId(prefix = 'f') {
  uid += 1;
  return `${prefix}-${uid}`;
}

const STATUS_TONES = {
  active: 'ok', processed: 'ok', succeeded: 'ok', approved: 'ok', ok: 'ok', invited: 'info',
  pending: 'warn', received: 'info', needs_reauth: 'warn', failing: 'warn',
  invalid: 'bad', failed: 'bad', rejected: 'bad', exhausted: 'bad', disabled: 'bad', revoked: 'bad',
  expired: 'bad', running: 'info', granted: 'ok', missing: 'warn',
};

const STATUS_LABELS = {
  active: 'Active', pending: 'Pending', needs_reauth: 'Needs re-authorisation', invalid: 'Invalid',
  not_connected: 'Not connected', received: 'Received', processed: 'Processed', failed: 'Failed',
  rejected: 'Rejected', succeeded: 'Succeeded', exhausted: 'Exhausted', approved: 'Approved',
  invited: 'Invited', disabled: 'Disabled', revoked: 'Revoked', inactive: 'Inactive', failing: 'Failing',
  expired: 'Expired', running: 'Running', granted: 'Granted', missing: 'Not granted',
};

export function badge(status, label) {
  const tone = STATUS_TONES[status] || '';
  return h('span', { class: `badge ${tone}`.trim(), dataset: { status } }, label || STATUS_LABELS[status] || humanize(status));
}

export function humanize(word) {
  const text = String(word ?? '').replace(/[_.-]+/g, ' ').trim();
  return text ? text[0].toUpperCase() + text.slice(1) : '';
}

export function when(value) {
  if (!value) return '—';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function ago(value) {
  if (!value) return 'never';
  const seconds = Math.round((Date.now() - new Date(value).getTime()) / 1000);
  if (Number.isNaN(seconds)) return String(value);
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

export function loading(text = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, text);
}

export function empty(title, text, ...extra) {
  return h('div', { class: 'empty' }, h('strong', {}, title), text ? h('span', {}, text) : null, ...extra);
}

export function errorText(err) {
  if (err && err.problem) {
    const p = err.problem;
    const fields = Array.isArray(p.errors) ? p.errors.map((e) => `${e.field}: ${e.message}`).join('; ') : '';
    return sentence([p.detail || p.title || `Request failed (${err.status})`, fields].filter(Boolean).join(' — '));
  }
  if (err && err.status) return `Request failed (${err.status}).`;
  return (err && err.message) || 'Something went wrong.';
}

// Problem details are written as phrases ("wrong email or password"); show sentences.
function sentence(text) {
  const t = String(text).trim();
  if (!t) return t;
  const first = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

export function notice(kind, text) {
  return h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

export function errorNotice(err) {
  return notice('error', errorText(err));
}

let toastArea = null;
export function toast(text, kind = 'ok') {
  if (!toastArea || !document.body.contains(toastArea)) {
    toastArea = h('div', { class: 'toast-area', 'aria-live': 'polite' });
    document.body.append(toastArea);
  }
  const el = notice(kind, text);
  toastArea.append(el);
  setTimeout(() => el.remove(), 5000);
}

// Runs an async action from a button: disables it meanwhile and reports the outcome in
// `output` (an element), in words.
export async function act(button, output, action) {
  button.disabled = true;
  if (output) clear(output);
  try {
    const result = await action();
    return result;
  } catch (err) {
    if (output) output.append(errorNotice(err));
    else toast(errorText(err), 'error');
    return undefined;
  } finally {
    button.disabled = false;
  }
}

export function copyField(value, label) {
  const id = nextId('copy');
  const input = h('input', { type: 'text', id, value, readOnly: true, class: 'mono' });
  const status = h('span', { class: 'visually-hidden', 'aria-live': 'polite' });
  const button = h('button', {
    type: 'button', class: 'secondary',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(input.value);
        button.textContent = 'Copied';
        status.textContent = `${label} copied to the clipboard`;
      } catch {
        input.select();
        button.textContent = 'Press Ctrl+C';
      }
      setTimeout(() => { button.textContent = 'Copy'; }, 2500);
    },
  }, 'Copy');
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    h('div', { class: 'copy-field' }, input, button, status));
}

export function field(label, input, help) {
  const id = input.id || nextId('f');
  input.id = id;
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    input,
    help ? h('div', { class: 'help', id: `${id}-help` }, help) : null);
}

export function table(columns, rows, render) {
  return h('div', { class: 'table-wrap' },
    h('table', {},
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.optional ? 'optional' : null }, c.label)))),
      h('tbody', {}, rows.map((row) => {
        const cells = render(row);
        return h('tr', {}, cells.map((cell, i) => h('td', {
          class: [columns[i]?.optional ? 'optional' : '', columns[i]?.actions ? 'actions' : ''].join(' ').trim() || null,
        }, cell)));
      }))));
}
