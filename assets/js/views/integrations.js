import * as api from '../api.js';
import { h, badge, empty } from '../dom.js';
import { page, CATEGORY_ORDER, categoryLabel, possessive } from './common.js';

export async function renderIntegrations(ctx, main) {
  const tenant = ctx.tenant.slug;
  const [catalog, connections] = await Promise.all([
    api.get(`/api/v1/providers?tenant=${encodeURIComponent(ctx.tenant.slug)}`),
    api.get(api.tenantPath(tenant, '/connections?limit=500')),
  ]);
  const byProvider = new Map((connections.items || []).map((c) => [c.provider, c]));
  const search = h('input', { type: 'search', id: 'integration-search', placeholder: 'Search integrations', 'aria-label': 'Search integrations' });
  page(main, 'Integrations', `Connect ${possessive(ctx.tenant.name)} own accounts. Credentials are stored encrypted for this tenant only.`);
  main.append(h('div', { class: 'field' }, search));

  const groups = new Map();
  for (const provider of catalog.items || []) {
    const key = provider.category || 'other';
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(provider);
  }
  const order = [...groups.keys()].sort((a, b) => {
    const ia = CATEGORY_ORDER.indexOf(a); const ib = CATEGORY_ORDER.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
  });
  const list = h('div', {});
  main.append(list);
  if (!order.length) {
    list.append(empty('The catalog is empty', 'No providers are configured on this server.'));
    return;
  }
  const cards = [];
  for (const category of order) {
    const providers = groups.get(category).sort((a, b) => a.name.localeCompare(b.name));
    const section = h('section', { class: 'category', 'aria-labelledby': `cat-${category}` },
      h('h2', { id: `cat-${category}` }, categoryLabel(category)),
      h('div', { class: 'grid' }, providers.map((p) => {
        const connection = byProvider.get(p.key);
        const card = h('a', { class: 'card', href: `/ui/integrations/${encodeURIComponent(p.key)}`, dataset: { provider: p.key } },
          h('div', { class: 'card-top' },
            h('span', { class: 'card-title' }, p.name),
            connection ? badge(connection.status) : badge('not_connected')),
          h('p', {}, p.description || ''));
        cards.push({ card, text: `${p.name} ${p.key} ${category} ${p.description || ''}`.toLowerCase() });
        return card;
      })));
    list.append(section);
  }
  search.addEventListener('input', () => {
    const q = search.value.trim().toLowerCase();
    for (const { card, text } of cards) card.hidden = q !== '' && !text.includes(q);
    for (const section of list.children) {
      section.hidden = [...section.querySelectorAll('.card')].every((c) => c.hidden);
    }
  });
}
