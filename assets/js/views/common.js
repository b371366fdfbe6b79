// Pieces shared by the screens.
import { h, clear } from '../dom.js';

export function page(main, title, subtitle, ...actions) {
  clear(main);
  main.append(h('div', { class: 'page-head' },
    h('div', {}, h('h1', {}, title), subtitle ? h('p', {}, subtitle) : null),
    actions.length ? h('div', { class: 'row' }, actions) : null));
  return main;
}

export function panel(title, ...children) {
  return h('section', { class: 'panel', 'aria-label': title }, title ? h('h2', {}, title) : null, children);
}

export const CATEGORY_LABELS = {
  payments: 'Payments',
  email: 'Email',
  media: 'Media',
  ai: 'AI',
  events: 'Events & ticketing',
  communication: 'Communication',
  contact_center: 'Contact center',
  commerce: 'Commerce',
  scheduling: 'Scheduling',
  developer: 'Developer tools',
  productivity: 'Productivity',
  crm: 'CRM',
};

export const CATEGORY_ORDER = Object.keys(CATEGORY_LABELS);

export function categoryLabel(key) {
  if (CATEGORY_LABELS[key]) return CATEGORY_LABELS[key];
  const text = String(key || 'other').replace(/_/g, ' ');
  return text[0].toUpperCase() + text.slice(1);
}

export const AUTH_MODE_LABELS = {
  oauth2: 'OAuth (sign in with the provider)',
  client_credentials: 'Client credentials',
  api_key: 'API key',
  basic: 'Username and password',
  private_token: 'Private token',
  webhook: 'Webhook secret only',
};

// "Acme's", "Globex Events'".
export function possessive(name) {
  return /s$/i.test(name) ? `${name}'` : `${name}'s`;
}

// The script entry points that reshape outbound messages (tessera's, Svix's, Hookdeck's).
export const OUTBOUND_ENTRY_POINTS = ['onOutbound', 'handler', 'addHandler'];
