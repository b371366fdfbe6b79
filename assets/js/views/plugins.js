// Plugins. A tenant's page: the installed plugins (configure, uninstall), the
// marketplace as cards, and a plugin's details with an install form generated from its
// configuration schema. The operator's page: the marketplace with each package's
// versions, schema and source, and removal.
import * as api from '../api.js';
import { h, append, clear, badge, act, notice, field, empty, table, toast, when, errorNotice, loading } from '../dom.js';
import { page, panel, categoryLabel, possessive, OUTBOUND_ENTRY_POINTS } from './common.js';


// A badge in one of the status tones, for states that are not statuses.
const tag = (tone, label, status) => h('span', { class: `badge ${tone}`, dataset: { status: status || tone } }, label);

// What a plugin does, in words rather than entry-point names.
function abilities(plugin) {
  const entry = plugin.entry_points || [];
  return [
    plugin.providers?.length ? `Adds or changes integrations: ${plugin.providers.join(', ')}.` : null,
    entry.includes('onInbound') ? 'Decides what those integrations’ webhooks become (signups, updates).' : null,
    entry.some((e) => OUTBOUND_ENTRY_POINTS.includes(e))
      ? 'Reshapes the messages of outbound endpoints that choose it as their transform.'
      : null,
  ].filter(Boolean);
}

function byline(plugin) {
  return [
    `Version ${plugin.version}`,
    plugin.author ? `by ${plugin.author}` : null,
    plugin.platform_wide ? 'available to every tenant' : null,
  ].filter(Boolean).join(' · ');
}

// One input per schema field. Secrets are password inputs that keep their stored value
// when left empty; a plain field emptied is cleared.
function configForm(fields, current, submitLabel, onSubmit) {
  const inputs = fields.map((f) => {
    const stored = current ? current[f.name] : undefined;
    const input = h('input', {
      type: f.secret ? 'password' : 'text',
      name: f.name,
      autocomplete: f.secret ? 'new-password' : 'off',
      required: f.required && stored === undefined,
      value: f.secret || stored === undefined ? '' : String(stored),
      placeholder: f.secret && stored !== undefined ? `${stored} (stored)` : '',
    });
    const help = [
      f.help,
      f.secret ? 'Kept encrypted; shown masked.' : null,
      f.secret && stored !== undefined ? 'Leave empty to keep the stored value.' : null,
    ].filter(Boolean).join(' ');
    return { f, input, row: field(`${f.label}${f.required ? '' : ' (optional)'}`, input, help || null) };
  });
  const output = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, submitLabel);
  return h('form', {
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      clear(output);
      const configuration = {};
      for (const { f, input } of inputs) {
        const value = input.value.trim();
        const stored = current && current[f.name] !== undefined;
        if (value) configuration[f.name] = value;
        else if (!f.secret && stored) configuration[f.name] = null;
        else if (f.required && !stored) {
          output.append(notice('error', `${f.label} is required.`));
          input.focus();
          return;
        }
      }
      await act(submit, output, () => onSubmit(configuration));
    },
  }, inputs.length ? inputs.map((i) => i.row) : h('p', { class: 'help' }, 'This plugin needs no configuration.'),
  h('div', { class: 'row' }, submit), output);
}

function marketCard(plugin, state, onOpen) {
  return h('button', { type: 'button', class: 'card plugin-card', dataset: { plugin: plugin.id }, onclick: () => onOpen(plugin) },
    h('div', { class: 'card-top' }, h('span', { class: 'card-title' }, plugin.name), state),
    h('p', {}, plugin.description),
    h('span', { class: 'help card-foot' }, `${categoryLabel(plugin.category || 'other')} · v${plugin.version}${plugin.author ? ` · ${plugin.author}` : ''}`));
}

// A panel the details and forms open in, with a way to close it.
function detailPanel(area, title, ...children) {
  const close = h('button', { type: 'button', class: 'secondary', onclick: () => clear(area) }, 'Close');
  const section = h('section', { class: 'panel plugin-details', 'aria-label': title },
    h('div', { class: 'panel-head' }, h('h2', {}, title), close), children);
  clear(area).append(section);
  section.scrollIntoView({ block: 'nearest' });
  return section;
}

