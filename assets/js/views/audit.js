import * as api from '../api.js';
import { h, clear, act, when, empty, table, errorNotice, loading } from '../dom.js';
import { page, panel } from './common.js';

// tessera's own actors, which are no user or token.
const SYSTEM_ACTORS = {
  cli: 'Command line',
  anonymous: 'Anonymous',
  'oauth:callback': 'OAuth callback',
  'oauth:refresher': 'Token refresher',
};

// The actor by name (a user's email, a token's name), the raw id on hover and for
// screen readers; a user or token since deleted falls back to its id.
export function actorCell(entry) {
  const name = entry.actor_name || SYSTEM_ACTORS[entry.actor];
  if (!name) return h('span', { class: 'mono' }, entry.actor);
  const kind = entry.actor.startsWith('token:') ? 'token' : entry.actor.startsWith('user:') ? 'user' : 'tessera';
  return h('span', { class: 'actor', title: entry.actor, dataset: { actor: entry.actor } },
    name, h('span', { class: 'visually-hidden' }, ` (${kind} ${entry.actor})`));
}

// A filterable, paged audit table over `base` (the tenant's or the platform's log).
function auditLog(main, base, { columns, cells, emptyText }) {
  const filter = h('input', { type: 'search', id: 'audit-action', placeholder: 'e.g. connection.updated' });
  const apply = h('button', { type: 'submit', class: 'secondary' }, 'Filter');
  const area = h('div', {});
  const more = h('div', { class: 'row' });
  let cursor = null;
  let rows = [];

  async function load(reset) {
    if (reset) { cursor = null; rows = []; clear(area).append(loading()); clear(more); }
    const result = await api.get(`${base}${api.query({ action: filter.value.trim(), cursor, limit: 50 })}`);
    rows = rows.concat(result.items || []);
    cursor = result.next_cursor;
    clear(area);
    clear(more);
    if (!rows.length) { area.append(empty('No entries', filter.value ? 'Nothing matches this action.' : emptyText)); return; }
    area.append(table(columns, rows, cells));
    if (cursor) {
      const button = h('button', { type: 'button', class: 'secondary', onclick: () => act(button, area, () => load(false)) }, 'Load more');
      more.append(button);
    }
  }
  const form = h('form', {
    class: 'inline-form',
    onsubmit: (event) => { event.preventDefault(); act(apply, area, () => load(true)); },
  }, h('div', { class: 'field' }, h('label', { for: 'audit-action' }, 'Action'), filter), apply);
  main.append(panel(null, form, area, more));
  return load(true).catch((err) => clear(area).append(errorNotice(err)));
}

const whenCell = (e) => h('span', { class: 'when' }, when(e.at));

// On a phone the optional columns hide; the action cell then says who (and where).
const actionCell = (e, ...phoneOnly) => h('div', {}, h('code', { class: 'action' }, e.action),
  h('div', { class: 'help only-phone' }, phoneOnly));

export async function renderAudit(ctx, main) {
  page(main, 'Audit log', 'Who did what: credential changes and reveals, tokens, endpoints, sign-ins. Never a secret value.');
  await auditLog(main, api.tenantPath(ctx.tenant.slug, '/audit'), {
    columns: [{ label: 'When' }, { label: 'Action' }, { label: 'Target', optional: true }, { label: 'Actor', optional: true }, { label: 'IP', optional: true }],
    cells: (e) => [whenCell(e), actionCell(e, 'by ', actorCell(e)), e.target || '—', actorCell(e), e.ip || '—'],
    emptyText: 'Changes will be recorded here.',
  });
}

// The tenant an entry concerns: its slug, or the one it had when it was deleted.
function tenantCell(e) {
  if (!e.tenant) return h('span', { class: 'help' }, 'Platform');
  if (!e.tenant.slug) return h('span', { class: 'mono' }, e.tenant.id);
  return h('span', { title: e.tenant.id }, h('code', {}, e.tenant.slug), e.tenant.deleted ? h('span', { class: 'help' }, ' (deleted)') : null);
}

export async function renderPlatformAudit(ctx, main) {
  page(main, 'Platform audit log', 'What the platform did: OAuth apps, tenants created and deleted, backups, and every action of a platform admin or token inside a tenant.');
  await auditLog(main, '/api/v1/platform/audit', {
    columns: [{ label: 'When' }, { label: 'Action' }, { label: 'Tenant', optional: true }, { label: 'Target', optional: true }, { label: 'Actor', optional: true }, { label: 'IP', optional: true }],
    cells: (e) => [whenCell(e), actionCell(e, tenantCell(e), ' · by ', actorCell(e)), tenantCell(e), e.target || '—', actorCell(e), e.ip || '—'],
    emptyText: 'Platform changes will be recorded here.',
  });
}
