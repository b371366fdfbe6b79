// The screens whose APIs are built on other branches (events, signups, outbound
// endpoints, the hourly stats, webhook info, platform apps), rendered in headless Chromium
// from responses shaped exactly as API.md says. Only those routes are answered by
// `page.route` below; sign-in, the catalog, connections and everything else hit the real
// server. Started by tests/it/ui_browser.rs; exits non-zero on any failure or console error.
//
// Environment: TESSERA_URL, TENANT, TENANT_EMAIL, ADMIN_EMAIL, PASSWORD, SCREENSHOT_DIR.

import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.TESSERA_URL;
const TENANT = process.env.TENANT;
const PASSWORD = process.env.PASSWORD;
const SHOTS = process.env.SCREENSHOT_DIR || '';

const hours = (n, fill) => Array.from({ length: n }, (_, i) => {
  const hour = new Date(Date.now() - (n - 1 - i) * 3600e3);
  hour.setUTCMinutes(0, 0, 0);
  return { hour: hour.toISOString().replace('.000', ''), ...fill(i) };
});
const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const state = {
  events: [
    { id: 'ev-1', provider: 'poshvip', type: 'purchase.created', external_id: 'ord_1', status: 'processed', received_at: now, processed_at: now, error: null,
      payload: { type: 'purchase.created', data: { email: 'grace@example.test', first_name: 'Grace', event: 'Launch Party' } } },
    { id: 'ev-2', provider: 'stripe', type: 'charge.refunded', external_id: 'evt_2', status: 'rejected', received_at: now, processed_at: null, error: 'invalid signature', payload: {} },
  ],
  signups: [
    { id: 'su-1', email: 'grace@example.test', first_name: 'Grace', last_name: 'Hopper', status: 'pending', sources: [{ provider: 'poshvip', event_id: 'ev-1', event_name: 'Launch Party' }], created_at: now },
    { id: 'su-2', email: 'linus@example.test', first_name: null, last_name: null, status: 'pending', sources: [], created_at: now },
  ],
  endpoints: [
    { id: 'we-1', url: 'https://crm.example.test/hooks', events: ['*'], description: 'CRM', active: true, failing_since: now, created_at: now },
  ],
  deliveries: [
    { id: 'de-1', message_id: 'msg_1', event_type: 'signup.created', attempt: 3, status: 'failed', response_status: 500, duration_ms: 120, next_attempt_at: now, created_at: now },
  ],
  apps: [],
  calls: [],
};

function json(route, status, body) {
  return route.fulfill({ status, contentType: 'application/json', body: JSON.stringify(body) });
}
function problem(route, status, detail) {
  return route.fulfill({ status, contentType: 'application/problem+json', body: JSON.stringify({ type: 'about:blank', title: 'Error', status, detail, code: 'not_found' }) });
}

