import * as api from '../api.js';
import { h, clear, act, badge, notice, when, empty, table, errorNotice, loading, field, copyField, nextId } from '../dom.js';
import { page, panel, possessive } from './common.js';

export async function renderEndpoints(ctx, main) {
  const base = api.tenantPath(ctx.tenant.slug, '/webhook-endpoints');
  page(main, 'Outbound endpoints', `Where tessera sends ${possessive(ctx.tenant.name)} events, signed per Standard Webhooks.`);
  const [types, list] = await Promise.all([
    api.get('/api/v1/event-types').catch(() => null),
    api.get(`${base}?limit=500`).catch((err) => ({ error: err })),
  ]);
  const revealed = h('div', { 'aria-live': 'polite' });
  const output = h('div', { 'aria-live': 'polite' });
  const url = h('input', { type: 'url', name: 'url', required: true, placeholder: 'https://example.com/hooks/tessera' });
  const description = h('input', { type: 'text', name: 'description', placeholder: 'optional' });
  const all = h('input', { type: 'checkbox', id: nextId('ev'), checked: true, value: '*' });
  const typeBoxes = ((types && types.items) || []).map((t) => {
    const name = typeof t === 'string' ? t : (t.type || t.name);
    const id = nextId('ev');
    const input = h('input', { type: 'checkbox', id, value: name });
    return { input, label: h('label', { for: id }, input, h('code', {}, name)) };
  });
  const create = h('button', { type: 'submit' }, 'Create endpoint');
  const form = h('form', {
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      clear(output);
      if (!url.value.trim()) { output.append(notice('error', 'Enter the URL to send events to.')); url.focus(); return; }
      const events = all.checked ? ['*'] : typeBoxes.filter((b) => b.input.checked).map((b) => b.input.value);
      if (!events.length) { output.append(notice('error', 'Choose the events to send, or all events.')); return; }
      const body = { url: url.value.trim(), events };
      if (description.value.trim()) body.description = description.value.trim();
      await act(create, output, async () => {
        const created = await api.post(base, body);
        clear(revealed).append(h('div', { class: 'secret-once', id: 'new-endpoint' },
          h('strong', {}, 'Endpoint created. Use this signing secret to verify deliveries.'),
          copyField(created.secret, 'Signing secret')));
        url.value = ''; description.value = '';
        await drawList();
      });
    },
  },
  h('div', { class: 'grid two' }, field('URL', url), field('Description', description)),
  h('fieldset', { class: 'field' }, h('legend', {}, 'Events'),
    h('div', { class: 'checks' }, h('label', { for: all.id }, all, 'All events'), typeBoxes.map((b) => b.label))),
  create, output);

  const listArea = h('div', {});
  main.append(revealed, panel('New endpoint', form), panel('Endpoints', listArea));

  async function drawList(initial) {
    clear(listArea);
    let result = initial;
    if (!result) {
      listArea.append(loading());
      result = await api.get(`${base}?limit=500`).catch((err) => ({ error: err }));
      clear(listArea);
    }
    if (result?.error) { listArea.append(errorNotice(result.error)); return; }
    const items = result.items || [];
    if (!items.length) { listArea.append(empty('No endpoints yet', 'Add one above to receive events in your own systems.')); return; }
    listArea.append(table(
      [{ label: 'URL' }, { label: 'Events', optional: true }, { label: 'Status' }, { label: 'Created', optional: true }],
      items,
      (e) => [
        h('a', { href: `/ui/endpoints/${encodeURIComponent(e.id)}`, class: 'mono' }, e.url),
        h('div', { class: 'tags' }, (e.events || []).map((x) => h('span', { class: 'tag' }, x === '*' ? 'all events' : x))),
        endpointBadge(e),
        when(e.created_at),
      ]));
  }
  await drawList(list || null);
}

