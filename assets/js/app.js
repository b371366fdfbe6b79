// tessera admin UI: session, layout, tenant switcher and the router.

import * as api from './api.js';
import { h, clear, errorNotice, loading, notice, empty } from './dom.js';
import { renderSignIn } from './views/signin.js';
import { renderOverview } from './views/overview.js';
import { renderIntegrations } from './views/integrations.js';
import { renderProvider } from './views/provider.js';
import { renderEvents, renderEvent } from './views/events.js';
import { renderSignups } from './views/signups.js';
import { renderEndpoints, renderEndpoint } from './views/endpoints.js';
import { renderTokens } from './views/tokens.js';
import { renderAudit, renderPlatformAudit } from './views/audit.js';
import { renderTenants, renderPlatformApps } from './views/platform.js';
import { renderPlugins, renderMarketplace } from './views/plugins.js';
import { renderKeys } from './views/keys.js';
import { renderNotifications, notificationBell } from './views/notifications.js';
import { renderJobs } from './views/jobs.js';
import { renderUsage } from './views/usage.js';
import { renderConsents } from './views/consents.js';
import { renderMappings, renderMapping } from './views/mappings.js';
import { renderEasyAppointments } from './views/easyappointments.js';
import { renderSettings } from './views/settings.js';

const root = document.getElementById('app');
const TENANT_KEY = 'tessera.tenant';

const ROUTES = [
  { path: /^\/(ui\/?)?$/, view: renderOverview, nav: 'overview', title: 'Overview' },
  { path: /^\/ui\/integrations\/?$/, view: renderIntegrations, nav: 'integrations', title: 'Integrations' },
  { path: /^\/ui\/integrations\/([a-z0-9_-]+)\/?$/, view: renderProvider, nav: 'integrations', title: 'Integration' },
  { path: /^\/ui\/events\/?$/, view: renderEvents, nav: 'events', title: 'Events' },
  { path: /^\/ui\/events\/([^/]+)\/?$/, view: renderEvent, nav: 'events', title: 'Event' },
  { path: /^\/ui\/signups\/?$/, view: renderSignups, nav: 'signups', title: 'Signups' },
  { path: /^\/ui\/endpoints\/?$/, view: renderEndpoints, nav: 'endpoints', title: 'Outbound endpoints' },
  { path: /^\/ui\/endpoints\/([^/]+)\/?$/, view: renderEndpoint, nav: 'endpoints', title: 'Endpoint' },
  { path: /^\/ui\/tokens\/?$/, view: renderTokens, nav: 'tokens', title: 'API tokens' },
  { path: /^\/ui\/audit\/?$/, view: renderAudit, nav: 'audit', title: 'Audit log' },
  { path: /^\/ui\/plugins\/?$/, view: renderPlugins, nav: 'plugins', title: 'Plugins' },
  { path: /^\/ui\/notifications\/?$/, view: renderNotifications, nav: 'notifications', title: 'Notifications' },
  { path: /^\/ui\/jobs\/?$/, view: renderJobs, nav: 'jobs', title: 'Jobs' },
  { path: /^\/ui\/usage\/?$/, view: renderUsage, nav: 'usage', title: 'Usage' },
  { path: /^\/ui\/consents\/?$/, view: renderConsents, nav: 'consents', title: 'Consents' },
  { path: /^\/ui\/mappings\/?$/, view: renderMappings, nav: 'mappings', title: 'Field mappings' },
  { path: /^\/ui\/mappings\/([a-z0-9_-]+)\/?$/, view: renderMapping, nav: 'mappings', title: 'Field mappings' },
  { path: /^\/ui\/easyappointments\/?$/, view: renderEasyAppointments, nav: 'easyappointments', title: 'Easy!Appointments' },
  { path: /^\/ui\/settings\/?$/, view: renderSettings, nav: 'settings', title: 'Settings' },
  { path: /^\/ui\/platform\/tenants\/?$/, view: renderTenants, nav: 'tenants', title: 'Tenants', platform: true, global: true },
  { path: /^\/ui\/platform\/apps\/?$/, view: renderPlatformApps, nav: 'apps', title: 'Platform OAuth apps', platform: true, global: true },
  { path: /^\/ui\/platform\/plugins\/?$/, view: renderMarketplace, nav: 'marketplace', title: 'Plugin marketplace', platform: true, global: true },
  { path: /^\/ui\/platform\/keys\/?$/, view: renderKeys, nav: 'keys', title: 'Keys and backups', platform: true, global: true },
  { path: /^\/ui\/platform\/audit\/?$/, view: renderPlatformAudit, nav: 'platform-audit', title: 'Platform audit log', platform: true, global: true },
];