async function stubContractApis(page) {
  const t = `/api/v1/tenants/${TENANT}`;
  await page.route((url) => /\/api\/v1\/(tenants\/[^/]+\/(events|signups|webhook-endpoints|webhooks)|platform\/apps)/.test(url.pathname), async (route) => {
    const request = route.request();
    const url = new URL(request.url());
    const method = request.method();
    const path = url.pathname;
    if (method !== 'GET') {
      state.calls.push({ method, path, csrf: request.headers()['x-csrf-token'] || null, body: request.postData() });
    }
    const eq = (m, p) => method === m && path === p;
    if (eq('GET', `${t}/events/stats`)) return json(route, 200, { buckets: hours(24, (i) => ({ accepted: (i * 7) % 11, rejected: i % 5 === 0 ? 2 : 0 })) });
    if (eq('GET', `${t}/webhook-endpoints/stats`)) return json(route, 200, { buckets: hours(24, (i) => ({ succeeded: (i * 3) % 8, failed: i % 7 === 0 ? 1 : 0 })) });
    if (eq('GET', `${t}/events`)) {
      const provider = url.searchParams.get('provider');
      const items = state.events.filter((e) => !provider || e.provider === provider).map(({ payload, ...rest }) => rest);
      return json(route, 200, { items, next_cursor: null });
    }
    let m = path.match(new RegExp(`^${t}/events/([^/]+)(/replay)?$`));
    if (m) {
      const event = state.events.find((e) => e.id === m[1]);
      if (!event) return problem(route, 404, 'no such event');
      return json(route, 200, m[2] ? { ...event, status: 'received' } : event);
    }
    if (eq('GET', `${t}/signups`)) {
      const status = url.searchParams.get('status');
      return json(route, 200, { items: state.signups.filter((s) => !status || s.status === status), next_cursor: null });
    }
    m = path.match(new RegExp(`^${t}/signups/([^/]+)/(approve|reject|invite)$`));
    if (m && method === 'POST') {
      const signup = state.signups.find((s) => s.id === m[1]);
      signup.status = { approve: 'approved', reject: 'rejected', invite: 'invited' }[m[2]];
      return json(route, 200, signup);
    }
    if (eq('GET', `${t}/webhook-endpoints`)) return json(route, 200, { items: state.endpoints, next_cursor: null });
    if (eq('POST', `${t}/webhook-endpoints`)) {
      const body = JSON.parse(request.postData() || '{}');
      const endpoint = { id: `we-${state.endpoints.length + 1}`, url: body.url, events: body.events, description: body.description, active: true, created_at: now };
      state.endpoints.push(endpoint);
      return json(route, 201, { ...endpoint, secret: 'whsec_c2NyZWVuc2VjcmV0c2NyZWVuc2VjcmV0' });
    }
    m = path.match(new RegExp(`^${t}/webhook-endpoints/([^/]+)(/secret|/test|/deliveries)?$`));
    if (m) {
      const endpoint = state.endpoints.find((e) => e.id === m[1]);
      if (!endpoint) return problem(route, 404, 'no such endpoint');
      if (m[2] === '/secret') return json(route, 200, { secret: 'whsec_c2NyZWVuc2VjcmV0c2NyZWVuc2VjcmV0' });
      if (m[2] === '/test') return json(route, 202, { queued: true });
      if (m[2] === '/deliveries') return json(route, 200, { items: state.deliveries, next_cursor: null });
      return json(route, 200, endpoint);
    }
    if (eq('GET', `${t}/webhooks/poshvip`)) {
      return json(route, 200, {
        webhook_url: `https://hooks.example.test/webhooks/poshvip/${TENANT}`, secret_configured: false, connection_active: false,
        signature: { scheme: 'hmac-sha256-hex', header: 'X-Posh-Signature' },
        supported_events: ['purchase.created', 'ticket.checked_in'], setup_steps: [],
      });
    }
    if (eq('GET', '/api/v1/platform/apps')) return json(route, 200, { items: state.apps, next_cursor: null });
    m = path.match(/^\/api\/v1\/platform\/apps\/([^/]+)$/);
    if (m && method === 'PUT') {
      const body = JSON.parse(request.postData() || '{}');
      const app = { provider: m[1], client_id: body.client_id, client_secret: `****${body.client_secret.slice(-4)}`, updated_at: now };
      state.apps = state.apps.filter((a) => a.provider !== m[1]).concat([app]);
      return json(route, 200, app);
    }
    return route.fallback();
  });
}

const problems = [];
const check = (condition, message) => { if (!condition) throw new Error(message); };
const log = (message) => process.stdout.write(`screens: ${message}\n`);
async function step(name, fn) {
  log(name);
  try { await fn(); } catch (err) { throw new Error(`step "${name}" failed: ${err.message}`); }
}

