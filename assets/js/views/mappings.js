import * as api from '../api.js';
import { h, clear, act, badge, notice, ago, empty, errorNotice, loading, nextId } from '../dom.js';
import { page, panel, possessive } from './common.js';

// The fields a mapping may fill, in the order people read a contact.
const FIELDS = [
  { name: 'email', label: 'Email' },
  { name: 'first_name', label: 'First name' },
  { name: 'last_name', label: 'Last name' },
  { name: 'name', label: 'Full name' },
  { name: 'reference', label: 'Reference' },
  { name: 'event_name', label: 'Event name' },
];
const ACTIONS = {
  contact: 'The person becomes a pending signup.',
  refunded: 'Marks the purchase named by the reference as refunded.',
  attended: 'Marks the purchase named by the reference as attended.',
};

const handlersOf = (provider) => provider.webhook?.handlers || {};

// RFC 6901: "" is the whole document, "/a/0/b~1c" walks keys and indexes.
export function resolvePointer(doc, pointer) {
  if (pointer === '') return { found: true, value: doc };
  if (!pointer.startsWith('/')) return { found: false };
  let current = doc;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (current === null || typeof current !== 'object' || !Object.prototype.hasOwnProperty.call(current, key)) return { found: false };
    current = current[key];
  }
  return { found: true, value: current };
}

export async function renderMappings(ctx, main) {
  page(main, 'Field mappings', `Where tessera finds the email, name and reference in each provider's webhooks. ${possessive(ctx.tenant.name)} own mapping wins over the catalog's.`);
  const catalog = await api.get(`/api/v1/providers?tenant=${encodeURIComponent(ctx.tenant.slug)}`);
  const providers = (catalog.items || []).filter((p) => Object.keys(handlersOf(p)).length).sort((a, b) => a.name.localeCompare(b.name));
  if (!providers.length) { main.append(empty('Nothing to map', 'No provider in the catalog has webhooks tessera processes.')); return; }
  const grid = h('div', { class: 'grid' });
  main.append(grid);
  const cards = providers.map((p) => {
    const state = h('span', {}, badge('pending', 'Checking…'));
    const types = Object.keys(handlersOf(p));
    grid.append(h('a', { class: 'card', href: `/ui/mappings/${encodeURIComponent(p.key)}`, dataset: { provider: p.key } },
      h('div', { class: 'card-top' }, h('span', { class: 'card-title' }, p.name), state),
      h('p', {}, `${types.length} event type${types.length === 1 ? '' : 's'}: ${types.join(', ')}`)));
    return { p, state };
  });
  await Promise.all(cards.map(async ({ p, state }) => {
    try {
      const effective = await api.get(api.tenantPath(ctx.tenant.slug, `/bindings/${encodeURIComponent(p.key)}`));
      clear(state).append(differsFromDefaults(p, effective) ? badge('active', 'Customised') : badge('inactive', 'Catalog defaults'));
    } catch (err) {
      clear(state).append(badge('failed', 'Unavailable'));
      state.title = err.message;
    }
  }));
}

function differsFromDefaults(provider, effective) {
  return Object.entries(handlersOf(provider)).some(([type, handler]) => {
    const own = effective[type] || {};
    const defaults = handler.mapping || {};
    return FIELDS.some((f) => (own[f.name] || '') !== (defaults[f.name] || ''));
  });
}

// The latest verified event of a type, with its payload, or null.
async function latestEvent(tenant, provider, type) {
  const list = await api.get(api.tenantPath(tenant, `/events${api.query({ provider, type, limit: 5 })}`));
  const event = (list.items || []).find((e) => e.status !== 'rejected');
  if (!event) return null;
  return api.get(api.tenantPath(tenant, `/events/${encodeURIComponent(event.id)}`));
}

export async function renderMapping(ctx, main) {
  const [key] = ctx.params;
  const tenant = ctx.tenant.slug;
  const path = api.tenantPath(tenant, `/bindings/${encodeURIComponent(key)}`);
  const provider = await api.get(`/api/v1/providers/${encodeURIComponent(key)}?tenant=${encodeURIComponent(tenant)}`);
  const handlers = handlersOf(provider);
  page(main, `${provider.name} field mappings`, 'Each field is a JSON pointer into the event. Leave a field empty to not read it; the catalog default is shown as a hint.',
    h('a', { href: '/ui/mappings' }, '← All mappings'));
  if (!Object.keys(handlers).length) { main.append(empty('Nothing to map', `tessera does not process ${provider.name}'s webhooks.`)); return; }
  let effective = await api.get(path);
  const output = h('div', { 'aria-live': 'polite', id: 'mapping-result' });
  const editors = [];

  const form = h('form', { novalidate: true, id: 'mapping-form' });
  for (const [type, handler] of Object.entries(handlers)) {
    const editor = eventEditor(ctx, provider, type, handler, effective[type] || {});
    editors.push(editor);
    form.append(editor.section);
  }
  const save = h('button', { type: 'submit' }, 'Save mappings');
  let armed = false;
  const reset = h('button', {
    type: 'button', class: 'secondary',
    onclick: () => {
      if (!armed) { armed = true; reset.textContent = 'Confirm: use the catalog defaults'; return; }
      act(reset, output, async () => {
        effective = await api.put(path, {});
        for (const editor of editors) editor.set(effective[editor.type] || {});
        armed = false;
        reset.textContent = 'Reset to catalog defaults';
        output.append(notice('ok', `${provider.name} events use the catalog's mappings again.`));
      });
    },
  }, 'Reset to catalog defaults');
  form.append(h('div', { class: 'row form-actions' }, save, reset), output);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clear(output);
    const invalid = editors.flatMap((e) => e.invalid());
    if (invalid.length) {
      output.append(notice('error', `A pointer starts with “/”: check ${invalid.map((i) => i.label).join(', ')}.`));
      invalid[0].input.focus();
      return;
    }
    // Only what differs from the catalog is the tenant's own; "" unsets a default.
    const body = {};
    for (const editor of editors) {
      const own = editor.overrides();
      if (Object.keys(own).length) body[editor.type] = own;
    }
    await act(save, output, async () => {
      effective = await api.put(path, body);
      for (const editor of editors) editor.set(effective[editor.type] || {});
      output.append(notice('ok', `Saved. New ${provider.name} events are read with these mappings; replay an event to apply them to it.`));
    });
  });
  main.append(form);
  await Promise.all(editors.map((e) => e.loadSample()));
}

