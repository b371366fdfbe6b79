import * as api from '../api.js';
import { h, clear, act, notice, field, when } from '../dom.js';
import { page, panel } from './common.js';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

// The tenant's own settings: its display name and who gets notification emails.
export async function renderSettings(ctx, main) {
  const path = api.tenantPath(ctx.tenant.slug);
  const tenant = await api.get(path);
  page(main, 'Settings', `${tenant.name}: how it is named and who hears about new signups.`);
  const name = h('input', { type: 'text', id: 'settings-name', value: tenant.name, required: true, autocomplete: 'organization' });
  const emails = h('textarea', { id: 'settings-emails', rows: 3, placeholder: 'ops@example.com, one per line' });
  emails.value = (tenant.notification_emails || []).join('\n');
  const output = h('div', { 'aria-live': 'polite' });
  const save = h('button', { type: 'submit' }, 'Save settings');
  const form = h('form', {
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      clear(output);
      const list = emails.value.split(/[\s,;]+/).map((e) => e.trim()).filter(Boolean);
      const wrong = list.filter((e) => !EMAIL.test(e));
      if (!name.value.trim()) { output.append(notice('error', 'Give the tenant a name.')); name.focus(); return; }
      if (wrong.length) { output.append(notice('error', `Not an email address: ${wrong.join(', ')}.`)); emails.focus(); return; }
      await act(save, output, async () => {
        await api.patch(path, { name: name.value.trim(), notification_emails: list });
        await ctx.refreshTenants();
        // Drawn again so the sidebar shows a new name too.
        ctx.navigate('/ui/settings?saved=1', { replace: true });
      });
    },
  },
  field('Name', name, 'Shown in this admin and in notification emails.'),
  field('Notification emails', emails, 'These addresses get an email for each new signup (through the tenant’s Resend connection, when it has one).'),
  save, output);
  if (ctx.search.get('saved')) output.append(notice('ok', 'Settings saved.'));
  main.append(h('div', { class: 'grid two' },
    panel('Tenant', form),
    panel('Details', h('dl', { class: 'kv' },
      h('dt', {}, 'Slug'), h('dd', {}, h('code', {}, tenant.slug)),
      h('dt', {}, 'Tier'), h('dd', {}, tenant.tier[0].toUpperCase() + tenant.tier.slice(1)),
      h('dt', {}, 'Id'), h('dd', { class: 'mono' }, tenant.id),
      h('dt', {}, 'Created'), h('dd', {}, when(tenant.created_at))),
    h('p', { class: 'help' }, 'The slug is part of every webhook URL, and only the platform changes the tier.'))));
}
