import * as api from '../api.js';
import { h, svg, clear, act, notice, when, ago, empty, errorNotice, loading } from '../dom.js';
import { page, panel } from './common.js';

// Counted up to this many; beyond it the bell says "99+".
const COUNT_LIMIT = 99;

// The bell in the sidebar head: a link to the list with the unread count. The count is
// filled in after the page draws (and again after marking read), so it never delays it.
export function notificationBell(ctx) {
  const count = h('span', { class: 'bell-count', hidden: true });
  const link = h('a', { class: 'bell', href: '/ui/notifications', id: 'notification-bell', 'aria-label': 'Notifications' },
    svg('svg', { viewBox: '0 0 24 24', width: 20, height: 20, 'aria-hidden': 'true', focusable: 'false' },
      svg('path', { d: 'M12 3a6 6 0 0 0-6 6v3.6l-1.6 2.7A1 1 0 0 0 5.3 17h13.4a1 1 0 0 0 .9-1.7L18 12.6V9a6 6 0 0 0-6-6z', fill: 'none', stroke: 'currentColor', 'stroke-width': 1.8, 'stroke-linejoin': 'round' }),
      svg('path', { d: 'M9.5 19.5a2.5 2.5 0 0 0 5 0', fill: 'none', stroke: 'currentColor', 'stroke-width': 1.8, 'stroke-linecap': 'round' })),
    count);
  const refresh = async () => {
    if (!ctx.tenant) return;
    let result;
    try {
      result = await api.get(api.tenantPath(ctx.tenant.slug, `/notifications${api.query({ unread: 'true', limit: COUNT_LIMIT })}`));
    } catch {
      // The bell is a hint; the page itself reports what went wrong with the session.
      return;
    }
    const n = (result.items || []).length;
    const text = result.next_cursor ? `${COUNT_LIMIT}+` : String(n);
    count.textContent = text;
    count.hidden = n === 0;
    link.setAttribute('aria-label', n ? `Notifications, ${text} unread` : 'Notifications, none unread');
    link.dataset.unread = text;
  };
  return { element: ctx.tenant ? link : null, refresh };
}

// Where a notification points: the connection, the endpoint or the signups.
function target(n) {
  const d = n.data || {};
  if (n.kind === 'connection.refresh_failed' && d.provider) return { href: `/ui/integrations/${encodeURIComponent(d.provider)}`, label: `Reconnect ${d.provider}` };
  if (n.kind === 'webhook_endpoint.disabled' && d.endpoint_id) return { href: `/ui/endpoints/${encodeURIComponent(d.endpoint_id)}`, label: 'Open the endpoint' };
  if (n.kind === 'signup.created') return { href: d.signup_id ? `/ui/signups?signup=${encodeURIComponent(d.signup_id)}` : '/ui/signups', label: 'Review the signup' };
  return null;
}

export async function renderNotifications(ctx, main) {
  const base = api.tenantPath(ctx.tenant.slug, '/notifications');
  page(main, 'Notifications', 'What needs your attention: new signups, connections to reconnect, endpoints tessera stopped delivering to.');
  const show = h('select', { id: 'notifications-show', onchange: () => act(show, output, () => load(true)) },
    h('option', { value: 'unread' }, 'Unread'), h('option', { value: 'all' }, 'All'));
  const markAll = h('button', { type: 'button', class: 'secondary', id: 'mark-all-read' }, 'Mark all as read');
  const output = h('div', { 'aria-live': 'polite' });
  const area = h('div', {});
  main.append(panel(null,
    h('div', { class: 'inline-form' },
      h('div', { class: 'field narrow' }, h('label', { for: 'notifications-show' }, 'Show'), show),
      markAll),
    output, area));

  let rows = [];
  let cursor = null;
  const markRead = (n) => api.post(`${base}/${encodeURIComponent(n.id)}/read`, {});

  async function load(reset) {
    if (reset) { rows = []; cursor = null; clear(area).append(loading()); }
    const result = await api.get(`${base}${api.query({ unread: show.value === 'unread' ? 'true' : '', cursor, limit: 50 })}`);
    rows = rows.concat(result.items || []);
    cursor = result.next_cursor;
    draw();
  }

  function draw() {
    clear(area);
    markAll.disabled = !rows.some((n) => !n.read_at);
    if (!rows.length) {
      area.append(empty(show.value === 'unread' ? 'Nothing unread' : 'No notifications yet',
        show.value === 'unread' ? 'You are up to date.' : 'New signups, failing connections and disabled endpoints show up here.'));
      return;
    }
    area.append(h('ul', { class: 'notification-list' }, rows.map((n) => {
      const to = target(n);
      const read = h('button', {
        type: 'button', class: 'secondary', 'aria-label': `Mark “${n.title}” as read`,
        onclick: () => act(read, output, async () => {
          await markRead(n);
          n.read_at = new Date().toISOString();
          ctx.refreshBell();
          if (show.value === 'unread') rows = rows.filter((x) => x !== n);
          draw();
        }),
      }, 'Mark read');
      const open = to ? h('a', {
        href: to.href, class: 'button secondary',
        // Following the link counts as reading it.
        onclick: () => { if (!n.read_at) markRead(n).then(() => ctx.refreshBell(), () => {}); },
      }, to.label) : null;
      return h('li', { class: `notification${n.read_at ? '' : ' unread'}`, dataset: { kind: n.kind } },
        h('div', { class: 'notification-text' },
          h('strong', {}, n.title),
          h('p', {}, n.body),
          h('span', { class: 'help', title: when(n.created_at) }, `${ago(n.created_at)}${n.read_at ? ' · read' : ''}`)),
        h('div', { class: 'row end' }, open, n.read_at ? null : read));
    })));
    if (cursor) {
      const more = h('button', { type: 'button', class: 'secondary', onclick: () => act(more, output, () => load(false)) }, 'Load more');
      area.append(h('div', { class: 'row' }, more));
    }
  }

  markAll.addEventListener('click', () => act(markAll, output, async () => {
    const unread = rows.filter((n) => !n.read_at);
    // One at a time: the API marks one notification per request.
    for (const n of unread) {
      await markRead(n);
      n.read_at = new Date().toISOString();
    }
    ctx.refreshBell();
    await load(true);
    output.append(notice('ok', `${unread.length} marked as read.`));
  }));

  try { await load(true); } catch (err) { clear(area).append(errorNotice(err)); }
}