// The tenant's pages, in sections; the first has no heading.
const NAV = [
  [null, [
    { key: 'overview', href: '/ui/', label: 'Overview' },
    { key: 'integrations', href: '/ui/integrations', label: 'Integrations' },
    { key: 'events', href: '/ui/events', label: 'Events' },
    { key: 'signups', href: '/ui/signups', label: 'Signups' },
    { key: 'endpoints', href: '/ui/endpoints', label: 'Outbound endpoints' },
    { key: 'plugins', href: '/ui/plugins', label: 'Plugins' },
  ]],
  ['Data', [
    { key: 'mappings', href: '/ui/mappings', label: 'Field mappings' },
    { key: 'easyappointments', href: '/ui/easyappointments', label: 'Easy!Appointments' },
    { key: 'consents', href: '/ui/consents', label: 'Consents' },
  ]],
  ['Activity', [
    { key: 'jobs', href: '/ui/jobs', label: 'Jobs' },
    { key: 'usage', href: '/ui/usage', label: 'Usage' },
    { key: 'audit', href: '/ui/audit', label: 'Audit log' },
  ]],
  ['Access', [
    { key: 'tokens', href: '/ui/tokens', label: 'API tokens' },
    { key: 'settings', href: '/ui/settings', label: 'Settings' },
  ]],
];
const PLATFORM_NAV = [
  { key: 'tenants', href: '/ui/platform/tenants', label: 'Tenants' },
  { key: 'apps', href: '/ui/platform/apps', label: 'Platform OAuth apps' },
  { key: 'marketplace', href: '/ui/platform/plugins', label: 'Plugin marketplace' },
  { key: 'keys', href: '/ui/platform/keys', label: 'Keys and backups' },
  { key: 'platform-audit', href: '/ui/platform/audit', label: 'Platform audit log' },
];

const ctx = {
  session: null,
  tenants: [],
  tenant: null, // the selected tenant object
  isPlatform: false,
  navigate,
  refreshTenants,
  refreshBell: () => {},
};

function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState({}, '', path);
  else history.pushState({}, '', path);
  route();
}