function eventEditor(ctx, provider, type, handler, current) {
  const defaults = handler.mapping || {};
  // A contact fills every field; the other actions only need the reference.
  const fields = handler.action === 'contact' ? FIELDS : FIELDS.filter((f) => f.name === 'reference' || defaults[f.name] || current[f.name]);
  const sample = h('div', { class: 'help sample-line' }, loading('Looking for a recent event…'));
  let payload;
  const rows = fields.map((f) => {
    const input = h('input', {
      type: 'text', id: nextId('map'), class: 'mono', spellcheck: 'false', autocomplete: 'off',
      value: current[f.name] || '', placeholder: defaults[f.name] || '(not read)',
      'aria-label': `${type} ${f.label} pointer`,
    });
    const preview = h('span', { class: 'preview', 'aria-live': 'polite', dataset: { field: f.name } });
    const hint = h('div', { class: 'help' });
    input.addEventListener('input', () => showPreview());
    const showPreview = () => {
      const fallback = defaults[f.name] || '';
      if (!fallback) clear(hint).append('Not read by the catalog');
      else if (input.value.trim() === fallback) clear(hint).append('Catalog default');
      else clear(hint).append('Catalog default: ', h('code', {}, fallback));
      clear(preview);
      preview.className = 'preview';
      const pointer = input.value.trim();
      input.setAttribute('aria-invalid', String(pointer !== '' && !pointer.startsWith('/')));
      if (pointer !== '' && !pointer.startsWith('/')) { preview.classList.add('bad'); preview.append('Start with “/”, e.g. /data/email'); return; }
      if (handler.fetch) { preview.classList.add('muted'); preview.append('Read from the fetched document'); return; }
      if (payload === undefined) return;
      if (payload === null) { preview.classList.add('muted'); preview.append('No sample yet'); return; }
      if (pointer === '') { preview.classList.add('muted'); preview.append('Not read'); return; }
      const found = resolvePointer(payload, pointer);
      if (!found.found) { preview.classList.add('bad'); preview.append('Nothing at this pointer'); return; }
      preview.classList.add('good');
      preview.append(typeof found.value === 'string' ? found.value : JSON.stringify(found.value));
    };
    return { f, input, preview, hint, showPreview };
  });
  const showAll = () => rows.forEach((r) => r.showPreview());
  showAll();

  const titleId = nextId('ev');
  const section = h('section', { class: 'panel', 'aria-labelledby': titleId, dataset: { eventType: type } },
    h('div', { class: 'panel-head' },
      h('h2', { id: titleId }, h('code', {}, type)),
      h('span', { class: 'help' }, ACTIONS[handler.action] || handler.action)),
    handler.fetch ? notice('info', `tessera fetches a document from ${provider.name}'s API (the URL at ${handler.fetch} in the webhook) and reads these fields from it, so the stored webhook cannot preview them.`) : null,
    sample,
    h('div', { class: 'table-wrap' }, h('table', { class: 'mapping-table' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, 'JSON pointer'), h('th', { scope: 'col' }, 'Value in the sample'))),
      h('tbody', {}, rows.map((r) => h('tr', {},
        h('td', {}, h('label', { for: r.input.id }, r.f.label), r.hint),
        h('td', {}, r.input),
        h('td', {}, r.preview)))))));

  return {
    type,
    section,
    set(mapping) {
      for (const r of rows) r.input.value = mapping[r.f.name] || '';
      showAll();
    },
    invalid: () => rows.filter((r) => r.input.value.trim() !== '' && !r.input.value.trim().startsWith('/')).map((r) => ({ input: r.input, label: `${type} ${r.f.label.toLowerCase()}` })),
    overrides() {
      const own = {};
      for (const r of rows) {
        const value = r.input.value.trim();
        if (value !== (defaults[r.f.name] || '')) own[r.f.name] = value;
      }
      return own;
    },
    async loadSample() {
      if (handler.fetch) { clear(sample); payload = null; showAll(); return; }
      try {
        const event = await latestEvent(ctx.tenant.slug, provider.key, type);
        payload = event ? event.payload ?? null : null;
        clear(sample).append(event
          ? h('span', {}, 'Preview from the last ', h('a', { href: `/ui/events/${encodeURIComponent(event.id)}` }, type), ` received ${ago(event.received_at)}.`)
          : h('span', {}, `No ${type} received yet: the preview fills in once one arrives.`));
      } catch (err) {
        payload = null;
        clear(sample).append(errorNotice(err));
      }
      showAll();
    },
  };
}
