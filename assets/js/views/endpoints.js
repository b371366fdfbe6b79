import * as api from '../api.js';
import { h, append, clear, act, badge, notice, when, empty, table, errorNotice, loading, field, copyField, nextId } from '../dom.js';
import { page, panel, possessive, OUTBOUND_ENTRY_POINTS } from './common.js';

export async function renderEndpoints(ctx, main) {
  const base = api.tenantPath(ctx.tenant.slug, '/webhook-endpoints');
  page(main, 'Outbound endpoints', `Where tessera sends ${possessive(ctx.tenant.name)} events, signed per Standard Webhooks.`);
  const [types, list, plugins] = await Promise.all([
    api.get('/api/v1/event-types').catch(() => null),
    api.get(`${base}?limit=500`).catch((err) => ({ error: err })),
    outboundPlugins(ctx.tenant.slug),
  ]);
  const revealed = h('div', { 'aria-live': 'polite' });
  const output = h('div', { 'aria-live': 'polite' });
  const url = h('input', { type: 'url', name: 'url', required: true, placeholder: 'https://example.com/hooks/tessera' });
  const description = h('input', { type: 'text', name: 'description', placeholder: 'optional' });
  const chooser = eventChooser(types, ['*']);
  const transform = plugins && plugins.length ? transformChooser(plugins, null) : null;
  const create = h('button', { type: 'submit' }, 'Create endpoint');
  const form = h('form', {
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      clear(output);
      if (!url.value.trim()) { output.append(notice('error', 'Enter the URL to send events to.')); url.focus(); return; }
      const events = chooser.chosen();
      if (!events.length) { output.append(notice('error', 'Choose the events to send, or all events.')); return; }
      const body = { url: url.value.trim(), events };
      if (description.value.trim()) body.description = description.value.trim();
      if (transform?.chosen()) body.transform = transform.chosen();
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
  chooser.element,
  transform?.element,
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

const RETRY_POLICIES = [
  { value: 'exponential', label: 'Growing', help: 'waits longer each time (by default 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h)' },
  { value: 'linear', label: 'Even', help: 'as many attempts, evenly spaced' },
  { value: 'none', label: 'None', help: 'one attempt only' },
];

// The installed plugins that can reshape outbound messages; `null` when the signed-in
// principal cannot read the tenant's plugins (the chooser is then left out).
async function outboundPlugins(slug) {
  const installed = await api.get(api.tenantPath(slug, '/plugins')).catch(() => null);
  if (!installed) return null;
  return (installed.items || []).filter((p) => (p.entry_points || []).some((e) => OUTBOUND_ENTRY_POINTS.includes(e)));
}

// A select of "send as they are" or one of `plugins`; `chosen()` is a plugin id or null.
// A transformation whose plugin is gone stays listed, so saving does not drop it unseen.
function transformChooser(plugins, current) {
  const options = plugins.map((p) => ({ value: p.plugin_id, label: p.name }));
  if (current && !options.some((o) => o.value === current)) options.push({ value: current, label: `${current} (not installed)` });
  const select = h('select', { id: nextId('transform') },
    h('option', { value: '' }, 'None: send events as they are'),
    options.map((o) => h('option', { value: o.value, selected: o.value === current }, o.label)));
  return {
    element: field('Transformation', select, 'An installed plugin that reshapes each message before it is signed and sent.'),
    chosen: () => select.value || null,
  };
}

const transformLabel = (plugins, id) => (id ? (plugins || []).find((p) => p.plugin_id === id)?.name || id : 'None');

// Checkboxes for "all events" or chosen event types; `chosen()` reads them back.
function eventChooser(types, current) {
  const all = h('input', { type: 'checkbox', id: nextId('ev'), checked: current.includes('*'), value: '*' });
  const names = ((types && types.items) || []).map((t) => (typeof t === 'string' ? t : (t.type || t.name)));
  // Keep a subscribed type the server no longer lists, so saving does not drop it.
  for (const name of current) if (name !== '*' && !names.includes(name)) names.push(name);
  const boxes = names.map((name) => {
    const id = nextId('ev');
    const input = h('input', { type: 'checkbox', id, value: name, checked: current.includes(name) });
    return { input, label: h('label', { for: id }, input, h('code', {}, name)) };
  });
  const sync = () => boxes.forEach((b) => { b.input.disabled = all.checked; });
  all.addEventListener('change', sync);
  sync();
  return {
    element: h('fieldset', { class: 'field' }, h('legend', {}, 'Events'),
      h('div', { class: 'checks' }, h('label', { for: all.id }, all, 'All events'), boxes.map((b) => b.label))),
    chosen: () => (all.checked ? ['*'] : boxes.filter((b) => b.input.checked).map((b) => b.input.value)),
  };
}

export async function renderEndpoint(ctx, main) {
  const [id] = ctx.params;
  const path = api.tenantPath(ctx.tenant.slug, `/webhook-endpoints/${encodeURIComponent(id)}`);
  const [endpoint, types, plugins] = await Promise.all([
    api.get(path),
    api.get('/api/v1/event-types').catch(() => null),
    outboundPlugins(ctx.tenant.slug),
  ]);
  page(main, endpoint.description || 'Endpoint', endpoint.url, h('a', { href: '/ui/endpoints' }, '← All endpoints'));
  const retitle = () => {
    main.querySelector('.page-head h1').textContent = endpoint.description || 'Endpoint';
    main.querySelector('.page-head p').textContent = endpoint.url;
  };
  const output = h('div', { 'aria-live': 'polite', id: 'endpoint-result' });
  const secretArea = h('div', { class: 'reveal-area' });
  const details = h('dl', { class: 'kv', id: 'endpoint-details' });
  const drawDetails = () => {
    append(clear(details), [
      h('dt', {}, 'Status'), h('dd', { id: 'endpoint-status' }, endpointBadge(endpoint)),
      endpoint.disabled_reason ? [h('dt', {}, 'Disabled because'), h('dd', {}, endpoint.disabled_reason)] : null,
      endpoint.failing_since ? [h('dt', {}, 'Failing since'), h('dd', {}, when(endpoint.failing_since))] : null,
      h('dt', {}, 'Events'), h('dd', {}, h('div', { class: 'tags' }, (endpoint.events || []).map((x) => h('span', { class: 'tag' }, x === '*' ? 'all events' : x)))),
      h('dt', {}, 'Retries'), h('dd', { id: 'endpoint-retries' }, RETRY_POLICIES.find((p) => p.value === endpoint.retry_policy)?.label || endpoint.retry_policy || '—'),
      endpoint.transform || plugins?.length
        ? [h('dt', {}, 'Transformation'), h('dd', { id: 'endpoint-transform' }, transformLabel(plugins, endpoint.transform))]
        : null,
      endpoint.previous_secret_expires_at ? [h('dt', {}, 'Previous secret'), h('dd', {}, `still signs until ${when(endpoint.previous_secret_expires_at)}`)] : null,
      h('dt', {}, 'Created'), h('dd', {}, when(endpoint.created_at))]);
  };
  drawDetails();
  const changed = (updated) => { Object.assign(endpoint, updated); drawDetails(); };

  const reveal = h('button', {
    type: 'button', class: 'secondary',
    onclick: () => act(reveal, output, async () => {
      const res = await api.get(`${path}/secret`);
      append(clear(secretArea), [copyField(res.secret, 'Signing secret'),
        res.previous_secret ? copyField(res.previous_secret, `Previous secret (signs until ${when(res.previous_secret_expires_at)})`) : null]);
    }),
  }, 'Reveal signing secret');
  let rotateArmed = false;
  const rotate = h('button', {
    type: 'button', class: 'secondary',
    onclick: () => {
      if (!rotateArmed) { rotateArmed = true; rotate.textContent = 'Confirm: rotate the secret'; return; }
      act(rotate, output, async () => {
        const updated = await api.patch(path, { rotate_secret: true });
        const secret = updated.secret;
        delete updated.secret;
        changed(updated);
        rotateArmed = false;
        rotate.textContent = 'Rotate secret';
        clear(secretArea).append(h('div', { class: 'secret-once', id: 'rotated-secret' },
          h('strong', {}, `New signing secret. Deliveries carry both signatures until ${when(endpoint.previous_secret_expires_at)}; update your receiver before then.`),
          copyField(secret, 'New signing secret')));
      });
    },
  }, 'Rotate secret');
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
      const missed = updated.missed;
      delete updated.missed;
      changed(updated);
      toggle.textContent = endpoint.active === false ? 'Enable' : 'Disable';
      output.append(notice('ok', endpoint.active === false ? 'Endpoint disabled.' : 'Endpoint enabled.'));
      if (missed && missed.events > 0) offerMissed(missed);
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

  // Re-enabling tells what the endpoint missed; one click sends it.
  function offerMissed(missed) {
    const send = h('button', {
      type: 'button',
      onclick: () => act(send, output, async () => {
        const res = await api.post(`${path}/replay`, missed.replay);
        output.append(notice('ok', `${res.scheduled} deliver${res.scheduled === 1 ? 'y' : 'ies'} scheduled.`));
        send.remove();
        setTimeout(() => loadDeliveries(), 1500);
      }),
    }, `Send the ${missed.events} missed event${missed.events === 1 ? '' : 's'}`);
    output.append(notice('warn', `${missed.events} event${missed.events === 1 ? ' was' : 's were'} not delivered while the endpoint was disabled.`), h('div', { class: 'row' }, send));
  }

  main.append(
    h('div', { class: 'grid two top' },
      panel('Endpoint', details, h('div', { class: 'row' }, reveal, rotate, ping, toggle, remove), secretArea, output),
      editPanel(path, endpoint, types, plugins, (updated) => { changed(updated); retitle(); })),
    replayPanel(path, () => loadDeliveries()));

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

function editPanel(path, endpoint, types, plugins, onSaved) {
  const url = h('input', { type: 'url', id: 'edit-url', value: endpoint.url, required: true, spellcheck: 'false' });
  const description = h('input', { type: 'text', id: 'edit-description', value: endpoint.description || '', placeholder: 'optional' });
  const chooser = eventChooser(types, endpoint.events || ['*']);
  // Offered when the tenant has a plugin to choose, or the endpoint already uses one.
  const transform = plugins && (plugins.length || endpoint.transform) ? transformChooser(plugins, endpoint.transform || null) : null;
  const policyName = nextId('policy');
  const policies = RETRY_POLICIES.map((p) => {
    const id = nextId('policy');
    const input = h('input', { type: 'radio', id, name: policyName, value: p.value, checked: p.value === endpoint.retry_policy });
    return { input, label: h('label', { for: id }, input, h('span', {}, p.label, ' ', h('span', { class: 'help' }, p.help))) };
  });
  const output = h('div', { 'aria-live': 'polite', id: 'edit-result' });
  const save = h('button', { type: 'submit' }, 'Save changes');
  const form = h('form', {
    novalidate: true, id: 'endpoint-edit',
    onsubmit: async (event) => {
      event.preventDefault();
      clear(output);
      if (!url.value.trim()) { output.append(notice('error', 'Enter the URL to send events to.')); url.focus(); return; }
      const events = chooser.chosen();
      if (!events.length) { output.append(notice('error', 'Choose the events to send, or all events.')); return; }
      const body = {};
      if (url.value.trim() !== endpoint.url) body.url = url.value.trim();
      if (description.value.trim() !== (endpoint.description || '')) body.description = description.value.trim();
      if (events.join(' ') !== (endpoint.events || []).join(' ')) body.events = events;
      const policy = policies.find((p) => p.input.checked)?.input.value;
      if (policy && policy !== endpoint.retry_policy) body.retry_policy = policy;
      if (transform && transform.chosen() !== (endpoint.transform || null)) body.transform = transform.chosen();
      if (!Object.keys(body).length) { output.append(notice('info', 'Nothing changed.')); return; }
      await act(save, output, async () => {
        const updated = await api.patch(path, body);
        onSaved(updated);
        const names = { url: 'URL', description: 'description', events: 'events', retry_policy: 'retries', transform: 'transformation' };
        output.append(notice('ok', `Saved: ${Object.keys(body).map((k) => names[k]).join(', ')}.`));
      });
    },
  },
  field('URL', url), field('Description', description),
  chooser.element,
  h('fieldset', { class: 'field' }, h('legend', {}, 'Retries'), h('div', { class: 'checks' }, policies.map((p) => p.label))),
  transform?.element,
  save, output);
  return panel('Edit', form);
}

const toIso = (local) => new Date(local).toISOString().replace(/\.\d{3}Z$/, 'Z');
const localInput = (ms) => {
  const d = new Date(ms - new Date().getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
};

function replayPanel(path, onScheduled) {
  const since = h('input', { type: 'datetime-local', id: 'replay-since', value: localInput(Date.now() - 86400000) });
  const until = h('input', { type: 'datetime-local', id: 'replay-until', value: localInput(Date.now()) });
  const onlyMissed = h('input', { type: 'checkbox', id: 'replay-undelivered', checked: true });
  const output = h('div', { 'aria-live': 'polite', id: 'replay-result' });
  const send = h('button', { type: 'submit', class: 'secondary' }, 'Replay');
  const form = h('form', {
    class: 'inline-form', novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      clear(output);
      if (!since.value || Number.isNaN(new Date(since.value).getTime())) { output.append(notice('error', 'Choose when the replay starts.')); return; }
      const body = { since: toIso(since.value), only_undelivered: onlyMissed.checked };
      if (until.value) body.until = toIso(until.value);
      await act(send, output, async () => {
        const res = await api.post(`${path}/replay`, body);
        output.append(notice(res.scheduled ? 'ok' : 'info', res.scheduled
          ? `${res.scheduled} deliver${res.scheduled === 1 ? 'y' : 'ies'} scheduled.`
          : 'Nothing to replay in that range.'));
        if (res.scheduled) setTimeout(onScheduled, 1500);
      });
    },
  },
  field('From', since), field('Until', until),
  h('div', { class: 'field' }, h('label', { for: onlyMissed.id, class: 'check' }, onlyMissed, 'Only events it did not receive')),
  send);
  return panel('Replay events', h('p', { class: 'help' }, 'Send this endpoint again the events of a time range, e.g. after an outage on your side.'), form, output);
}

// Disabled (by hand or after too many failures), inactive, failing (deliveries fail but
// are still attempted) or active.
function endpointBadge(e) {
  if (e.disabled_at) return badge('disabled');
  if (e.active === false) return badge('inactive');
  if (e.failing_since) return badge('failing');
  return badge('active');
}
