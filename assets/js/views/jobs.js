import * as api from '../api.js';
import { h, clear, act, badge, notice, when, empty, table, errorNotice, loading } from '../dom.js';
import { page, panel } from './common.js';

const STATUSES = ['failed', 'pending', 'running', 'succeeded'];

export async function renderJobs(ctx, main) {
  const base = api.tenantPath(ctx.tenant.slug, '/jobs');
  page(main, 'Jobs', 'Background work with retries: processing webhooks, calls to other services, imports. A failed job keeps its last error and can be retried.');
  // Suggestions for the kind filter: every kind the list has shown.
  const kinds = new Set();
  const kindList = h('datalist', { id: 'job-kinds' });
  const kind = h('input', { type: 'search', id: 'jobs-kind', list: 'job-kinds', placeholder: 'any kind', value: ctx.search.get('kind') || '' });
  const status = h('select', { id: 'jobs-status' }, h('option', { value: '' }, 'Any status'),
    STATUSES.map((s) => h('option', { value: s, selected: (ctx.search.get('status') ?? 'failed') === s }, s[0].toUpperCase() + s.slice(1))));
  const apply = h('button', { type: 'submit', class: 'secondary' }, 'Filter');
  const output = h('div', { 'aria-live': 'polite' });
  const area = h('div', {});
  let rows = [];
  let cursor = null;

  const drawKinds = () => clear(kindList).append(...[...kinds].sort().map((k) => h('option', { value: k })));

  async function load(reset) {
    if (reset) { rows = []; cursor = null; clear(area).append(loading()); }
    const result = await api.get(`${base}${api.query({ kind: kind.value.trim(), status: status.value, cursor, limit: 50 })}`);
    rows = rows.concat(result.items || []);
    cursor = result.next_cursor;
    for (const job of rows) kinds.add(job.kind);
    drawKinds();
    draw();
  }

  function draw() {
    clear(area);
    if (!rows.length) {
      area.append(empty(status.value === 'failed' ? 'No failed jobs' : 'No jobs',
        status.value === 'failed' ? 'Everything that ran has succeeded or is still retrying.' : 'Nothing matches these filters.'));
      return;
    }
    area.append(table(
      [{ label: 'Kind' }, { label: 'Status' }, { label: 'Attempts', optional: true }, { label: 'Last error', optional: true }, { label: 'Updated', optional: true }, { label: '', actions: true }],
      rows,
      (job) => {
        const retry = job.status === 'failed' ? h('button', {
          type: 'button', class: 'secondary', 'aria-label': `Retry ${job.kind} job ${job.id}`,
          onclick: () => act(retry, output, async () => {
            const queued = await api.post(`${base}/${encodeURIComponent(job.id)}/retry`, {});
            Object.assign(job, queued);
            output.append(notice('ok', `The ${job.kind} job is queued again.`));
            draw();
          }),
        }, 'Retry') : null;
        const error = () => (job.last_error ? h('div', { class: 'error-text' }, job.last_error) : null);
        return [
          // A phone hides the optional columns: the error then shows under the kind.
          h('div', {}, h('code', {}, job.kind), h('div', { class: 'only-phone' }, error())),
          badge(job.status),
          `${job.attempts} of ${job.max_attempts}`,
          error() || h('span', { class: 'help' }, '—'),
          h('span', { title: `Created ${when(job.created_at)}` }, when(job.finished_at || job.updated_at)),
          retry,
        ];
      }));
    if (cursor) {
      const more = h('button', { type: 'button', class: 'secondary', onclick: () => act(more, output, () => load(false)) }, 'Load more');
      area.append(h('div', { class: 'row' }, more));
    }
  }

  const form = h('form', { class: 'inline-form', onsubmit: (e) => { e.preventDefault(); clear(output); act(apply, output, () => load(true)); } },
    h('div', { class: 'field' }, h('label', { for: 'jobs-kind' }, 'Kind'), kind, kindList),
    h('div', { class: 'field narrow' }, h('label', { for: 'jobs-status' }, 'Status'), status),
    apply);
  main.append(panel(null, form, output, area));
  drawKinds();
  try { await load(true); } catch (err) { clear(area).append(errorNotice(err)); }
}