export async function renderEndpoint(ctx, main) {
  const [id] = ctx.params;
  const path = api.tenantPath(ctx.tenant.slug, `/webhook-endpoints/${encodeURIComponent(id)}`);
  const endpoint = await api.get(path);
  page(main, endpoint.description || 'Endpoint', endpoint.url, h('a', { href: '/ui/endpoints' }, '← All endpoints'));
  const output = h('div', { 'aria-live': 'polite' });
  const secretArea = h('div', { class: 'reveal-area' });
  const statusCell = h('dd', { id: 'endpoint-status' }, endpointBadge(endpoint));
  const reveal = h('button', {
    type: 'button', class: 'secondary',
    onclick: () => act(reveal, output, async () => {
      const res = await api.get(`${path}/secret`);
      clear(secretArea).append(copyField(res.secret, 'Signing secret'));
    }),
  }, 'Reveal signing secret');
  const ping = h('button', {
    type: 'button', class: 'secondary',
    onclick: () => act(ping, output, async () => {
      await api.post(`${path}/test`, {});
      output.append(notice('ok', 'Test ping queued. Watch the delivery history below.'));
      setTimeout(() => loadDeliveries(), 1500);
    }),
  }, 'Send test ping');
  const toggle = h('button', {
    type: 'button', class: 'secondary',
    onclick: () => act(toggle, output, async () => {
      const updated = await api.patch(path, { active: endpoint.active === false });
      Object.assign(endpoint, updated);
      clear(statusCell).append(endpointBadge(endpoint));
      toggle.textContent = endpoint.active === false ? 'Enable' : 'Disable';
      output.append(notice('ok', endpoint.active === false ? 'Endpoint disabled.' : 'Endpoint enabled.'));
    }),
  }, endpoint.active === false ? 'Enable' : 'Disable');
  let armed = false;
  const remove = h('button', {
    type: 'button', class: 'danger',
    onclick: () => {
      if (!armed) { armed = true; remove.textContent = 'Confirm delete'; return; }
      act(remove, output, async () => { await api.del(path); ctx.navigate('/ui/endpoints'); });
    },
  }, 'Delete');

  main.append(panel('Endpoint',
    h('dl', { class: 'kv' },
      h('dt', {}, 'Status'), statusCell,
      endpoint.disabled_reason ? [h('dt', {}, 'Disabled because'), h('dd', {}, endpoint.disabled_reason)] : null,
      endpoint.failing_since ? [h('dt', {}, 'Failing since'), h('dd', {}, when(endpoint.failing_since))] : null,
      h('dt', {}, 'Events'), h('dd', {}, h('div', { class: 'tags' }, (endpoint.events || []).map((x) => h('span', { class: 'tag' }, x === '*' ? 'all events' : x)))),
      h('dt', {}, 'Created'), h('dd', {}, when(endpoint.created_at))),
    h('div', { class: 'row' }, reveal, ping, toggle, remove), secretArea, output));

  const deliveries = h('div', {});
  main.append(panel('Delivery history', deliveries));
  async function loadDeliveries() {
    clear(deliveries).append(loading());
    const result = await api.get(`${path}/deliveries?limit=50`).catch((err) => ({ error: err }));
    clear(deliveries);
    if (result?.error) { deliveries.append(errorNotice(result.error)); return; }
    const items = result?.items || [];
    if (!items.length) { deliveries.append(empty('No deliveries yet', 'Send a test ping to try the endpoint.')); return; }
    deliveries.append(table(
      [{ label: 'Event' }, { label: 'Status' }, { label: 'Attempt', optional: true }, { label: 'Response', optional: true }, { label: 'When', optional: true }, { label: '', actions: true }],
      items,
      (d) => {
        const retry = ['failed', 'exhausted'].includes(d.status) ? h('button', {
          type: 'button', class: 'secondary',
          onclick: () => act(retry, output, async () => { await api.post(`${path}/deliveries/${encodeURIComponent(d.id)}/retry`, {}); await loadDeliveries(); }),
        }, 'Retry') : null;
        return [h('code', {}, d.event_type), badge(d.status), d.attempt, d.response_status ? `${d.response_status} · ${d.duration_ms ?? '?'} ms` : '—', when(d.created_at), retry];
      }));
  }
  await loadDeliveries();
}

// Disabled (by hand or after too many failures), inactive, failing (deliveries fail but
// are still attempted) or active.
function endpointBadge(e) {
  if (e.disabled_at) return badge('disabled');
  if (e.active === false) return badge('inactive');
  if (e.failing_since) return badge('failing');
  return badge('active');
}
