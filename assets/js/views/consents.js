import * as api from '../api.js';
import { h, clear, act, badge, notice, when, empty, table, errorNotice, loading, field } from '../dom.js';
import { page, panel, possessive } from './common.js';

const TYPES = [
  { value: 'THIRD_PARTY', label: 'Third party', help: 'sharing with another service' },
  { value: 'DATA_PROCESSING', label: 'Data processing', help: 'processing personal data' },
  { value: 'MARKETING', label: 'Marketing', help: 'marketing messages' },
];
const typeLabel = (value) => TYPES.find((t) => t.value === value)?.label || value;

const input = (id, placeholder, extra = {}) => h('input', { type: 'text', id, placeholder, autocomplete: 'off', ...extra });

export async function renderConsents(ctx, main) {
  const base = api.tenantPath(ctx.tenant.slug, '/consents');
  page(main, 'Consents', `What ${possessive(ctx.tenant.name)} data subjects agreed to, per resource. Revoking keeps the record.`);
  const columns = h('div', { class: 'grid two' });
  const listArea = h('div', {});
  main.append(columns);
  columns.append(grantPanel(base, () => loadList(true)), statusPanel(base));

  // The list and its filters.
  const fType = h('select', { id: 'consents-filter-type' }, h('option', { value: '' }, 'Any type'), TYPES.map((t) => h('option', { value: t.value }, t.label)));
  const fResourceType = input('consents-filter-resource-type', 'e.g. contact');
  const fResourceId = input('consents-filter-resource-id', 'e.g. c_123');
  const fSubject = input('consents-filter-subject', 'e.g. ada@example.com');
  const fActive = h('select', { id: 'consents-filter-active' },
    h('option', { value: '' }, 'Any'), h('option', { value: 'true' }, 'In force'), h('option', { value: 'false' }, 'Revoked'));
  const apply = h('button', { type: 'submit', class: 'secondary' }, 'Filter');
  const listOutput = h('div', { 'aria-live': 'polite' });
  const filters = h('form', { class: 'inline-form', onsubmit: (e) => { e.preventDefault(); act(apply, listOutput, () => loadList(true)); } },
    h('div', { class: 'field narrow' }, h('label', { for: fType.id }, 'Type'), fType),
    h('div', { class: 'field' }, h('label', { for: fResourceType.id }, 'Resource type'), fResourceType),
    h('div', { class: 'field' }, h('label', { for: fResourceId.id }, 'Resource id'), fResourceId),
    h('div', { class: 'field' }, h('label', { for: fSubject.id }, 'Subject'), fSubject),
    h('div', { class: 'field narrow' }, h('label', { for: fActive.id }, 'Status'), fActive),
    apply);
  main.append(panel('Recorded consents', filters, listOutput, listArea));

  let rows = [];
  let cursor = null;
  async function loadList(reset) {
    if (reset) { rows = []; cursor = null; clear(listArea).append(loading()); }
    const result = await api.get(`${base}${api.query({
      consent_type: fType.value, resource_type: fResourceType.value.trim(), resource_id: fResourceId.value.trim(),
      subject: fSubject.value.trim(), active: fActive.value, cursor, limit: 50,
    })}`);
    rows = rows.concat(result.items || []);
    cursor = result.next_cursor;
    draw();
  }
  function draw() {
    clear(listArea);
    if (!rows.length) { listArea.append(empty('No consents', 'Record one above, or let your apps record them through the API.')); return; }
    listArea.append(table(
      [{ label: 'Type' }, { label: 'Resource' }, { label: 'Subject', optional: true }, { label: 'Description', optional: true }, { label: 'Status' }, { label: '', actions: true }],
      rows,
      (c) => {
        let armed = false;
        const revoke = c.active ? h('button', {
          type: 'button', class: 'danger', 'aria-label': `Revoke ${typeLabel(c.consent_type)} consent for ${c.resource_type} ${c.resource_id}`,
          onclick: () => {
            if (!armed) {
              armed = true;
              revoke.textContent = 'Confirm revoke';
              revoke.setAttribute('aria-label', `Confirm: revoke ${typeLabel(c.consent_type)} consent for ${c.resource_type} ${c.resource_id}`);
              return;
            }
            act(revoke, listOutput, async () => {
              const updated = await api.del(`${base}/${encodeURIComponent(c.id)}`);
              Object.assign(c, updated || { active: false, revoked_at: new Date().toISOString() });
              listOutput.append(notice('ok', `${typeLabel(c.consent_type)} consent for ${c.resource_type} ${c.resource_id} revoked; the record is kept.`));
              draw();
            });
          },
        }, 'Revoke') : null;
        return [
          typeLabel(c.consent_type),
          h('span', {}, h('code', {}, c.resource_type), ' ', h('span', { class: 'mono' }, c.resource_id)),
          c.subject || '—',
          c.description,
          h('div', {}, badge(c.active ? 'active' : 'revoked', c.active ? 'In force' : 'Revoked'),
            h('div', { class: 'help' }, c.active ? `Granted ${when(c.granted_at)}` : `Revoked ${when(c.revoked_at)}`)),
          revoke,
        ];
      }));
    if (cursor) {
      const more = h('button', { type: 'button', class: 'secondary', onclick: () => act(more, listOutput, () => loadList(false)) }, 'Load more');
      listArea.append(h('div', { class: 'row' }, more));
    }
  }
  try { await loadList(true); } catch (err) { clear(listArea).append(errorNotice(err)); }
}