const profile = mkdtempSync(join(tmpdir(), 'tessera-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
  viewport: { width: 1280, height: 900 },
});
let exitCode = 0;
try {
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(15000);
  await stubContractApis(page);
  let signedIn = false;
  page.on('response', (r) => {
    const u = new URL(r.url());
    const expected = !signedIn && r.status() === 401 && u.pathname === '/api/v1/session';
    if (r.status() >= 400 && !expected) problems.push(`${r.request().method()} ${r.url()} answered ${r.status()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const url = message.location()?.url || '';
    if (!signedIn && url.endsWith('/api/v1/session') && message.text().includes('401')) return;
    problems.push(`console error: ${message.text()} (${url})`);
  });
  const shot = async (name) => {
    if (!SHOTS) return;
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  };
  const main = () => page.locator('main');

  await step('sign in', async () => {
    await page.goto(`${BASE}/`);
    await page.getByLabel('Email').fill(process.env.TENANT_EMAIL);
    await page.getByLabel('Password').fill(PASSWORD);
    signedIn = true;
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
  });

  await step('overview: counts, charts drawn as inline SVG, recent events', async () => {
    await page.locator('figure svg.chart').nth(1).waitFor();
    const charts = page.locator('figure svg.chart');
    check(await charts.count() === 2, 'two charts');
    check(await charts.nth(0).locator('rect').count() > 10, 'inbound bars drawn');
    const label = await charts.nth(0).getAttribute('aria-label');
    check(/accepted/.test(label) && /rejected/.test(label), `chart is labelled in words: ${label}`);
    const stats = page.locator('#overview-stats');
    await stats.locator('a.card', { hasText: 'Pending signups' }).getByText('2', { exact: true }).waitFor();
    await stats.locator('a.card', { hasText: 'Failing endpoints' }).getByText('1', { exact: true }).waitFor();
    await main().getByRole('link', { name: 'purchase.created' }).waitFor();
    await shot('overview-charts-1280');
    await page.setViewportSize({ width: 390, height: 844 });
    await shot('overview-charts-phone');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `no horizontal scrolling on a phone (overflow ${overflow}px)`);
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  await step('events: list, detail with pretty JSON, replay', async () => {
    await page.getByRole('link', { name: 'Events', exact: true }).click();
    await main().getByRole('link', { name: 'charge.refunded' }).waitFor();
    await main().getByRole('link', { name: 'purchase.created' }).click();
    await page.getByRole('heading', { name: 'purchase.created', level: 1 }).waitFor();
    const payload = await page.locator('pre').textContent();
    check(payload.includes('\n    "email": "grace@example.test"'), `payload is pretty-printed: ${payload}`);
    await page.getByRole('button', { name: 'Replay' }).click();
    await main().getByText('Replayed').waitFor();
    const call = state.calls.find((c) => c.path.endsWith('/events/ev-1/replay'));
    check(call && call.csrf && call.csrf.length === 64, 'replay carried the CSRF token');
  });

  await step('signups: approve one', async () => {
    await page.getByRole('link', { name: 'Signups', exact: true }).click();
    await main().getByText('Grace Hopper').waitFor();
    await page.getByRole('button', { name: 'Approve grace@example.test' }).click();
    await main().getByText('grace@example.test: approved.').waitFor();
    check(state.signups[0].status === 'approved', 'the approval was sent');
    await main().getByText('linus@example.test').waitFor();
    check(await main().getByText('Grace Hopper').count() === 0, 'the approved signup left the pending list');
  });

  await step('outbound endpoints: create, secret once, detail, deliveries, ping', async () => {
    await page.getByRole('link', { name: 'Outbound endpoints', exact: true }).click();
    await page.getByRole('heading', { name: 'Outbound endpoints', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    await main().getByText('Enter the URL to send events to.').waitFor();
    await page.getByLabel('URL').fill('https://app.example.test/tessera');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    check((await page.locator('#new-endpoint input').inputValue()).startsWith('whsec_'), 'secret shown once');
    const created = JSON.parse(state.calls.find((c) => c.method === 'POST' && c.path.endsWith('/webhook-endpoints')).body);
    check(created.url === 'https://app.example.test/tessera' && created.events[0] === '*', `create body ${JSON.stringify(created)}`);
    await main().getByRole('link', { name: 'https://crm.example.test/hooks' }).click();
    await main().getByText('signup.created').waitFor();
    await main().getByText('500 · 120 ms').waitFor();
    await page.getByRole('button', { name: 'Reveal signing secret' }).click();
    check((await page.getByLabel('Signing secret').inputValue()).startsWith('whsec_'), 'secret revealed');
    await page.getByRole('button', { name: 'Send test ping' }).click();
    await main().getByText('Test ping queued').waitFor();
    await shot('endpoint-1280');
  });

  await step('Posh.VIP shows the webhook URL from the API and recent events', async () => {
    await page.goto(`${BASE}/ui/integrations/poshvip`);
    const shown = await page.getByLabel('Webhook URL').inputValue();
    check(shown === `https://hooks.example.test/webhooks/poshvip/${TENANT}`, `webhook URL from the API: ${shown}`);
    await main().getByText('Not yet — add it under Credentials').waitFor();
    await main().getByRole('link', { name: 'purchase.created' }).waitFor();
  });

  await step('platform admin registers a platform OAuth app (secret masked)', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Email').fill(process.env.ADMIN_EMAIL);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Platform OAuth apps' }).click();
    await main().getByText('No apps registered').waitFor();
    await page.getByLabel('Provider').selectOption('eventbrite');
    await page.getByLabel('Client ID').fill('client-123');
    await page.getByLabel('Client secret').fill('very-secret-value-9876');
    await page.getByRole('button', { name: 'Save app' }).click();
    await main().getByText('****9876').waitFor();
    check(!(await page.content()).includes('very-secret-value-9876'), 'the secret is not shown after saving');
  });

  await page.waitForTimeout(300);
  if (problems.length) throw new Error(`unexpected errors in the browser:\n  ${problems.join('\n  ')}`);
  log('ok');
} catch (err) {
  process.stderr.write(`screens: FAILED: ${err.message}\n`);
  if (problems.length) process.stderr.write(`screens: also seen:\n  ${problems.join('\n  ')}\n`);
  exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(exitCode);
