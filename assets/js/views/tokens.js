import * as api from '../api.js';
import { h, clear, badge, act, notice, copyField, field, when, ago, empty, table, nextId } from '../dom.js';
import { page, panel, possessive } from './common.js';

export async function renderTokens(ctx, main) {
  const base = api.tenantPath(ctx.tenant.slug, '/tokens');
  const [scopes, tokens] = await Promise.all([api.get('/api/v1/scopes'), api.get(`${base}?limit=500`)]);
  page(main, 'API tokens', `Tokens let ${possessive(ctx.tenant.name)} apps call tessera. Each is shown once, when it is created.`);

  const revealed = h('div', { 'aria-live': 'polite' });
  const output = h('div', { 'aria-live': 'polite' });
  const name = h('input', { type: 'text', name: 'name', required: true, placeholder: 'e.g. Production backend' });
  const expires = h('input', { type: 'text', name: 'expires_at', placeholder: 'YYYY-MM-DD (optional)' });
  const boxes = (scopes.items || []).map((s) => {
    const id = nextId('scope');
    const input = h('input', { type: 'checkbox', id, value: s.scope, name: 'scopes' });
    return { input, label: h('label', { for: id, title: s.description }, input, h('span', {}, h('code', {}, s.scope), ' ', h('span', { class: 'help' }, s.description))) };
  });
  const create = h('button', { type: 'submit' }, 'Create token');
  const form = h('form', {
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      clear(output);
      const chosen = boxes.filter((b) => b.input.checked).map((b) => b.input.value);
      if (!name.value.trim()) { output.append(notice('error', 'Give the token a name.')); name.focus(); return; }
      if (!chosen.length) { output.append(notice('error', 'Choose at least one scope.')); return; }
      const body = { name: name.value.trim(), scopes: chosen };
      if (expires.value.trim()) {
        const d = new Date(`${expires.value.trim()}T23:59:59Z`);
        if (Number.isNaN(d.getTime())) { output.append(notice('error', 'Expiry must be a date like 2027-01-31.')); return; }
        body.expires_at = d.toISOString().replace(/\.\d{3}Z$/, 'Z');
      }
      await act(create, output, async () => {
        const created = await api.post(base, body);
        clear(revealed).append(h('div', { class: 'secret-once', id: 'new-token' },
          h('strong', {}, `Token “${created.name}” created. Copy it now — it will not be shown again.`),
          copyField(created.token, 'API token')));
        name.value = ''; expires.value = '';
        boxes.forEach((b) => { b.input.checked = false; });
        await drawList();
      });
    },
  },
  h('div', { class: 'grid two' }, field('Name', name), field('Expires', expires, 'Leave empty for a token that does not expire.')),
  h('fieldset', { class: 'field' }, h('legend', {}, 'Scopes'), h('div', { class: 'checks' }, boxes.map((b) => b.label))),
  create, output);

  const listArea = h('div', {});
  main.append(revealed, panel('New token', form), panel('Tokens', listArea));

  let items = tokens.items || [];
  async function drawList() {
    items = (await api.get(`${base}?limit=500`)).items || [];
    draw();
  }
  function draw() {
    clear(listArea);
    if (!items.length) { listArea.append(empty('No tokens yet', 'Create one above for each app that calls tessera.')); return; }
    const rowOutput = h('div', { 'aria-live': 'polite' });
    listArea.append(rowOutput, table(
      [{ label: 'Name' }, { label: 'Prefix', optional: true }, { label: 'Scopes', optional: true }, { label: 'Status' }, { label: 'Last used', optional: true }, { label: '', actions: true }],
      items,
      (t) => {
        const status = t.status || (t.revoked_at ? 'revoked' : (t.active ? 'active' : 'inactive'));
        const actions = [];
        if (status !== 'revoked') {
          // An expired token stays expired whatever its switch says: only revoking is left.
          const toggle = status === 'expired' ? null : h('button', {
            type: 'button', class: 'secondary', 'aria-label': `${t.active ? 'Deactivate' : 'Activate'} ${t.name}`,
            onclick: () => act(toggle, rowOutput, async () => { await api.patch(`${base}/${t.id}`, { active: !t.active }); await drawList(); }),
          }, t.active ? 'Deactivate' : 'Activate');
          let armed = false;
          const revoke = h('button', {
            type: 'button', class: 'danger', 'aria-label': `Revoke ${t.name}`,
            onclick: () => {
              if (!armed) {
                armed = true;
                revoke.textContent = 'Confirm revoke';
                revoke.setAttribute('aria-label', `Confirm: revoke ${t.name}`);
                return;
              }
              act(revoke, rowOutput, async () => { await api.del(`${base}/${t.id}`); await drawList(); });
            },
          }, 'Revoke');
          actions.push(h('div', { class: 'row end' }, toggle, revoke));
        }
        return [
          h('span', {}, t.name, t.expires_at ? h('div', { class: 'help' }, `${status === 'expired' ? 'Expired' : 'Expires'} ${when(t.expires_at)}`) : null),
          h('code', {}, `${t.prefix}…`),
          h('div', { class: 'tags' }, (t.scopes || []).map((s) => h('span', { class: 'tag' }, s))),
          badge(status),
          ago(t.last_used_at),
          actions,
        ];
      }));
  }
  draw();
}
