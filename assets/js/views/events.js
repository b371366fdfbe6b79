import * as api from '../api.js';
import { h, clear, act, badge, notice, when, empty, table, errorNotice, loading } from '../dom.js';
import { page, panel } from './common.js';

const STATUSES = ['received', 'processed', 'failed', 'rejected'];

// A link to the event, named by its type; a rejected delivery has none (its body was
// never trusted).
export function eventLink(e) {
  const name = e.type || (e.status === 'rejected' ? '(rejected delivery)' : '(untyped)');
  return h('a', { href: `/ui/events/${encodeURIComponent(e.id)}` }, name);
}

export async function renderEvents(ctx, main) {
  const base = api.tenantPath(ctx.tenant.slug, '/events');
  page(main, 'Events', 'Webhooks received from your providers, verified and stored durably.');
  const catalog = await api.get(`/api/v1/providers?tenant=${encodeURIComponent(ctx.tenant.slug)}`);
  const provider = h('select', { id: 'events-provider' }, h('option', { value: '' }, 'All providers'),
    (catalog.items || []).filter((p) => p.webhook).map((p) => h('option', { value: p.key, selected: ctx.search.get('provider') === p.key }, p.name)));
  const type = h('input', { type: 'search', id: 'events-type', placeholder: 'e.g. purchase.created', value: ctx.search.get('type') || '' });
  const status = h('select', { id: 'events-status' }, h('option', { value: '' }, 'Any status'),
    STATUSES.map((s) => h('option', { value: s, selected: ctx.search.get('status') === s }, s[0].toUpperCase() + s.slice(1))));
  const apply = h('button', { type: 'submit', class: 'secondary' }, 'Filter');
  const area = h('div', {});
  let cursor = null;
  let rows = [];

  async function load(reset) {
    if (reset) { cursor = null; rows = []; }
    clear(area).append(loading());
    const params = { provider: provider.value, type: type.value.trim(), status: status.value, cursor, limit: 50 };
    const result = await api.get(`${base}${api.query(params)}`);
    clear(area);
    rows = rows.concat(result.items || []);
    cursor = result.next_cursor;
    if (!rows.length) { area.append(empty('No events', 'Nothing matches; events appear as your providers send webhooks.')); return; }
    area.append(table(
      [{ label: 'Type' }, { label: 'Provider', optional: true }, { label: 'Status' }, { label: 'Received', optional: true }],
      rows,
      (e) => [eventLink(e), e.provider, badge(e.status), when(e.received_at)]));
    if (cursor) {
      const more = h('button', { type: 'button', class: 'secondary', onclick: () => act(more, area, () => load(false)) }, 'Load more');
      area.append(h('div', { class: 'row' }, more));
    }
  }
  const form = h('form', { class: 'inline-form', onsubmit: (e) => { e.preventDefault(); act(apply, area, () => load(true)); } },
    h('div', { class: 'field' }, h('label', { for: 'events-provider' }, 'Provider'), provider),
    h('div', { class: 'field' }, h('label', { for: 'events-type' }, 'Type'), type),
    h('div', { class: 'field' }, h('label', { for: 'events-status' }, 'Status'), status),
    apply);
  main.append(panel(null, form, area));
  try { await load(true); } catch (err) { clear(area).append(errorNotice(err)); }
}

export async function renderEvent(ctx, main) {
  const [id] = ctx.params;
  const path = api.tenantPath(ctx.tenant.slug, `/events/${encodeURIComponent(id)}`);
  const event = await api.get(path);
  page(main, event.type || (event.status === 'rejected' ? 'Rejected delivery' : 'Event'), `${event.provider} · received ${when(event.received_at)}`, h('a', { href: '/ui/events' }, '← All events'));
  const output = h('div', { 'aria-live': 'polite' });
  const replay = h('button', {
    type: 'button', class: 'secondary',
    onclick: () => act(replay, output, async () => {
      await api.post(`${path}/replay`, {});
      output.append(notice('ok', 'Replayed: the event is being processed again.'));
    }),
  }, 'Replay');
  main.append(panel('Details',
    h('dl', { class: 'kv' },
      h('dt', {}, 'Status'), h('dd', {}, badge(event.status)),
      h('dt', {}, 'External id'), h('dd', { class: 'mono' }, event.external_id || '—'),
      h('dt', {}, 'Processed'), h('dd', {}, when(event.processed_at)),
      event.error ? [h('dt', {}, event.status === 'rejected' ? 'Reason' : 'Error'), h('dd', { class: 'mono' }, event.error)] : null,
      event.detail?.message ? [h('dt', {}, 'Why'), h('dd', {}, event.detail.message)] : null),
    event.status === 'rejected' ? h('p', { class: 'help' }, 'Rejected events failed the signature check and are never processed.') : h('div', { class: 'row' }, replay),
    output),
  // A rejected delivery's body is not kept; what is known of it is.
  event.status === 'rejected'
    ? panel('Delivery', h('pre', { tabindex: '0', 'aria-label': 'Rejected delivery' }, JSON.stringify(event.detail ?? null, null, 2)))
    : panel('Payload', h('pre', { tabindex: '0', 'aria-label': 'Event payload' }, JSON.stringify(event.payload ?? null, null, 2))));
}