function grantPanel(base, onGranted) {
  const type = h('select', { id: 'consent-type' }, TYPES.map((t) => h('option', { value: t.value }, `${t.label} — ${t.help}`)));
  const resourceType = input('consent-resource-type', 'e.g. contact', { required: true });
  const resourceId = input('consent-resource-id', 'e.g. c_123', { required: true });
  const subject = input('consent-subject', 'optional, e.g. ada@example.com');
  const description = h('textarea', { id: 'consent-description', rows: 2, required: true, placeholder: 'What was agreed, in the words shown to the person' });
  const output = h('div', { 'aria-live': 'polite' });
  const save = h('button', { type: 'submit' }, 'Record consent');
  const form = h('form', {
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      clear(output);
      const missing = [[resourceType, 'resource type'], [resourceId, 'resource id'], [description, 'description']].filter(([el]) => !el.value.trim());
      if (missing.length) {
        output.append(notice('error', `Fill in the ${missing.map(([, n]) => n).join(', ')}.`));
        missing[0][0].focus();
        return;
      }
      const body = { consent_type: type.value, resource_type: resourceType.value.trim(), resource_id: resourceId.value.trim(), description: description.value.trim() };
      if (subject.value.trim()) body.subject = subject.value.trim();
      await act(save, output, async () => {
        const consent = await api.post(base, body);
        output.append(notice('ok', `${typeLabel(consent.consent_type)} consent recorded for ${consent.resource_type} ${consent.resource_id}.`));
        description.value = '';
        await onGranted();
      });
    },
  },
  field('Type', type),
  field('Resource type', resourceType), field('Resource id', resourceId),
  field('Subject', subject, 'Who agreed, when it is not the resource itself.'),
  field('Description', description),
  save, output);
  return panel('Record a consent', form);
}

function statusPanel(base) {
  const resourceType = input('status-resource-type', 'e.g. contact');
  const resourceId = input('status-resource-id', 'e.g. c_123');
  const subject = input('status-subject', 'optional');
  const check = h('button', { type: 'submit', class: 'secondary' }, 'Check');
  const result = h('div', { 'aria-live': 'polite', id: 'consent-status' });
  const form = h('form', {
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      clear(result);
      if (!resourceType.value.trim() || !resourceId.value.trim()) {
        result.append(notice('error', 'Enter the resource type and id to check.'));
        return;
      }
      await act(check, result, async () => {
        const status = await api.get(`${base}/status${api.query({ resource_type: resourceType.value.trim(), resource_id: resourceId.value.trim(), subject: subject.value.trim() })}`);
        const consents = status.consents || {};
        const missing = TYPES.filter((t) => !consents[t.value]?.granted);
        result.append(
          notice(missing.length ? 'warn' : 'ok', missing.length
            ? `Not granted for ${status.resource_type} ${status.resource_id}: ${missing.map((t) => t.label.toLowerCase()).join(', ')}.`
            : `Every consent is in force for ${status.resource_type} ${status.resource_id}.`),
          table([{ label: 'Type' }, { label: 'Status' }, { label: 'Since', optional: true }], TYPES,
            (t) => {
              const c = consents[t.value] || {};
              return [t.label, badge(c.granted ? 'granted' : 'missing'), when(c.granted_at)];
            }));
      });
    },
  },
  field('Resource type', resourceType), field('Resource id', resourceId),
  field('Subject', subject),
  check);
  return panel('Compliance status', h('p', { class: 'help' }, 'Which consents are in force for one resource right now.'), form, result);
}
