import * as api from '../api.js';
import { h, clear, act, when, empty, table, errorNotice } from '../dom.js';
import { page, panel } from './common.js';

export async function renderAudit(ctx, main) {
  const base = api.tenantPath(ctx.tenant.slug, '/audit');
  page(main, 'Audit log', 'Who did what: credential changes and reveals, tokens, endpoints, sign-ins. Never a secret value.');
  const filter = h('input', { type: 'search', id: 'audit-action', placeholder: 'e.g. connection.updated' });
  const apply = h('button', { type: 'submit', class: 'secondary' }, 'Filter');
  const area = h('div', {});
  const more = h('div', { class: 'row' });
  let cursor = null;
  let rows = [];

  async function load(reset) {
    if (reset) { cursor = null; rows = []; }
    // No `limit`: the audit query rejects numbers in the query string (core bug; default 50).
    const page = await api.get(`${base}${api.query({ action: filter.value.trim(), cursor })}`);
    rows = rows.concat(page.items || []);
    cursor = page.next_cursor;
    clear(area);
    clear(more);
    if (!rows.length) { area.append(empty('No entries', filter.value ? 'Nothing matches this action.' : 'Changes will be recorded here.')); return; }
    area.append(table(
      [{ label: 'When' }, { label: 'Action' }, { label: 'Target', optional: true }, { label: 'Actor', optional: true }, { label: 'IP', optional: true }],
      rows,
      (e) => [when(e.at), h('code', {}, e.action), e.target || '—', h('span', { class: 'mono' }, e.actor), e.ip || '—']));
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
  try { await load(true); } catch (err) { area.append(errorNotice(err)); }
}
