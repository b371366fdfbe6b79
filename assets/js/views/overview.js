import * as api from '../api.js';
import { h, clear, badge, when, empty, table, errorNotice, loading } from '../dom.js';
import { hourlyBars } from '../chart.js';
import { page, panel } from './common.js';
import { eventLink } from './events.js';

const GREEN = '#2f9e6b';
const RED = '#e5534b';

export async function renderOverview(ctx, main) {
  const t = ctx.tenant.slug;
  page(main, 'Overview', `${ctx.tenant.name} at a glance.`);
  const stats = h('div', { class: 'grid', id: 'overview-stats' });
  const charts = h('div', { class: 'grid two' });
  const recent = h('div', {}, loading());
  main.append(stats, charts, panel('Recent events', recent));

  const settle = (promise) => promise.then((value) => ({ value }), (error) => ({ error }));
  const [connections, signups, endpoints, events, inbound, outbound] = await Promise.all([
    settle(api.get(api.tenantPath(t, '/connections?limit=500'))),
    settle(api.get(api.tenantPath(t, '/signups?status=pending&limit=500'))),
    settle(api.get(api.tenantPath(t, '/webhook-endpoints?limit=500'))),
    settle(api.get(api.tenantPath(t, '/events?limit=8'))),
    settle(api.get(api.tenantPath(t, '/events/stats?hours=24'))),
    settle(api.get(api.tenantPath(t, '/webhook-endpoints/stats?hours=24'))),
  ]);

  // Connections by status.
  const conns = connections.value?.items || [];
  const byStatus = {};
  for (const c of conns) byStatus[c.status] = (byStatus[c.status] || 0) + 1;
  const attention = conns.filter((c) => c.status !== 'active');
  stats.append(statCard('Connections', connections.error ? '—' : conns.length,
    connections.error ? errorNotice(connections.error)
      : h('div', { class: 'row' }, Object.keys(byStatus).length ? Object.entries(byStatus).map(([s, n]) => badge(s, `${n} ${s.replace(/_/g, ' ')}`)) : h('a', { href: '/ui/integrations' }, 'Connect a provider')),
    '/ui/integrations'));
  stats.append(statCard('Pending signups', signups.value ? (signups.value.items || []).length : '—',
    signups.error ? errorNotice(signups.error) : h('span', { class: 'stat-label' }, 'waiting for approval'),
    '/ui/signups'));
  const eps = endpoints.value?.items || [];
  const failing = eps.filter((e) => e.disabled_at || e.failing_since || (e.consecutive_failures || 0) > 0 || e.status === 'failing');
  stats.append(statCard('Failing endpoints', endpoints.value ? failing.length : '—',
    endpoints.error ? errorNotice(endpoints.error) : h('span', { class: 'stat-label' }, `of ${eps.length} outbound endpoint${eps.length === 1 ? '' : 's'}`),
    '/ui/endpoints'));
  if (attention.length) {
    stats.append(h('div', { class: 'card' }, h('span', { class: 'card-title' }, 'Needs attention'),
      attention.map((c) => h('a', { href: `/ui/integrations/${encodeURIComponent(c.provider)}` }, `${c.provider}: ${c.status.replace(/_/g, ' ')}`))));
  }

  charts.append(chartPanel('Webhooks received per hour', inbound,
    [{ key: 'accepted', label: 'Accepted', color: GREEN, legend: 'good' }, { key: 'rejected', label: 'Rejected', color: RED, legend: 'badc' }]));
  charts.append(chartPanel('Outbound deliveries per hour', outbound,
    [{ key: 'succeeded', label: 'Succeeded', color: GREEN, legend: 'good' }, { key: 'failed', label: 'Failed', color: RED, legend: 'badc' }]));

  clear(recent);
  if (events.error) recent.append(errorNotice(events.error));
  else if (!(events.value.items || []).length) recent.append(empty('No events yet', 'Webhooks from your providers will show up here.'));
  else {
    recent.append(table([{ label: 'Type' }, { label: 'Provider', optional: true }, { label: 'Status' }, { label: 'Received', optional: true }],
      events.value.items,
      (e) => [eventLink(e), e.provider, badge(e.status), when(e.received_at)]));
  }
}

function statCard(title, value, detail, href) {
  return h('a', { class: 'card', href }, h('span', { class: 'stat-label' }, title), h('span', { class: 'stat' }, String(value)), detail);
}

function chartPanel(title, result, series) {
  let body;
  if (result.error) body = errorNotice(result.error);
  else {
    const buckets = result.value.buckets || [];
    const total = buckets.reduce((sum, b) => sum + series.reduce((s, x) => s + (Number(b[x.key]) || 0), 0), 0);
    body = buckets.length ? hourlyBars(buckets, series, title) : empty('No data yet', '');
    if (buckets.length && !total) body = h('div', {}, body, h('p', { class: 'help' }, 'Nothing in the last 24 hours.'));
  }
  return panel(title, body);
}