export async function renderPlugins(ctx, main) {
  const base = api.tenantPath(ctx.tenant.slug, '/plugins');
  page(main, 'Plugins', `Extend ${possessive(ctx.tenant.name)} integrations with new providers and transformations of webhooks, installed for this tenant only.`);
  const installedArea = h('div', {});
  const marketArea = h('div', {});
  const detailArea = h('div', { id: 'plugin-detail' });
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
    installedArea.append(rowOutput, h('div', { class: 'plugin-table' }, table(
      [{ label: 'Plugin' }, { label: 'Version', optional: true }, { label: 'Status' }, { label: '', actions: true }],
      installed,
      (inst) => {
        const configure = h('button', {
          type: 'button', class: 'secondary', 'aria-label': `Configure ${inst.name}`, onclick: () => showConfigure(inst),
        }, 'Configure');
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
            act(remove, rowOutput, async () => {
              await api.del(`${base}/${encodeURIComponent(inst.plugin_id)}`);
              toast(`${inst.name} uninstalled`);
              clear(detailArea);
              await load();
            });
          },
        }, 'Uninstall');
        return [
          h('div', { dataset: { plugin: inst.plugin_id } }, h('strong', {}, inst.name),
            h('div', { class: 'help' }, `${inst.plugin_id} · installed ${when(inst.created_at)}`)),
          inst.version,
          inst.status === 'active' ? badge('active') : tag('warn', 'Needs configuration', inst.status),
          h('div', { class: 'row end' }, configure, remove),
        ];
      })));
  }

  // The row may have been drawn before the last change: the form shows what is stored now.
  async function showConfigure(listed) {
    const inst = await api.get(`${base}/${encodeURIComponent(listed.plugin_id)}`).catch(() => listed);
    const plugin = market.find((p) => p.id === inst.plugin_id);
    const fields = plugin ? plugin.config_fields : [];
    detailPanel(detailArea, `Configure ${inst.name}`,
      inst.missing_fields.length ? notice('error', `An upgrade needs: ${inst.missing_fields.join(', ')}.`) : null,
      configForm(fields, inst.configuration, 'Save configuration', async (configuration) => {
        await api.patch(`${base}/${encodeURIComponent(inst.plugin_id)}`, { configuration });
        clear(detailArea);
        await load();
        toast(`${inst.name}: configuration saved`);
      }));
    detailArea.querySelector('input')?.focus();
  }

  function showDetails(plugin) {
    const already = installed.some((i) => i.plugin_id === plugin.id);
    detailPanel(detailArea, plugin.name,
      h('p', {}, plugin.description),
      h('ul', { class: 'plugin-abilities' }, abilities(plugin).map((a) => h('li', {}, a))),
      h('p', { class: 'help' }, byline(plugin)),
      already
        ? notice('ok', 'Installed for this tenant. Use Configure above to change its settings.')
        : configForm(plugin.config_fields, null, `Install ${plugin.name}`, async (configuration) => {
          await api.post(`${base}/${encodeURIComponent(plugin.id)}/install`, { configuration });
          toast(`${plugin.name} installed`);
          clear(detailArea);
          await load();
        }));
  }

  function drawMarket() {
    clear(marketArea);
    if (!market.length) {
      marketArea.append(empty('The marketplace is empty', 'The operator has not published any plugin.'));
      return;
    }
    marketArea.append(h('div', { class: 'grid' }, market.map((p) => {
      const isInstalled = installed.some((i) => i.plugin_id === p.id);
      return marketCard(p, isInstalled ? tag('ok', 'Installed', 'installed') : tag('', 'Available', 'available'), showDetails);
    })));
  }

  await load();
}

