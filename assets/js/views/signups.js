import * as api from '../api.js';
import { h, clear, act, badge, notice, when, empty, table, errorNotice, loading } from '../dom.js';
import { page, panel } from './common.js';

const STATUSES = ['pending', 'approved', 'rejected', 'invited'];
const PAST = { approve: 'approved', invite: 'invited', reject: 'rejected' };

export async function renderSignups(ctx, main) {
  const base = api.tenantPath(ctx.tenant.slug, '/signups');
  page(main, 'Signups', 'People who bought a ticket or purchased through a connected provider, waiting for your decision.');
  const status = h('select', { id: 'signups-status', onchange: () => load() },
    STATUSES.map((s) => h('option', { value: s }, s[0].toUpperCase() + s.slice(1))), h('option', { value: '' }, 'All'));
  const area = h('div', {});
  const output = h('div', { 'aria-live': 'polite' });
  main.append(panel(null,
    h('div', { class: 'inline-form' }, h('div', { class: 'field' }, h('label', { for: 'signups-status' }, 'Show'), status)),
    output, area));

  // Opened from a notification: show the list that holds this signup, and point it out.
  const wanted = ctx.search.get('signup');
  if (wanted) {
    try {
      const signup = await api.get(`${base}/${encodeURIComponent(wanted)}`);
      status.value = signup.status;
    } catch (err) {
      output.append(errorNotice(err));
    }
  }

  async function load() {
    clear(area).append(loading());
    const result = await api.get(`${base}${api.query({ status: status.value, limit: 100 })}`);
    clear(area);
    const items = result.items || [];
    if (!items.length) { area.append(empty('No signups', status.value === 'pending' ? 'Nobody is waiting. New purchases show up here.' : 'Nothing with this status.')); return; }
    area.append(table(
      [{ label: 'Person' }, { label: 'Source', optional: true }, { label: 'Status' }, { label: 'Since', optional: true }, { label: '', actions: true }],
      items,
      (s) => {
        const name = [s.first_name, s.last_name].filter(Boolean).join(' ');
        const decide = (verb, label, cls) => {
          const b = h('button', {
            type: 'button', class: cls, 'aria-label': `${label} ${s.email}`,
            onclick: () => act(b, output, async () => {
              await api.post(`${base}/${encodeURIComponent(s.id)}/${verb}`, {});
              output.append(notice('ok', `${s.email}: ${PAST[verb]}.`));
              await load();
            }),
          }, label);
          return b;
        };
        return [
          h('div', { dataset: { signup: s.id } }, h('strong', {}, name || s.email), name ? h('div', { class: 'help' }, s.email) : null),
          (s.sources || []).map((src) => h('div', { class: 'help' }, `${src.provider}${src.event_name ? ` · ${src.event_name}` : ''}`)),
          badge(s.status),
          when(s.created_at),
          s.status === 'pending' ? h('div', { class: 'row end' }, decide('approve', 'Approve', ''), decide('invite', 'Invite', 'secondary'), decide('reject', 'Reject', 'danger')) : null,
        ];
      }));
  }
  try {
    await load();
    const row = wanted ? area.querySelector(`[data-signup="${CSS.escape(wanted)}"]`)?.closest('tr') : null;
    if (row) {
      row.classList.add('highlight');
      row.scrollIntoView({ block: 'center' });
    }
  } catch (err) { clear(area).append(errorNotice(err)); }
}
