import * as api from '../api.js';
import { h, clear, act, notice, field, when, empty, table, errorNotice } from '../dom.js';
import { page, panel } from './common.js';

const TIERS = ['free', 'pro', 'enterprise'];

export async function renderTenants(ctx, main) {
  page(main, 'Tenants', 'Each tenant (a brand) keeps its own credentials, webhooks and tokens, encrypted under its own key.');
  const output = h('div', { 'aria-live': 'polite' });
  const name = h('input', { type: 'text', name: 'name', required: true, placeholder: 'Acme Events' });
  const slug = h('input', { type: 'text', name: 'slug', placeholder: 'acme-events (optional)' });
  const tier = h('select', { name: 'tier' }, TIERS.map((t) => h('option', { value: t }, t[0].toUpperCase() + t.slice(1))));
  const create = h('button', { type: 'submit' }, 'Create tenant');
  const listArea = h('div', {});

  const form = h('form', {
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      clear(output);
      if (!name.value.trim()) { output.append(notice('error', 'Give the tenant a name.')); name.focus(); return; }
      const body = { name: name.value.trim(), tier: tier.value };
      if (slug.value.trim()) body.slug = slug.value.trim();
      await act(create, output, async () => {
        const tenant = await api.post('/api/v1/tenants', body);
        await ctx.refreshTenants();
        // Re-render the whole page so the tenant switcher lists the new tenant too.
        ctx.navigate(`/ui/platform/tenants?created=${encodeURIComponent(tenant.slug)}`, { replace: true });
      });
    },
  }, h('div', { class: 'grid' }, field('Name', name), field('Slug', slug, 'Used in webhook URLs; derived from the name when empty.'), field('Tier', tier)), create, output);

  main.append(panel('New tenant', form), panel('All tenants', listArea));
  const created = ctx.tenants.find((t) => t.slug === ctx.search.get('created'));
  if (created) output.append(notice('ok', `Tenant “${created.name}” created (slug ${created.slug}).`));

  function draw() {
    clear(listArea);
    if (!ctx.tenants.length) { listArea.append(empty('No tenants yet', 'Create the first one above.')); return; }
    const rowOutput = h('div', { 'aria-live': 'polite' });
    listArea.append(rowOutput, table(
      [{ label: 'Name' }, { label: 'Slug', optional: true }, { label: 'Tier' }, { label: 'Created', optional: true }, { label: '', actions: true }],
      ctx.tenants,
      (t) => {
        const select = h('select', {
          'aria-label': `Tier of ${t.name}`,
          onchange: () => act(select, rowOutput, async () => {
            const updated = await api.patch(`/api/v1/tenants/${encodeURIComponent(t.id)}`, { tier: select.value });
            t.tier = updated.tier;
            rowOutput.append(notice('ok', `${t.name} is now on the ${updated.tier} tier.`));
          }),
        }, TIERS.map((x) => h('option', { value: x, selected: x === t.tier }, x[0].toUpperCase() + x.slice(1))));
        const remove = h('button', {
          type: 'button', class: 'danger', 'aria-label': `Delete ${t.name}`,
          onclick: () => confirmDelete(ctx, t, remove),
        }, 'Delete');
        return [h('span', {}, t.name, h('div', { class: 'help only-phone' }, h('code', {}, t.slug))), h('code', {}, t.slug), select, when(t.created_at), remove];
      }));
  }
  draw();
  const deleted = ctx.search.get('deleted');
  if (deleted) output.append(notice('ok', `Tenant ${deleted} is deleted, and its key with it: its ciphertext can no longer be read.`));
}

