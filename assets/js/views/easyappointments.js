// Easy!Appointments: import bookers as signups, booking statistics and insights. Each
// part is a panel of its own, in the same look.
import * as api from '../api.js';
import { h, clear, act, badge, notice, empty, table, errorNotice, loading, field } from '../dom.js';
import { dailyBars } from '../chart.js';
import { page, panel, possessive } from './common.js';

const PROVIDER = 'easyappointments';
const JOB_KIND = 'easyappointments.import';
const BRAND = '#3b5bdb';
const POLL_MS = 1000;
const POLL_FOR_MS = 60000;

const day = (date) => date.toISOString().slice(0, 10);
const offsetDays = (n) => day(new Date(Date.now() + n * 86400000));
const validDay = (value) => /^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(new Date(`${value}T00:00:00Z`).getTime());

function dateRange(prefix, from, to) {
  const start = h('input', { type: 'date', id: `${prefix}-from`, value: from, required: true });
  const end = h('input', { type: 'date', id: `${prefix}-to`, value: to, required: true });
  // Returns an error sentence, or null when the range is usable.
  const problem = () => {
    if (!validDay(start.value) || !validDay(end.value)) return 'Choose both dates.';
    if (start.value > end.value) return 'The end date is before the start date.';
    return null;
  };
  return { start, end, problem };
}

export async function renderEasyAppointments(ctx, main) {
  const tenant = ctx.tenant.slug;
  page(main, 'Easy!Appointments', `Bring ${possessive(ctx.tenant.name)} bookings into tessera: import the people who booked as signups, and see how bookings add up.`);
  const connections = await api.get(api.tenantPath(tenant, '/connections?limit=500'));
  const connection = (connections.items || []).find((c) => c.provider === PROVIDER);
  if (!connection) {
    main.append(empty('Easy!Appointments is not connected',
      'Connect it with its API token and your server’s address; imports and statistics read from there.',
      h('p', {}, h('a', { class: 'button', href: `/ui/integrations/${PROVIDER}` }, 'Connect Easy!Appointments'))));
    return;
  }
  main.append(h('div', { class: 'row', id: 'ea-connection' }, badge(connection.status),
    h('span', { class: 'help' }, `Reading from ${connection.config?.base_url || 'your Easy!Appointments server'}`),
    h('a', { href: `/ui/integrations/${PROVIDER}` }, 'Connection settings')));
  const sections = h('div', { class: 'ea-sections' });
  main.append(sections);
  const anthropic = (connections.items || []).find((c) => c.provider === 'anthropic');
  sections.append(importPanel(ctx), statsPanel(ctx), insightsPanel(ctx, anthropic));
}

function importPanel(ctx) {
  const base = api.tenantPath(ctx.tenant.slug, '/easyappointments/import');
  const range = dateRange('import', offsetDays(-30), offsetDays(30));
  const status = h('input', { type: 'text', id: 'import-status', placeholder: 'e.g. Booked (empty: every status)', autocomplete: 'off' });
  const invite = h('input', { type: 'checkbox', id: 'import-invite' });
  const output = h('div', { 'aria-live': 'polite', id: 'import-result' });
  const start = h('button', { type: 'submit' }, 'Import bookers');
  const form = h('form', {
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      clear(output);
      const problem = range.problem();
      if (problem) { output.append(notice('error', problem)); range.start.focus(); return; }
      const body = { date_from: range.start.value, date_to: range.end.value, auto_invite: invite.checked };
      const statuses = status.value.split(',').map((s) => s.trim()).filter(Boolean);
      if (statuses.length) body.status_filter = statuses.length === 1 ? statuses[0] : statuses;
      await act(start, output, async () => {
        const queued = await api.post(base, body);
        const line = h('div', {}, notice('info', `Import queued for ${body.date_from} to ${body.date_to}. Waiting for it to run…`));
        output.append(line);
        await followJob(ctx, queued.job_id, line);
      });
    },
  },
  h('div', { class: 'grid two' }, field('From', range.start), field('To', range.end)),
  field('Appointment status', status, 'Only appointments with this status (several: separate with commas).'),
  h('div', { class: 'field' }, h('label', { for: invite.id, class: 'check' }, invite, 'Invite new signups at once (email through Resend when connected)')),
  start, output);
  return panel('Import bookers as signups', h('p', { class: 'help' }, 'Each person who booked in the range becomes a pending signup (once, however many appointments). It runs in the background; you can leave this page.'), form);
}