// The operator's view of the marketplace.
export async function renderMarketplace(ctx, main) {
  page(main, 'Plugin marketplace', ['Packages every tenant can install from its Plugins page. Publish or upgrade one with ', h('code', {}, 'POST /api/v1/plugins'), '.']);
  const detailArea = h('div', { id: 'plugin-detail' });
  const marketArea = h('div', {});
  main.append(detailArea, panel('Published', marketArea));

  async function load() {
    const market = (await api.get('/api/v1/plugins')).items || [];
    clear(marketArea);
    if (!market.length) {
      marketArea.append(empty('Nothing published', 'Publish a package through the API to offer it to tenants.'));
      return;
    }
    marketArea.append(h('div', { class: 'grid' }, market.map((p) => marketCard(p,
      p.builtin ? tag('info', 'Built in', 'builtin') : tag('ok', 'Published', 'published'), showDetails))));
  }

  async function showDetails(summary) {
    const section = detailPanel(detailArea, summary.name, loading());
    let plugin;
    try {
      plugin = await api.get(`/api/v1/plugins/${encodeURIComponent(summary.id)}`);
    } catch (err) {
      section.querySelector('.loading')?.replaceWith(errorNotice(err));
      return;
    }
    const output = h('div', { 'aria-live': 'polite' });
    const source = (label, text, id) => (text
      ? h('details', { class: 'plugin-source' },
        h('summary', {}, `${label} (${text.split('\n').length} lines)`),
        h('pre', { id }, text))
      : null);
    section.querySelector('.loading')?.remove();
    append(section, [
      h('p', {}, plugin.description),
      h('ul', { class: 'plugin-abilities' }, abilities(plugin).map((a) => h('li', {}, a))),
      h('dl', { class: 'kv', id: 'plugin-facts' },
        h('dt', {}, 'Version'), h('dd', {}, plugin.version),
        h('dt', {}, 'Author'), h('dd', {}, plugin.author || '—'),
        h('dt', {}, 'Category'), h('dd', {}, categoryLabel(plugin.category || 'other')),
        h('dt', {}, 'Available to'), h('dd', {}, plugin.platform_wide ? 'Every tenant, installed or not' : 'Tenants that install it'),
        h('dt', {}, 'Installed by'), h('dd', {}, `${plugin.installations} tenant${plugin.installations === 1 ? '' : 's'}`),
        h('dt', {}, 'Published'), h('dd', {}, when(plugin.published_at)),
        h('dt', {}, 'SHA-256'), h('dd', { class: 'mono' }, plugin.sha256)),
      h('h3', {}, 'Configuration'),
      plugin.config_fields.length
        ? table([{ label: 'Field' }, { label: 'Kind' }, { label: 'Script sees it', optional: true }],
          plugin.config_fields,
          (f) => [
            h('div', {}, h('strong', {}, f.label), h('div', { class: 'help mono' }, f.name)),
            h('div', { class: 'row' }, f.secret ? tag('warn', 'Secret') : tag('', 'Plain', 'plain'), f.required ? tag('info', 'Required', 'required') : null),
            (f.to_script ?? !f.secret) ? 'Yes' : 'No',
          ])
        : h('p', { class: 'help' }, 'No settings: tenants install it as it is.'),
      h('h3', {}, 'Versions'),
      table([{ label: 'Version' }, { label: 'Published' }, { label: 'SHA-256', optional: true }],
        plugin.versions,
        (v) => [v.version, when(v.published_at), h('span', { class: 'mono' }, v.sha256.slice(0, 16))]),
      source('Providers', plugin.package?.providers, 'plugin-providers'),
      source('Script', plugin.package?.script, 'plugin-script'),
      plugin.builtin
        ? h('p', { class: 'help' }, 'Ships with tessera: tenants may uninstall it, but it cannot be removed from the marketplace.')
        : removeButton(plugin, output),
      output,
    ]);
  }

  function removeButton(plugin, output) {
    const n = plugin.installations;
    const label = n ? `Remove and uninstall from ${n} tenant${n === 1 ? '' : 's'}` : 'Remove from the marketplace';
    let armed = false;
    const button = h('button', {
      type: 'button', class: 'danger', 'aria-label': `Remove ${plugin.name}`,
      onclick: () => {
        if (!armed) {
          armed = true;
          button.textContent = `Confirm: ${label.toLowerCase()}`;
          button.setAttribute('aria-label', `Confirm: remove ${plugin.name}`);
          return;
        }
        act(button, output, async () => {
          await api.del(`/api/v1/plugins/${encodeURIComponent(plugin.id)}${n ? '?force=true' : ''}`);
          toast(`${plugin.name} removed from the marketplace`);
          clear(detailArea);
          await load();
        });
      },
    }, label);
    return h('div', { class: 'row plugin-remove' }, button);
  }

  await load();
}
