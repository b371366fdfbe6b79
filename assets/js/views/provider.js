import * as api from '../api.js';
import { h, clear, badge, act, notice, errorNotice, copyField, field, when, ago, nextId, loading, empty, table } from '../dom.js';
import { page, panel, categoryLabel, AUTH_MODE_LABELS, possessive } from './common.js';
import { eventLink } from './events.js';

function fieldsForMode(fields, mode) {
  return (fields || []).filter((f) => !f.modes || f.modes.length === 0 || f.modes.includes(mode));
}

export async function renderProvider(ctx, main) {
  const [key] = ctx.params;
  const tenant = ctx.tenant.slug;
  const base = api.tenantPath(tenant, `/connections/${encodeURIComponent(key)}`);
  const provider = await api.get(`/api/v1/providers/${encodeURIComponent(key)}?tenant=${encodeURIComponent(ctx.tenant.slug)}`);
  // The list (not GET .../{provider}) tells "not connected" apart without a 404.
  const list = await api.get(api.tenantPath(tenant, '/connections?limit=500'));
  const connection = (list.items || []).find((c) => c.provider === key) || null;

  page(main, provider.name, `${categoryLabel(provider.category)} · ${provider.description || ''}`,
    h('a', { href: '/ui/integrations' }, '← All integrations'));

  const connected = ctx.search.get('connected');
  const oauthError = ctx.search.get('error');
  if (connected) main.append(notice('ok', `${provider.name} is connected.`));
  if (oauthError) main.append(notice('error', `${provider.name} did not connect: ${oauthError.replace(/_/g, ' ')}.`));
  // Shown once: a reload should not announce the OAuth result again.
  if (connected || oauthError) history.replaceState({}, '', location.pathname);

  const statusLine = h('div', { class: 'row', id: 'connection-status' },
    connection ? badge(connection.status) : badge('not_connected'),
    connection?.last_verified_at ? h('span', { class: 'help' }, `Verified ${ago(connection.last_verified_at)}`) : null);
  main.append(statusLine);

  const columns = h('div', { class: 'grid two' });
  main.append(columns);
  const left = h('div', {});
  const right = h('div', {});
  columns.append(left, right);

  if (provider.setup_steps?.length) {
    left.append(panel('Set up', h('ol', { class: 'steps' }, provider.setup_steps.map((s) => h('li', {}, s))),
      provider.docs_url ? h('p', {}, h('a', { href: provider.docs_url, target: '_blank', rel: 'noopener noreferrer' }, `${provider.name} documentation ↗`)) : null));
  }

  left.append(credentialsPanel(ctx, provider, connection, base));
  if (provider.key === 'easyappointments' && connection) {
    left.append(panel('Bookings', h('p', {}, 'Import the people who booked as signups and see bookings by day, service and status: ',
      h('a', { href: '/ui/easyappointments' }, 'open Easy!Appointments'), '.')));
  }
  if (connection) right.append(connectionPanel(provider, connection));
  if (provider.webhook) right.append(await webhookPanel(ctx, provider, connection));
}