// Polls the job list until the import finished (or stops waiting after a minute).
async function followJob(ctx, jobId, line) {
  const list = api.tenantPath(ctx.tenant.slug, `/jobs${api.query({ kind: JOB_KIND, limit: 20 })}`);
  const deadline = Date.now() + POLL_FOR_MS;
  while (Date.now() < deadline) {
    const jobs = await api.get(list);
    const job = (jobs.items || []).find((j) => j.id === jobId);
    if (job?.status === 'succeeded') {
      clear(line).append(h('div', { class: 'notice ok', role: 'status' }, 'Import finished. ', h('a', { href: '/ui/signups' }, 'Review the pending signups')));
      return;
    }
    if (job?.status === 'failed') {
      clear(line).append(h('div', { class: 'notice error', role: 'alert' }, `The import failed: ${job.last_error || 'no reason given'}. `,
        h('a', { href: `/ui/jobs?kind=${JOB_KIND}&status=failed` }, 'See it in Jobs, where it can be retried')));
      return;
    }
    if (job?.last_error) {
      clear(line).append(notice('warn', `Easy!Appointments did not answer yet (${job.last_error}); tessera retries on its own.`));
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  clear(line).append(h('div', { class: 'notice info', role: 'status' }, 'The import is still running in the background. ',
    h('a', { href: `/ui/jobs?kind=${JOB_KIND}&status=` }, 'Follow it in Jobs')));
}

function statsPanel(ctx) {
  const base = api.tenantPath(ctx.tenant.slug, '/easyappointments/stats');
  const range = dateRange('stats', offsetDays(-30), offsetDays(0));
  const show = h('button', { type: 'submit', class: 'secondary' }, 'Show');
  const area = h('div', { 'aria-live': 'polite', id: 'ea-stats' });
  const load = async () => {
    clear(area);
    const problem = range.problem();
    if (problem) { area.append(notice('error', problem)); return; }
    area.append(loading('Asking Easy!Appointments…'));
    let stats;
    try {
      stats = await api.get(`${base}${api.query({ date_from: range.start.value, date_to: range.end.value })}`);
    } catch (err) {
      clear(area).append(errorNotice(err));
      return;
    }
    clear(area);
    if (!stats.total) { area.append(empty('No bookings', `Nothing was booked between ${stats.date_from} and ${stats.date_to}.`)); return; }
    area.append(
      h('div', { class: 'grid' },
        statCard('Bookings', stats.total, `${stats.date_from} to ${stats.date_to}`),
        statCard('Services', (stats.by_service || []).length, 'booked at least once'),
        statCard('Busiest day', busiest(stats.by_day), '')),
      dailyBars(everyDay(stats), [{ key: 'count', label: 'Bookings', color: BRAND, legend: 'series-brand' }], 'Bookings per day'),
      h('div', { class: 'grid two' },
        h('div', {}, h('h3', {}, 'By service'), countTable('Service', stats.by_service, 'service')),
        h('div', {}, h('h3', {}, 'By status'), countTable('Status', stats.by_status, 'status'))));
  };
  const form = h('form', { class: 'inline-form', novalidate: true, onsubmit: (e) => { e.preventDefault(); act(show, null, load); } },
    field('From', range.start), field('To', range.end), show);
  const section = panel('Bookings', form, area);
  load();
  return section;
}

// Every day of the range, so quiet days show as gaps.
function everyDay(stats) {
  const counts = new Map((stats.by_day || []).map((d) => [d.day, d.count]));
  const out = [];
  const end = new Date(`${stats.date_to}T00:00:00Z`).getTime();
  for (let t = new Date(`${stats.date_from}T00:00:00Z`).getTime(); t <= end && out.length < 400; t += 86400000) {
    const key = new Date(t).toISOString().slice(0, 10);
    out.push({ day: key, count: counts.get(key) || 0 });
  }
  return out;
}

function busiest(byDay) {
  const top = [...(byDay || [])].sort((a, b) => b.count - a.count)[0];
  if (!top) return '—';
  return new Date(`${top.day}T00:00:00Z`).toLocaleDateString(undefined, { day: 'numeric', month: 'short', timeZone: 'UTC' });
}

function countTable(label, rows, key, sort = true, counted = 'Bookings') {
  if (!rows?.length) return empty('Nothing', '');
  const sorted = sort ? [...rows].sort((a, b) => b.count - a.count) : rows;
  return table([{ label }, { label: counted }], sorted, (r) => [r[key], String(r.count)]);
}

function statCard(title, value, detail) {
  return h('div', { class: 'card' }, h('span', { class: 'stat-label' }, title), h('span', { class: 'stat' }, String(value)), detail ? h('span', { class: 'stat-label' }, detail) : null);
}

const ANALYSES = [
  ['overview', 'Overview'],
  ['patterns', 'Booking patterns'],
  ['demographics', 'Who books'],
  ['conversion', 'Conversion'],
];

const percent = (rate) => (rate === null || rate === undefined ? '—' : `${Math.round(rate * 100)} %`);

function insightsPanel(ctx, anthropic) {
  const base = api.tenantPath(ctx.tenant.slug, '/easyappointments/insights');
  const range = dateRange('insights', offsetDays(-30), offsetDays(30));
  const kind = h('select', { id: 'insights-type' }, ANALYSES.map(([value, label]) => h('option', { value }, label)));
  const summary = h('input', { type: 'checkbox', id: 'insights-narrative', disabled: !anthropic });
  const show = h('button', { type: 'submit', class: 'secondary' }, 'Analyse bookings');
  const area = h('div', { 'aria-live': 'polite', id: 'ea-insights' });
  const load = async () => {
    clear(area);
    const problem = range.problem();
    if (problem) { area.append(notice('error', problem)); return; }
    area.append(loading(summary.checked ? 'Reading the bookings and asking Claude for a summary…' : 'Reading the bookings…'));
    let res;
    try {
      res = await api.get(`${base}${api.query({ date_from: range.start.value, date_to: range.end.value, analysis_type: kind.value, narrative: summary.checked ? 'true' : undefined })}`);
    } catch (err) {
      clear(area).append(errorNotice(err));
      return;
    }
    clear(area);
    if (res.narrative) {
      area.append(h('figure', { class: 'card narrative', id: 'insights-summary' },
        h('blockquote', {}, res.narrative),
        h('figcaption', { class: 'help' }, `Written by ${res.model} from the figures below only (no names or emails were sent).`)));
    }
    area.append(...renderFigures(res.analysis_type, res.figures || {}));
  };
  const form = h('form', { novalidate: true, onsubmit: (e) => { e.preventDefault(); act(show, null, load); } },
    h('div', { class: 'grid two' }, field('From', range.start), field('To', range.end)),
    field('Analysis', kind),
    h('div', { class: 'field' },
      h('label', { for: summary.id, class: 'check' }, summary, 'Add a short written summary from Claude'),
      h('div', { class: 'help' }, anthropic
        ? 'Uses your own Anthropic account; only counts and shares are sent, never a name or an email.'
        : ['Connect ', h('a', { href: '/ui/integrations/anthropic' }, 'Anthropic'), ' to get a written summary.'])),
    show);
  return panel('Insights', form, area);
}

function renderFigures(kind, f) {
  if (kind === 'patterns') {
    const lead = f.lead_time_days;
    return [
      h('div', { class: 'grid' },
        statCard('Bookings', f.total ?? 0, ''),
        statCard('Booked ahead', lead ? `${lead.median} d` : '—', lead ? `median; average ${lead.average} d` : 'no booking times')),
      h('div', { class: 'grid two' },
        h('div', {}, h('h3', {}, 'By weekday'), countTable('Weekday', f.by_weekday, 'weekday', false)),
        h('div', {}, h('h3', {}, 'By hour'), countTable('Starts at', (f.by_hour || []).map((r) => ({ ...r, hour: `${String(r.hour).padStart(2, '0')}:00` })), 'hour', false))),
    ];
  }
  if (kind === 'demographics') {
    return [
      h('div', { class: 'grid' },
        statCard('Customers', f.customers ?? 0, 'who booked'),
        statCard('With email', f.with_email ?? 0, ''),
        statCard('With phone', f.with_phone ?? 0, '')),
      h('div', { class: 'grid two' },
        h('div', {}, h('h3', {}, 'Email domains'), countTable('Domain', f.email_domains, 'domain', true, 'Customers')),
        h('div', {}, h('h3', {}, 'Cities'), countTable('City', f.cities, 'city', true, 'Customers'))),
    ];
  }
  if (kind === 'conversion') {
    const s = f.signups || {};
    return [
      h('div', { class: 'grid' },
        statCard('Booked', f.booked ?? 0, ''),
        statCard('Attended', f.attended ?? 0, 'started and not cancelled'),
        statCard('Cancelled', f.cancelled ?? 0, ''),
        statCard('Attendance', percent(f.attendance_rate), 'of attended and cancelled')),
      h('h3', {}, 'The bookers in the signup queue'),
      table([{ label: 'Bookers' }, { label: 'In the queue' }, { label: 'Pending' }, { label: 'Approved' }, { label: 'Invited' }, { label: 'Approval', optional: true }],
        [s], () => [String(f.bookers ?? 0), String(s.in_queue ?? 0), String(s.pending ?? 0), String(s.approved ?? 0), String(s.invited ?? 0), percent(f.approval_rate)]),
    ];
  }
  return [
    h('div', { class: 'grid' },
      statCard('Bookings', f.total ?? 0, ''),
      statCard('Services', (f.by_service || []).length, 'booked at least once'),
      statCard('Providers', (f.by_provider || []).length, 'with bookings')),
    h('div', { class: 'grid two' },
      h('div', {}, h('h3', {}, 'By status'), countTable('Status', f.by_status, 'status')),
      h('div', {}, h('h3', {}, 'By provider'), countTable('Provider', f.by_provider, 'provider'))),
  ];
}
