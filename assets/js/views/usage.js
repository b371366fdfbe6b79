import * as api from '../api.js';
import { h, clear, empty, table, errorNotice, loading } from '../dom.js';
import { hourlyBars, dailyBars } from '../chart.js';
import { page, panel, possessive } from './common.js';
import { actorCell } from './audit.js';

const GREEN = '#2f9e6b';
const RED = '#e5534b';
const HOUR = 3600 * 1000;
const RANGES = [
  { value: '24h', label: 'Last 24 hours', hours: 24 },
  { value: '7d', label: 'Last 7 days', hours: 24 * 7 },
  { value: '30d', label: 'Last 30 days', hours: 24 * 30, daily: true },
];
const SERIES = [
  { key: 'ok', label: 'Answered 2xx/3xx', color: GREEN, legend: 'good' },
  { key: 'errors', label: 'Answered 4xx/5xx', color: RED, legend: 'badc' },
];

const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

// Every hour (or day) of the range, counted from the API's non-empty hours.
function buckets(byHour, fromMs, toMs, daily) {
  const out = new Map();
  const keyOf = (ms) => (daily ? iso(ms).slice(0, 10) : iso(ms));
  for (let t = fromMs; t < toMs; t += daily ? 24 * HOUR : HOUR) out.set(keyOf(t), { ok: 0, errors: 0 });
  for (const b of byHour) {
    const key = keyOf(new Date(b.hour).getTime());
    const slot = out.get(key);
    if (!slot) continue;
    for (const [cls, n] of Object.entries(b.by_status_class || {})) {
      if (cls === '4xx' || cls === '5xx') slot.errors += n; else slot.ok += n;
    }
  }
  return [...out.entries()].map(([key, v]) => (daily ? { day: key, ...v } : { hour: key, ...v }));
}

export async function renderUsage(ctx, main) {
  const base = api.tenantPath(ctx.tenant.slug, '/usage');
  page(main, 'Usage', `Requests to tessera's API by ${possessive(ctx.tenant.name)} tokens and admins, counted per hour.`);
  const range = h('select', { id: 'usage-range', onchange: () => load() },
    RANGES.map((r) => h('option', { value: r.value, selected: r.value === (ctx.search.get('range') || '7d') }, r.label)));
  const summary = h('div', { class: 'grid', id: 'usage-summary' });
  const chart = h('div', { id: 'usage-chart' });
  const tables = h('div', { class: 'grid two top' });
  main.append(
    h('div', { class: 'inline-form' }, h('div', { class: 'field narrow' }, h('label', { for: 'usage-range' }, 'Period'), range)),
    summary, panel('Requests over time', chart), tables);

  async function load() {
    const chosen = RANGES.find((r) => r.value === range.value) || RANGES[1];
    const now = Date.now();
    // Whole hours (or days), so the first bucket is not a fraction.
    const unit = chosen.daily ? 24 * HOUR : HOUR;
    const fromMs = Math.floor((now - chosen.hours * HOUR) / unit) * unit + unit;
    clear(summary);
    clear(tables);
    clear(chart).append(loading());
    let usage;
    try {
      usage = await api.get(`${base}${api.query({ from: iso(fromMs), to: iso(now + 1000) })}`);
    } catch (err) {
      clear(chart).append(errorNotice(err));
      return;
    }
    const classes = usage.by_status_class || {};
    const errors = (classes['4xx'] || 0) + (classes['5xx'] || 0);
    summary.append(
      stat('Requests', usage.total, chosen.label.toLowerCase()),
      stat('Errors', errors, usage.total ? `${Math.round((errors / usage.total) * 100)} % answered 4xx or 5xx` : 'nothing called'),
      stat('Callers', (usage.by_token || []).length, 'tokens and signed-in admins'));
    const series = buckets(usage.by_hour || [], fromMs, now + 1, chosen.daily);
    clear(chart).append(chosen.daily
      ? dailyBars(series, SERIES, 'Requests per day')
      : hourlyBars(series, SERIES, 'Requests per hour'));
    if (!usage.total) chart.append(h('p', { class: 'help' }, 'No requests in this period.'));

    const callers = [...(usage.by_token || [])].sort((a, b) => b.count - a.count);
    const routes = [...(usage.by_route || [])].sort((a, b) => b.count - a.count);
    tables.append(
      panel('By token', callers.length
        ? table([{ label: 'Token or admin' }, { label: 'Requests' }], callers,
          (c) => [actorCell({ actor: c.actor, actor_name: c.name }), String(c.count)])
        : empty('No callers', 'Tokens and admins appear here once they call the API.')),
      panel('By route', routes.length
        ? table([{ label: 'Route' }, { label: 'Requests' }], routes, (r) => [h('code', { class: 'route' }, r.route), String(r.count)])
        : empty('No routes', 'Nothing was called in this period.')));
  }

  await load();
}

function stat(title, value, detail) {
  return h('div', { class: 'card' }, h('span', { class: 'stat-label' }, title), h('span', { class: 'stat' }, String(value ?? '—')), h('span', { class: 'stat-label' }, detail));
}
