// Plugins: the marketplace (cards and details), install with a form generated from the
// plugin's configuration schema, and the tenant's installed plugins (configure, uninstall).
import * as api from '../api.js';
import { h, clear, badge, act, notice, field, empty, table, toast } from '../dom.js';
import { page, panel, categoryLabel, possessive } from './common.js';

// One input per schema field; secrets are password inputs that keep their stored value
// when left empty.
function configForm(fields, current, submitLabel, onSubmit) {
  const inputs = fields.map((f) => {
    const stored = current ? current[f.name] : undefined;
    const input = h('input', {
      type: f.secret ? 'password' : 'text',
      name: f.name,
      autocomplete: 'off',
      required: f.required && !(current && stored !== undefined),
      value: f.secret || stored === undefined ? '' : String(stored),
      placeholder: f.secret && stored !== undefined ? `${stored} (stored; leave empty to keep)` : '',
    });
    return { f, input, row: field(`${f.label}${f.required ? '' : ' (optional)'}`, input, f.help || null) };
  });
  const output = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, submitLabel);
  const form = h('form', {
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      clear(output);
      const configuration = {};
      for (const { f, input } of inputs) {
        const value = input.value.trim();
        if (value) configuration[f.name] = value;
        else if (!f.secret && current && current[f.name] !== undefined) configuration[f.name] = null;
        else if (f.required && !(current && current[f.name] !== undefined)) {
          output.append(notice('error', `${f.label} is required.`));
          input.focus();
          return;
        }
      }
      await act(submit, output, () => onSubmit(configuration));
    },
  }, inputs.length ? inputs.map((i) => i.row) : h('p', { class: 'help' }, 'This plugin needs no configuration.'), submit, output);
  return form;
}

function details(plugin) {
  const list = (label, items) => (items && items.length
    ? h('div', {}, h('strong', {}, label), ' ', h('span', { class: 'tags' }, items.map((x) => h('span', { class: 'tag' }, x))))
    : null);
  return h('div', { class: 'plugin-details' },
    h('p', {}, plugin.description),
    list('Adds providers:', plugin.providers),
    list('Script entry points:', plugin.entry_points),
    h('p', { class: 'help' }, `Version ${plugin.version}${plugin.author ? ` · by ${plugin.author}` : ''}${plugin.platform_wide ? ' · available to every tenant' : ''}`));
}

export async function renderPlugins(ctx, main) {
  const tenant = ctx.tenant.slug;
  const base = api.tenantPath(tenant, '/plugins');
  page(main, 'Plugins', `Extend ${possessive(ctx.tenant.name)} integrations: new providers and transformations of webhooks, installed for this tenant only.`);
  const installedArea = h('div', {});
  const marketArea = h('div', {});
  const detailArea = h('div', { 'aria-live': 'polite' });
  main.append(panel('Installed', installedArea), detailArea, panel('Marketplace', marketArea));

  let market = [];
  let installed = [];
  async function load() {
    const [m, i] = await Promise.all([api.get('/api/v1/plugins'), api.get(base)]);
    market = m.items || [];
    installed = i.items || [];
    drawInstalled();
    drawMarket();
  }

  function drawInstalled() {
    clear(installedArea);
    if (!installed.length) {
      installedArea.append(empty('No plugins installed', 'Pick one from the marketplace below.'));
      return;
    }
    const rowOutput = h('div', { 'aria-live': 'polite' });
    installedArea.append(rowOutput, table(
      [{ label: 'Plugin' }, { label: 'Version', optional: true }, { label: 'Status' }, { label: '', actions: true }],
      installed,
      (inst) => {
        const configure = h('button', { type: 'button', class: 'secondary', onclick: () => showConfigure(inst) }, 'Configure');
        let armed = false;
        const remove = h('button', {
          type: 'button', class: 'danger', 'aria-label': `Uninstall ${inst.name}`,
          onclick: () => {
            if (!armed) {
              armed = true;
              remove.textContent = 'Confirm uninstall';
              remove.setAttribute('aria-label', `Confirm: uninstall ${inst.name}`);
              return;
            }
            act(remove, rowOutput, async () => { await api.del(`${base}/${encodeURIComponent(inst.plugin_id)}`); toast(`${inst.name} uninstalled`); await load(); });
          },
        }, 'Uninstall');
        return [
          h('span', { dataset: { plugin: inst.plugin_id } }, inst.name, h('div', { class: 'help' }, inst.plugin_id)),
          inst.version,
          badge(inst.status),
          h('div', { class: 'row end' }, configure, remove),
        ];
      }));
  }

  function showConfigure(inst) {
    const plugin = market.find((p) => p.id === inst.plugin_id);
    const fields = plugin ? plugin.config_fields : [];
    clear(detailArea).append(panel(`Configure ${inst.name}`,
      inst.missing_fields.length ? notice('error', `An upgrade needs: ${inst.missing_fields.join(', ')}.`) : null,
      configForm(fields, inst.configuration, 'Save configuration', async (configuration) => {
        await api.patch(`${base}/${encodeURIComponent(inst.plugin_id)}`, { configuration });
        toast('Configuration saved');
        clear(detailArea);
        await load();
      })));
    detailArea.querySelector('input, button')?.focus();
  }

  function showDetails(plugin) {
    const already = installed.some((i) => i.plugin_id === plugin.id);
    clear(detailArea).append(panel(plugin.name,
      details(plugin),
      already
        ? notice('ok', 'Installed for this tenant. Use Configure above to change its settings.')
        : configForm(plugin.config_fields, null, `Install ${plugin.name}`, async (configuration) => {
          await api.post(`${base}/${encodeURIComponent(plugin.id)}/install`, { configuration });
          toast(`${plugin.name} installed`);
          clear(detailArea);
          await load();
        })));
    detailArea.scrollIntoView({ block: 'nearest' });
  }

  function drawMarket() {
    clear(marketArea);
    if (!market.length) {
      marketArea.append(empty('The marketplace is empty', 'The operator has not published any plugin.'));
      return;
    }
    marketArea.append(h('div', { class: 'grid' }, market.map((p) => {
      const isInstalled = installed.some((i) => i.plugin_id === p.id);
      return h('button', { type: 'button', class: 'card', dataset: { plugin: p.id }, onclick: () => showDetails(p) },
        h('div', { class: 'card-top' },
          h('span', { class: 'card-title' }, p.name),
          badge(isInstalled ? 'installed' : 'available')),
        h('p', {}, p.description),
        h('span', { class: 'help' }, `${categoryLabel(p.category || 'other')} · v${p.version}`));
    })));
  }

  await load();
}