document.addEventListener('click', (event) => {
  const link = event.target.closest('a[href]');
  if (!link || link.target || link.hasAttribute('download')) return;
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || !(url.pathname === '/' || url.pathname.startsWith('/ui'))) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener('popstate', () => route());

api.whenSignedOut(() => {
  ctx.session = null;
  api.setCsrf(null);
  showSignIn('Your session has ended. Sign in again to continue.');
});

async function refreshTenants() {
  // A tenant admin's list holds its own tenant only, as it is now (after a rename too).
  const page = await api.get('/api/v1/tenants?limit=500');
  ctx.tenants = page.items || [];
  const saved = localStorage.getItem(TENANT_KEY);
  ctx.tenant = ctx.tenants.find((t) => t.id === ctx.tenant?.id)
    || ctx.tenants.find((t) => t.slug === saved)
    || ctx.tenants[0]
    || null;
  return ctx.tenants;
}

async function start() {
  try {
    const session = await api.get('/api/v1/session');
    await signedIn(session);
  } catch (err) {
    if (err.status === 401) showSignIn();
    else {
      clear(root).append(h('main', { class: 'main' }, errorNotice(err)));
    }
  }
}

async function signedIn(session) {
  ctx.session = session;
  ctx.isPlatform = session.role === 'platform_admin';
  api.setCsrf(session.csrf_token);
  await refreshTenants();
  route();
}

function showSignIn(message) {
  document.title = 'Sign in · tessera';
  renderSignIn(clear(root), message, async (session) => {
    await signedIn(session);
  });
}

async function signOut() {
  try { await api.del('/api/v1/session'); } catch { /* signed out either way */ }
  ctx.session = null;
  api.setCsrf(null);
  if (location.pathname !== '/ui/') history.pushState({}, '', '/ui/');
  showSignIn('You are signed out.');
}

function layout(active) {
  const sidebar = h('nav', { class: 'sidebar', 'aria-label': 'Main' });
  const toggle = h('button', {
    type: 'button', class: 'menu-toggle', 'aria-expanded': 'false',
    onclick: () => {
      const open = sidebar.classList.toggle('open');
      toggle.setAttribute('aria-expanded', String(open));
    },
  }, 'Menu');
  const link = (item) => h('a', { href: item.href, 'aria-current': item.key === active ? 'page' : null }, item.label);

  let switcher = null;
  if (ctx.isPlatform && ctx.tenants.length) {
    const select = h('select', {
      id: 'tenant-switch',
      onchange: () => {
        ctx.tenant = ctx.tenants.find((t) => t.id === select.value) || null;
        if (ctx.tenant) localStorage.setItem(TENANT_KEY, ctx.tenant.slug);
        route();
      },
    }, ctx.tenants.map((t) => h('option', { value: t.id, selected: t.id === ctx.tenant?.id }, t.name)));
    switcher = h('div', { class: 'tenant-switch' }, h('label', { for: 'tenant-switch' }, 'Tenant'), select);
  } else if (ctx.tenant) {
    switcher = h('div', { class: 'tenant-switch' }, h('label', {}, 'Tenant'), h('div', { class: 'brand-tenant' }, ctx.tenant.name));
  }

  const user = ctx.session.user;
  const bell = notificationBell(ctx);
  ctx.refreshBell = bell.refresh;
  const section = (title, items) => [title ? h('div', { class: 'nav-section' }, title) : null, items.map(link)];
  append(sidebar,
    h('div', { class: 'sidebar-head' },
      h('a', { class: 'brand', href: '/ui/' }, h('img', { src: '/assets/favicon.svg', alt: '' }), 'tessera'),
      h('div', { class: 'head-actions' }, bell.element, toggle)),
    switcher,
    h('div', { class: 'nav' },
      NAV.map(([title, items]) => section(title, items)),
      ctx.isPlatform ? section('Platform', PLATFORM_NAV) : null),
    h('div', { class: 'who' },
      h('strong', {}, user.email),
      ctx.isPlatform ? 'Platform admin' : 'Tenant admin',
      h('button', { type: 'button', class: 'secondary', onclick: signOut }, 'Sign out')));

  const main = h('main', { class: 'main', id: 'main', tabindex: '-1' });
  clear(root).append(
    h('a', { class: 'skip-link', href: '#main' }, 'Skip to content'),
    h('div', { class: 'layout' }, sidebar, h('div', { class: 'content' }, pausedBanner(), main)));
  bell.refresh();
  return main;
}

// Paused mode (GET /api/v1/status says so to every principal): a banner above every
// page, with a Resume button for the operator.
function pausedBanner() {
  const banner = h('div', { class: 'paused-banner', role: 'status', hidden: true });
  api.get('/api/v1/status').then((status) => {
    if (!status || !status.paused) return;
    append(banner,
      h('p', {}, h('strong', {}, 'tessera is paused. '),
        'No job, outbound webhook, email or token refresh leaves it until an operator resumes it (',
        h('code', {}, 'tessera resume'), ').'),
      ctx.isPlatform ? h('button', {
        type: 'button',
        onclick: async (event) => {
          event.currentTarget.disabled = true;
          try { await api.post('/api/v1/platform/resume', {}); } finally { route(); }
        },
      }, 'Resume') : null);
    banner.hidden = false;
  }).catch(() => { /* the page itself shows the error */ });
  return banner;
}

function append(el, ...children) {
  for (const c of children.flat(Infinity)) if (c) el.append(c);
}

async function route() {
  if (!ctx.session) return;
  const path = location.pathname;
  const match = ROUTES.map((r) => ({ r, m: path.match(r.path) })).find((x) => x.m);
  const main = layout(match?.r.nav);
  if (!match) {
    document.title = 'Not found · tessera';
    main.append(h('h1', {}, 'Page not found'), empty('Nothing here', 'Use the menu to find your way.'));
    return;
  }
  const { r, m } = match;
  document.title = `${r.title} · tessera`;
  if (r.platform && !ctx.isPlatform) {
    main.append(h('h1', {}, r.title), notice('error', 'Only platform admins can open this page.'));
    return;
  }
  if (!r.global && !ctx.tenant) {
    main.append(h('h1', {}, r.title), empty('No tenant yet',
      ctx.isPlatform ? 'Create a tenant first; its integrations, events and tokens then appear here.' : 'Your account has no tenant.',
      ctx.isPlatform ? h('p', {}, h('a', { href: '/ui/platform/tenants' }, 'Create a tenant')) : null));
    return;
  }
  main.append(loading());
  try {
    await r.view({ ...ctx, params: m.slice(1).map(decodeURIComponent), search: new URLSearchParams(location.search) }, main);
  } catch (err) {
    if (err.status === 401) return;
    main.querySelectorAll('.loading').forEach((el) => el.remove());
    main.append(errorNotice(err));
  }
}

start();