function credentialsPanel(ctx, provider, current, base) {
  let connection = current;
  const modes = provider.auth_modes || [];
  let mode = connection?.auth_mode && modes.includes(connection.auth_mode) ? connection.auth_mode : modes[0];
  const container = h('section', { class: 'panel', 'aria-labelledby': 'credentials-title' });
  const output = h('div', { 'aria-live': 'polite', id: 'connection-result' });

  const draw = () => {
    clear(container);
    container.append(h('h2', { id: 'credentials-title' }, connection ? 'Credentials' : 'Connect'));
    if (modes.length > 1) {
      const name = nextId('mode');
      container.append(h('fieldset', { class: 'field' },
        h('legend', {}, 'How to connect'),
        h('div', { class: 'checks' }, modes.map((m) => {
          const id = nextId('mode');
          return h('label', { for: id },
            h('input', { type: 'radio', id, name, value: m, checked: m === mode, onchange: () => { mode = m; draw(); } }),
            AUTH_MODE_LABELS[m] || m);
        }))));
    }
    const sameMode = connection && connection.auth_mode === mode;
    const inputs = [];
    const makeInput = (f, kind) => {
      const saved = sameMode ? (kind === 'credentials' ? connection.credentials : connection.config)?.[f.name] : undefined;
      const hasSaved = saved !== undefined && saved !== null && saved !== '';
      const input = h('input', {
        type: f.secret ? 'password' : 'text',
        name: f.name,
        autocomplete: f.secret ? 'new-password' : 'off',
        spellcheck: 'false',
        required: f.required && !hasSaved,
      });
      if (!f.secret && hasSaved) input.value = String(saved);
      if (f.secret && hasSaved) input.placeholder = `Saved (${saved}) — leave empty to keep`;
      inputs.push({ f, kind, input, hasSaved });
      const help = [f.help, f.secret && hasSaved ? `Stored value: ${saved}` : null].filter(Boolean).join(' · ');
      const label = `${f.label || f.name}${f.required ? '' : ' (optional)'}`;
      const el = field(label, input, help || null);
      if (help) input.setAttribute('aria-describedby', `${input.id}-help`);
      return el;
    };
    const credentialFields = fieldsForMode(provider.fields, mode);
    const configFields = fieldsForMode(provider.config_fields, mode);
    const form = h('form', { novalidate: true, id: 'credentials-form' },
      credentialFields.map((f) => makeInput(f, 'credentials')),
      configFields.length ? [h('h3', {}, 'Settings'), configFields.map((f) => makeInput(f, 'config'))] : null);
    if (!credentialFields.length && !configFields.length) {
      form.append(h('p', { class: 'help' }, 'Nothing to fill in for this way of connecting.'));
    }

    const save = h('button', { type: 'submit' }, connection ? 'Save changes' : 'Save');
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const missing = inputs.filter(({ f, input, hasSaved }) => f.required && !hasSaved && !input.value.trim());
      if (missing.length) {
        clear(output).append(notice('error', `Fill in: ${missing.map(({ f }) => f.label || f.name).join(', ')}.`));
        missing[0].input.focus();
        return;
      }
      const body = { auth_mode: mode, credentials: {}, config: {} };
      for (const { f, kind, input } of inputs) {
        const value = input.value.trim();
        // Secrets left empty are omitted: the server keeps the stored value.
        if (value !== '') body[kind][f.name] = value;
      }
      if (!configFields.length) delete body.config;
      await act(save, output, async () => {
        connection = await api.put(base, body);
        output.append(notice('ok', `Saved. ${possessive(ctx.tenant.name)} ${provider.name} connection is ${connection.status.replace(/_/g, ' ')}.`));
        refreshAfterChange(ctx);
      });
    });

    const buttons = h('div', { class: 'row' }, save);
    if (mode === 'oauth2') {
      const connect = h('button', {
        type: 'button', class: 'secondary',
        onclick: () => act(connect, output, async () => {
          const res = await api.post(`${base}/authorize`, { return_to: `${location.origin}/ui/integrations/${provider.key}` });
          location.assign(res.authorization_url);
        }),
      }, `Connect with ${provider.name}`);
      buttons.append(connect);
    }
    if (connection && provider.verify) {
      const verify = h('button', {
        type: 'button', class: 'secondary', id: 'verify-button',
        onclick: () => act(verify, output, async () => {
          const res = await api.post(`${base}/verify`, {});
          output.append(res.ok
            ? notice('ok', `Verified with ${provider.name}: the credentials work.`)
            : notice('error', `${provider.name} says: ${res.detail || res.result.replace(/_/g, ' ')}.`));
          refreshAfterChange(ctx);
        }),
      }, 'Verify');
      buttons.append(verify);
    }
    if (connection) {
      let armed = false;
      const disconnect = h('button', {
        type: 'button', class: 'danger',
        onclick: () => {
          if (!armed) {
            armed = true;
            disconnect.textContent = `Confirm: disconnect ${provider.name}`;
            return;
          }
          act(disconnect, output, async () => {
            await api.del(base);
            connection = null;
            output.append(notice('ok', `${provider.name} is disconnected; its credentials are deleted.`));
            refreshAfterChange(ctx);
          });
        },
      }, 'Disconnect');
      buttons.append(disconnect);
    }
    form.append(buttons);
    container.append(form, output);
  };
  draw();
  return container;
}