// Deleting a tenant destroys its data key, so the confirmation names the consequence
// and asks for the slug typed out. A modal <dialog> keeps focus inside until it closes.
function confirmDelete(ctx, tenant, opener) {
  const typed = h('input', { type: 'text', id: 'delete-confirm', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'delete-warning' });
  const output = h('div', { 'aria-live': 'polite' });
  const confirm = h('button', { type: 'submit', class: 'danger-solid', disabled: true }, `Delete ${tenant.name}`);
  const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, 'Cancel');
  typed.addEventListener('input', () => { confirm.disabled = typed.value.trim() !== tenant.slug; });
  const form = h('form', {
    method: 'dialog', novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      if (typed.value.trim() !== tenant.slug) return;
      await act(confirm, output, async () => {
        await api.del(`/api/v1/tenants/${encodeURIComponent(tenant.id)}`);
        dialog.close();
        await ctx.refreshTenants();
        ctx.navigate(`/ui/platform/tenants?deleted=${encodeURIComponent(tenant.slug)}`, { replace: true });
      });
    },
  },
  h('h2', { id: 'delete-title' }, `Delete ${tenant.name}?`),
  h('div', { class: 'notice error', id: 'delete-warning' },
    h('p', {}, h('strong', {}, 'This cannot be undone. '),
      `Deleting the tenant destroys its encryption key: every credential, token and stored webhook payload it holds becomes unreadable ciphertext, `,
      'and its connections, endpoints, signups, API tokens and admins are removed.'),
    h('p', {}, 'A backup taken before now still holds the key; the audit log keeps the record of what happened.')),
  h('div', { class: 'field' },
    h('label', { for: typed.id }, 'Type ', h('code', {}, tenant.slug), ' to confirm'),
    typed),
  output,
  h('div', { class: 'row end' }, cancel, confirm));
  const dialog = h('dialog', { class: 'confirm-dialog', 'aria-labelledby': 'delete-title' }, form);
  dialog.addEventListener('close', () => { dialog.remove(); opener.focus(); });
  document.body.append(dialog);
  dialog.showModal();
  typed.focus();
}

export async function renderPlatformApps(ctx, main) {
  page(main, 'Platform OAuth apps', 'Register your own OAuth app once per provider; every tenant can then connect with one click. A tenant’s own app, when set, wins.');
  const catalog = await api.get('/api/v1/providers');
  const oauthProviders = (catalog.items || []).filter((p) => (p.auth_modes || []).includes('oauth2'));
  const listArea = h('div', {});
  const output = h('div', { 'aria-live': 'polite' });
  const provider = h('select', { name: 'provider' }, oauthProviders.map((p) => h('option', { value: p.key }, p.name)));
  const clientId = h('input', { type: 'text', name: 'client_id', autocomplete: 'off', spellcheck: 'false' });
  const clientSecret = h('input', { type: 'password', name: 'client_secret', autocomplete: 'new-password' });
  const scopes = h('input', { type: 'text', name: 'scopes', placeholder: 'space-separated (optional)' });
  const save = h('button', { type: 'submit' }, 'Save app');
  const redirect = `${location.origin}/oauth/callback`;

  const form = h('form', {
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      clear(output);
      if (!clientId.value.trim() || !clientSecret.value) { output.append(notice('error', 'Enter the client ID and client secret.')); return; }
      const body = { client_id: clientId.value.trim(), client_secret: clientSecret.value };
      if (scopes.value.trim()) body.scopes = scopes.value.trim().split(/[\s,]+/);
      await act(save, output, async () => {
        await api.put(`/api/v1/platform/apps/${encodeURIComponent(provider.value)}`, body);
        clientSecret.value = '';
        output.append(notice('ok', 'Saved. The secret is stored encrypted and shown only masked.'));
        await load();
      });
    },
  },
  h('p', {}, 'Redirect URI to register with the provider: ', h('code', { id: 'redirect-uri' }, redirect)),
  h('div', { class: 'grid' }, field('Provider', provider), field('Client ID', clientId), field('Client secret', clientSecret), field('Scopes', scopes)),
  save, output);

  main.append(panel('Register an app', oauthProviders.length ? form : empty('No OAuth providers', 'The catalog has no provider that uses OAuth.')), panel('Registered apps', listArea));

  async function load() {
    clear(listArea);
    let page;
    try {
      page = await api.get('/api/v1/platform/apps');
    } catch (err) {
      listArea.append(errorNotice(err));
      return;
    }
    const items = page.items || [];
    if (!items.length) { listArea.append(empty('No apps registered', 'Tenants can still connect with their own app credentials.')); return; }
    const rowOutput = h('div', { 'aria-live': 'polite' });
    listArea.append(rowOutput, table(
      [{ label: 'Provider' }, { label: 'Client ID' }, { label: 'Secret', optional: true }, { label: 'Updated', optional: true }, { label: '', actions: true }],
      items,
      (app) => {
        const remove = h('button', {
          type: 'button', class: 'danger', 'aria-label': `Remove the ${app.provider} app`,
          onclick: () => act(remove, rowOutput, async () => { await api.del(`/api/v1/platform/apps/${encodeURIComponent(app.provider)}`); await load(); }),
        }, 'Remove');
        return [app.provider, h('code', {}, app.client_id || '—'), h('code', {}, app.client_secret || '****'), when(app.updated_at), remove];
      }));
  }
  await load();
}