// Re-renders the page after a change, keeping the result message visible.
function refreshAfterChange(ctx) {
  const result = document.getElementById('connection-result');
  const kept = result ? [...result.childNodes] : [];
  setTimeout(async () => {
    const main = document.getElementById('main');
    if (!main) return;
    const scroll = window.scrollY;
    try {
      await renderProvider({ ...ctx, search: new URLSearchParams() }, main);
    } catch (err) {
      main.append(errorNotice(err));
    }
    const fresh = document.getElementById('connection-result');
    if (fresh) fresh.append(...kept);
    window.scrollTo(0, scroll);
  }, 0);
}

function connectionPanel(provider, connection) {
  const rows = [
    ['Status', badge(connection.status)],
    ['Connected with', AUTH_MODE_LABELS[connection.auth_mode] || connection.auth_mode],
    ...Object.entries(connection.credentials || {}).map(([k, v]) => [labelFor(provider.fields, k), h('span', { class: 'mono', dataset: { credential: k } }, v)]),
    ...Object.entries(connection.config || {}).map(([k, v]) => [labelFor(provider.config_fields, k), h('span', { class: 'mono' }, typeof v === 'string' ? v : JSON.stringify(v))]),
    ['Last verified', when(connection.last_verified_at)],
    ['Updated', when(connection.updated_at)],
  ];
  if (connection.expires_at) rows.push(['Token expires', when(connection.expires_at)]);
  if (connection.last_error) rows.push(['Last error', connection.last_error]);
  return panel('Connection',
    h('dl', { class: 'kv', id: 'connection-details' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    h('p', { class: 'help' }, 'Secrets are shown masked; tessera never sends them back to the browser.'));
}

function labelFor(fields, name) {
  return (fields || []).find((f) => f.name === name)?.label || name;
}

async function webhookPanel(ctx, provider, connection) {
  const tenant = ctx.tenant.slug;
  const section = h('section', { class: 'panel', 'aria-labelledby': 'webhook-title' }, h('h2', { id: 'webhook-title' }, 'Webhooks'));
  let info = null;
  try {
    info = await api.get(api.tenantPath(tenant, `/webhooks/${encodeURIComponent(provider.key)}`));
  } catch (err) {
    section.append(errorNotice(err));
  }
  const sig = info?.signature || provider.webhook?.signature;
  // Eventbrite signs nothing: there is no webhook secret to ask for.
  const unsigned = sig?.scheme === 'eventbrite-fetch';
  const url = info?.webhook_url || `${location.origin}/webhooks/${encodeURIComponent(provider.key)}/${encodeURIComponent(tenant)}`;
  section.append(
    h('p', {}, unsigned
      ? `Paste this URL into ${provider.name}'s webhook settings. ${provider.name} does not sign its webhooks: tessera only trusts the api_url in them when it is on ${provider.name}'s API, and fetches the data there with your token.`
      : `Paste this URL into ${provider.name}'s webhook settings. Deliveries are checked with the webhook secret.`),
    copyField(url, 'Webhook URL'));
  if (sig && unsigned) {
    section.append(h('dl', { class: 'kv' },
      h('dt', {}, 'Signature'), h('dd', {}, 'None (the data is fetched from the API)'),
      info ? [h('dt', {}, 'Token saved'), h('dd', {}, info.connection_active ? 'Yes' : 'Not yet — connect on this page')] : null));
  } else if (sig) {
    section.append(h('dl', { class: 'kv' },
      h('dt', {}, 'Signature'), h('dd', {}, `${sig.scheme || ''}${sig.header ? ` in ${sig.header}` : ''}`),
      info ? [h('dt', {}, 'Secret saved'), h('dd', {}, info.secret_configured ? 'Yes' : 'Not yet — save the webhook secret on this page')] : null));
  }
  if (Object.keys(provider.webhook?.handlers || {}).length) {
    section.append(h('p', {}, 'Where tessera finds the email and name in these events: ',
      h('a', { href: `/ui/mappings/${encodeURIComponent(provider.key)}` }, 'field mappings'), '.'));
  }
  const events = info?.supported_events || provider.webhook?.events || [];
  if (events.length) {
    section.append(h('h3', {}, `Events to select in ${provider.name}`),
      h('div', { class: 'tags' }, events.map((e) => h('span', { class: 'tag' }, e))));
  }
  const recent = h('div', {}, loading('Loading recent events…'));
  const loadRecent = () => api.get(api.tenantPath(tenant, `/events${api.query({ provider: provider.key, limit: 5 })}`))
    .then((page) => {
      clear(recent);
      const items = page?.items || [];
      if (!items.length) {
        recent.append(empty('Nothing received yet', `Send a test event from ${provider.name} to check the set-up.`));
      } else {
        recent.append(table(
          [{ label: 'Type' }, { label: 'Status' }, { label: 'Received', optional: true }],
          items,
          (e) => [eventLink(e), badge(e.status), when(e.received_at)]));
      }
    })
    .catch((err) => clear(recent).append(errorNotice(err)));
  const sample = provider.webhook?.sample;
  if (sample) section.append(samplePart(ctx, provider, sample, connection, unsigned, loadRecent));
  section.append(h('h3', {}, 'Latest events received'), recent);
  loadRecent();
  return section;
}

const SAMPLE_TONES = { processed: 'ok', received: 'info' };

// "Test with a sample event": the provider's documented sample, signed with the saved
// secret, sent to this tenant's webhook URL; the answer says how far it got.
function samplePart(ctx, provider, sample, connection, unsigned, afterwards) {
  const output = h('div', { 'aria-live': 'polite', id: 'webhook-test-result' });
  const part = h('div', { id: 'webhook-test' }, h('h3', {}, 'Test with a sample event'),
    h('p', { class: 'help' }, unsigned
      ? `Sends ${provider.name}'s documented ${sample.type} notification to your webhook URL; tessera then fetches its data with your token.`
      : `Sends ${provider.name}'s documented ${sample.type} event to your webhook URL, signed with the saved secret, just as ${provider.name} would.`));
  if (!connection) {
    part.append(h('p', { class: 'help' }, 'Save the connection first.'));
    return part;
  }
  const button = h('button', {
    type: 'button', class: 'secondary', id: 'webhook-test-button',
    onclick: () => act(button, output, async () => {
      output.append(loading('Sending the sample and waiting for it to be processed…'));
      const res = await api.post(api.tenantPath(ctx.tenant.slug, `/webhooks/${encodeURIComponent(provider.key)}/test`), {});
      clear(output);
      const links = [
        res.event_id ? h('a', { href: `/ui/events/${encodeURIComponent(res.event_id)}` }, 'See the event') : null,
        res.signup_id ? h('a', { href: `/ui/signups?signup=${encodeURIComponent(res.signup_id)}` }, 'See the signup') : null,
      ].filter(Boolean);
      const kind = SAMPLE_TONES[res.status] || 'error';
      output.append(h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status', dataset: { status: res.status } },
        `${badgeText(res.status)}: ${res.detail}. `,
        links.flatMap((a, i) => (i ? [' · ', a] : [a]))));
      afterwards();
    }),
  }, 'Test with a sample event');
  part.append(h('div', { class: 'row' }, button), output);
  return part;
}

function badgeText(status) {
  const text = String(status || '').replace(/_/g, ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}
