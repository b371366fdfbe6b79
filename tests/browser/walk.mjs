// The walk a tenant admin (and then the operator) makes through the admin UI, in
// Debian's headless Chromium driven by playwright-core. Started by tests/it/ui_browser.rs
// against a real tessera server with every API merged; exits non-zero on any failed step,
// console error, page error or failed request that the walk did not expect.
//
// Environment: TESSERA_URL, TENANT (slug), TENANT_EMAIL, ADMIN_EMAIL, PASSWORD,
// STRIPE_KEY, ENDPOINT_URL (a loopback receiver for outbound deliveries),
// PLUGIN_SECRET (see plugins_walk.mjs), SCREENSHOT_DIR (optional).

import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { walkPlugins } from './plugins_walk.mjs';

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`missing environment variable ${name}`);
  return value;
};
const BASE = env('TESSERA_URL');
const TENANT = env('TENANT');
const TENANT_EMAIL = env('TENANT_EMAIL');
const ADMIN_EMAIL = env('ADMIN_EMAIL');
const PASSWORD = env('PASSWORD');
const STRIPE_KEY = env('STRIPE_KEY');
const ENDPOINT_URL = env('ENDPOINT_URL');
const POSH_SECRET = 'posh_whsec_walk_0001';
const SHOTS = process.env.SCREENSHOT_DIR || '';
const STEP_TIMEOUT = 15000;

// The only requests allowed to fail, each tested on purpose: [method, path regex, status, why].
const expected = [
  ['GET', /^\/api\/v1\/session$/, 401, 'the app asks whether it is signed in'],
  ['POST', /^\/api\/v1\/session$/, 401, 'the walk tries a wrong password first'],
  ['POST', /^\/api\/v1\/tenants$/, 409, 'the walk creates a tenant twice'],
  ['DELETE', /^\/api\/v1\/tenants\/[^/]+\/plugins\/crm-relay$/, 409, 'the walk uninstalls a plugin an endpoint still uses'],
];

// Posh.VIP's side: a webhook signed like Posh.VIP does (HMAC-SHA256 hex of the raw body
// with the tenant's webhook secret in X-Posh-Signature), sent from outside the browser.
async function sendPoshWebhook(url, body, secret) {
  const raw = JSON.stringify(body);
  const signature = createHmac('sha256', secret).update(raw).digest('hex');
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Posh-Signature': signature },
    body: raw,
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

const problems = [];
const isExpected = (method, url, status) => {
  const u = new URL(url);
  return expected.some(([m, re, s]) => m === method && re.test(u.pathname) && s === status);
};
const expectedUrls = new Set();

function log(message) {
  process.stdout.write(`walk: ${message}\n`);
}

async function step(name, fn) {
  log(name);
  try {
    await fn();
  } catch (err) {
    throw new Error(`step "${name}" failed: ${err.message}`);
  }
}

// Polls from Node (the page's CSP forbids the eval that page.waitForFunction may need).
async function waitUntil(what, predicate, timeout = STEP_TIMEOUT) {
  const deadline = Date.now() + timeout;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function check(condition, message) {
  if (!condition) throw new Error(message);
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
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);

  page.on('response', (response) => {
    const request = response.request();
    if (response.status() >= 400) {
      if (isExpected(request.method(), response.url(), response.status())) {
        expectedUrls.add(response.url());
      } else {
        problems.push(`${request.method()} ${response.url()} answered ${response.status()}`);
      }
    }
  });
  page.on('requestfailed', (request) => {
    const failure = request.failure()?.errorText || 'failed';
    // A navigation away (e.g. a reload) aborts in-flight fetches; that is not an error.
    if (failure !== 'net::ERR_ABORTED') problems.push(`${request.method()} ${request.url()} failed: ${failure}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const url = message.location()?.url || '';
    // Chromium logs every 4xx fetch as a console error; the expected ones are allowed.
    if (message.text().startsWith('Failed to load resource') && expectedUrls.has(url)) return;
    problems.push(`console error: ${message.text()} (${url})`);
  });

  const shot = async (name) => {
    if (!SHOTS) return;
    mkdirSync(SHOTS, { recursive: true });
    // From the top, so the sticky sidebar sits where a reader expects it.
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  };
  const main = () => page.locator('main');

  async function signIn(email) {
    await page.goto(`${BASE}/`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
  }

  await step('a wrong password is refused in words', async () => {
    await page.goto(`${BASE}/`);
    await page.getByLabel('Email').fill(TENANT_EMAIL);
    await page.getByLabel('Password').fill('not the password at all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'wrong email or password' }).waitFor();
    await shot('signin-1280');
  });

  await step('the tenant admin signs in and sees the overview', async () => {
    await signIn(TENANT_EMAIL);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.locator('#overview-stats').getByText('Connections').waitFor();
    await page.getByRole('heading', { name: 'Webhooks received per hour' }).waitFor();
    const cookies = await context.cookies(BASE);
    const session = cookies.find((c) => c.name === 'tessera_session');
    check(session && session.httpOnly && session.sameSite === 'Strict', 'session cookie is HttpOnly and SameSite=Strict');
    check(await page.evaluate(() => document.cookie) === '', 'scripts cannot read the session cookie');
    await shot('overview-empty-1280');
  });

  await step('Integrations shows the catalog grouped by category', async () => {
    await page.getByRole('link', { name: 'Integrations' }).click();
    await page.getByRole('heading', { name: 'Integrations', level: 1 }).waitFor();
    for (const category of ['Payments', 'Email', 'AI', 'Events & ticketing', 'Contact center', 'Commerce']) {
      await page.getByRole('heading', { name: category, exact: true }).waitFor();
    }
    const stripe = page.locator('a.card[data-provider="stripe"]');
    await stripe.getByText('Not connected').waitFor();
    await shot('integrations-1280');
  });

  await step('connect Stripe with a key: saved, masked, never sent back', async () => {
    await page.locator('a.card[data-provider="stripe"]').click();
    await page.getByRole('heading', { name: 'Stripe', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('#connection-result').getByText('Fill in: Secret key').waitFor();
    await page.getByLabel('Secret key', { exact: true }).fill(STRIPE_KEY);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.locator('#connection-result').getByText('Saved.').waitFor();
    const masked = `****${STRIPE_KEY.slice(-4)}`;
    await page.locator('#connection-details [data-credential="secret_key"]').getByText(masked, { exact: true }).waitFor();
    const html = await page.content();
    check(!html.includes(STRIPE_KEY), 'the page never holds the plaintext key after saving');
    check(await page.getByLabel('Secret key', { exact: true }).inputValue() === '', 'the secret input is empty');
    check(await page.getByLabel('Secret key', { exact: true }).getAttribute('type') === 'password', 'secrets are password inputs');
  });

  await step('verify Stripe: the connection becomes active', async () => {
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.locator('#connection-result').getByText('Verified with Stripe').waitFor();
    await page.locator('#connection-status').getByText('Active').waitFor();
    await shot('stripe-1280');
    await page.getByRole('link', { name: '← All integrations' }).click();
    await page.locator('a.card[data-provider="stripe"]').getByText('Active').waitFor();
  });

  let webhookUrl = '';
  await step('open Posh.VIP and copy its webhook URL (from the webhooks API)', async () => {
    const info = page.waitForResponse((r) => r.url().endsWith(`/api/v1/tenants/${TENANT}/webhooks/poshvip`));
    await page.locator('a.card[data-provider="poshvip"]').click();
    await page.getByRole('heading', { name: 'Posh.VIP', level: 1 }).waitFor();
    const answer = await (await info).json();
    const field = page.getByLabel('Webhook URL');
    await main().getByText('Not yet — save the webhook secret on this page').waitFor();
    webhookUrl = await field.inputValue();
    check(webhookUrl === answer.webhook_url && webhookUrl === `${BASE}/webhooks/poshvip/${TENANT}`, `webhook URL shown: ${webhookUrl}`);
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByRole('button', { name: 'Copied' }).waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    check(copied === webhookUrl, `clipboard holds ${copied}`);
    await main().getByText('X-Posh-Signature').first().waitFor();
    await page.getByText('purchase.created').first().waitFor();
    await main().getByText('Nothing received yet').waitFor();
  });

  await step('save the Posh.VIP webhook secret: active, masked', async () => {
    await page.getByLabel('Webhook secret', { exact: true }).fill(POSH_SECRET);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.locator('#connection-result').getByText('Saved.').waitFor();
    await page.locator('#connection-status').getByText('Active').waitFor();
    await page.locator('#connection-details').getByText('****').waitFor();
    check(!(await page.content()).includes(POSH_SECRET), 'the webhook secret is not on the page');
    await page.reload();
    await main().getByText('Secret saved').waitFor();
    await main().locator('dd', { hasText: /^Yes$/ }).waitFor();
  });

  await step('Posh.VIP sends signed webhooks; a forged one is rejected', async () => {
    // The delivery as the En Garde guide shows it.
    const purchase = {
      event: 'purchase.created',
      purchase: {
        id: 'walk-p1', event_id: 'ev_walk', event_name: 'Launch Party',
        customer: { email: 'grace@example.test', first_name: 'Grace', last_name: 'Hopper' },
        total_amount: 100.00, currency: 'USD', tickets: [],
      },
    };
    const ok = await sendPoshWebhook(webhookUrl, purchase, POSH_SECRET);
    check(ok.status === 200 && ok.body?.received === true, `signed webhook accepted: ${JSON.stringify(ok)}`);
    const forged = await sendPoshWebhook(webhookUrl, { ...purchase, purchase: { ...purchase.purchase, id: 'walk-p2' } }, 'not-the-secret');
    check(forged.status === 401, `forged webhook refused: ${JSON.stringify(forged)}`);
    await page.reload();
    await main().getByRole('link', { name: 'purchase.created' }).waitFor();
    await shot('poshvip-1280');
  });

  await step('Events lists the event; its detail shows the pretty JSON payload', async () => {
    await page.getByRole('link', { name: 'Events', exact: true }).click();
    await page.getByRole('heading', { name: 'Events', level: 1 }).waitFor();
    await main().locator('tbody [data-status="rejected"]').waitFor();
    check(await main().locator('tbody tr').count() === 2, 'the accepted and the rejected delivery are listed');
    const filter = async (status) => {
      await page.locator('#events-status').selectOption(status);
      await page.getByRole('button', { name: 'Filter' }).click();
    };
    await filter('rejected');
    await waitUntil('only the rejected delivery is listed', async () => await main().locator('tbody tr').count() === 1);
    await main().locator('tbody [data-status="rejected"]').waitFor();
    // Processing runs in the background: filter until the accepted event is processed.
    await filter('processed');
    const processed = main().locator('tbody tr', { has: page.locator('[data-status="processed"]') });
    for (let i = 0; i < 60 && !(await processed.count()); i++) {
      await page.waitForTimeout(250);
      await filter('processed');
    }
    await processed.getByRole('link', { name: 'purchase.created' }).click();
    await page.getByRole('heading', { name: 'purchase.created', level: 1 }).waitFor();
    const payload = await page.getByLabel('Event payload').textContent();
    check(payload.includes('\n    "customer": {\n      "email": "grace@example.test"'), `payload is pretty-printed: ${payload}`);
    check(JSON.parse(payload).purchase.id === 'walk-p1', 'the payload is the delivered body');
    await page.getByRole('button', { name: 'Replay' }).click();
    await main().getByText('Replayed').waitFor();
    await shot('event-1280');
    await page.getByRole('link', { name: '← All events' }).click();
    await main().locator('tbody tr').nth(1).waitFor();
    await shot('events-1280');
  });

  await step('Signups shows the pending signup; the admin approves it', async () => {
    await page.getByRole('link', { name: 'Signups', exact: true }).click();
    await page.getByRole('heading', { name: 'Signups', level: 1 }).waitFor();
    await main().getByText('Grace Hopper').waitFor();
    await main().getByText('poshvip · Launch Party').waitFor();
    await page.getByRole('button', { name: 'Approve grace@example.test' }).click();
    await main().getByText('grace@example.test: approved.').waitFor();
    await main().getByText('Nobody is waiting').waitFor();
    await page.locator('#signups-status').selectOption('approved');
    await main().getByText('Grace Hopper').waitFor();
  });

  let endpointSecret = '';
  await step('create an outbound endpoint and see its secret once', async () => {
    await page.getByRole('link', { name: 'Outbound endpoints' }).click();
    await page.getByRole('heading', { name: 'Outbound endpoints', level: 1 }).waitFor();
    await main().getByText('No endpoints yet').waitFor();
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    await main().getByText('Enter the URL to send events to.').waitFor();
    await page.getByLabel('URL').fill(ENDPOINT_URL);
    await page.getByLabel('Description').fill('Walk endpoint');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    endpointSecret = await page.locator('#new-endpoint input').inputValue();
    check(endpointSecret.startsWith('whsec_'), 'the signing secret is shown');
    await main().getByRole('link', { name: ENDPOINT_URL }).waitFor();
    await shot('endpoints-1280');
  });

  await step('reveal the secret, send a test ping and see the delivery', async () => {
    await main().getByRole('link', { name: ENDPOINT_URL }).click();
    await page.getByRole('heading', { name: 'Walk endpoint', level: 1 }).waitFor();
    await main().getByText('No deliveries yet').waitFor();
    await page.getByRole('button', { name: 'Reveal signing secret' }).click();
    check(await page.getByLabel('Signing secret').inputValue() === endpointSecret, 'the revealed secret is the one shown at creation');
    await page.getByRole('button', { name: 'Send test ping' }).click();
    await main().getByText('Test ping queued').waitFor();
    const delivered = main().locator('tbody tr', { hasText: 'ping' }).locator('[data-status="succeeded"]');
    // The history reloads once after the ping; reload the page if the worker was slower.
    await delivered.waitFor({ timeout: 5000 }).catch(async () => { await page.reload(); await delivered.waitFor(); });
    await main().locator('tbody tr', { hasText: 'ping' }).getByText(/^204 · \d+ ms$/).waitFor();
    await shot('endpoint-1280');
  });

  await step('the overview draws its charts from real stats', async () => {
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    const charts = page.locator('figure svg.chart');
    await charts.nth(1).waitFor();
    check(await charts.count() === 2, 'two charts');
    const inbound = await charts.nth(0).getAttribute('aria-label');
    check(/1 accepted, 1 rejected/.test(inbound), `inbound chart from events/stats: ${inbound}`);
    check(await charts.nth(0).locator('rect').count() === 2, 'one accepted and one rejected bar segment');
    const outbound = await charts.nth(1).getAttribute('aria-label');
    // The ping, and any event still fanning out when the endpoint was created.
    check(/[1-9]\d* succeeded, 0 failed/.test(outbound), `outbound chart from webhook-endpoints/stats: ${outbound}`);
    check(await charts.nth(1).locator('rect').count() >= 1, 'an outbound bar is drawn');
    const stats = page.locator('#overview-stats');
    await stats.locator('a.card', { hasText: 'Pending signups' }).getByText('0', { exact: true }).waitFor();
    await stats.locator('a.card', { hasText: 'Failing endpoints' }).getByText('of 1 outbound endpoint').waitFor();
    await main().getByRole('link', { name: 'purchase.created' }).waitFor();
    await shot('overview-1280');
  });

  await step('create an API token: shown once, listed, revoked', async () => {
    await page.getByRole('link', { name: 'API tokens' }).click();
    await page.getByRole('heading', { name: 'API tokens', level: 1 }).waitFor();
    await page.getByLabel('Name').fill('Walk token');
    await page.getByRole('checkbox', { name: /connections:read/ }).check();
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = await page.locator('#new-token input').inputValue();
    check(token.startsWith('tsr_'), 'the new token is shown');
    await page.locator('tbody tr').filter({ hasText: 'Walk token' }).getByText('Active').waitFor();
    await shot('tokens-1280');
    await page.getByRole('button', { name: 'Revoke Walk token' }).click();
    await page.getByRole('button', { name: 'Confirm: revoke Walk token' }).click();
    await page.locator('tbody tr').filter({ hasText: 'Walk token' }).getByText('Revoked').waitFor();
  });

  await step('disconnect Posh.VIP', async () => {
    await page.getByRole('link', { name: 'Integrations' }).click();
    await page.locator('a.card[data-provider="poshvip"]').click();
    await page.getByRole('heading', { name: 'Posh.VIP', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Disconnect' }).click();
    await page.getByRole('button', { name: 'Confirm: disconnect Posh.VIP' }).click();
    await page.locator('#connection-result').getByText('Posh.VIP is disconnected').waitFor();
    await page.locator('#connection-status').getByText('Not connected').waitFor();
  });

  await step('the audit log shows what happened', async () => {
    await page.getByRole('link', { name: 'Audit log' }).click();
    await main().getByText('connection.created').first().waitFor();
    await main().getByText('session.created').first().waitFor();
  });

  await step('a phone-sized screen stays usable', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const [path, heading, name] of [
      ['/ui/', 'Overview', 'overview'], ['/ui/integrations', 'Integrations', 'integrations'],
      ['/ui/integrations/poshvip', 'Posh.VIP', 'poshvip'], ['/ui/events', 'Events', 'events'],
      ['/ui/endpoints', 'Outbound endpoints', 'endpoints'], ['/ui/integrations/stripe', 'Stripe', 'stripe'],
    ]) {
      await page.goto(`${BASE}${path}`);
      await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
      await main().locator('.loading').first().waitFor({ state: 'detached' });
      await shot(`${name}-phone`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(overflow <= 1, `no horizontal scrolling on a phone at ${path} (overflow ${overflow}px)`);
    }
    const menu = page.getByRole('button', { name: 'Menu' });
    await menu.click();
    await page.getByRole('link', { name: 'API tokens' }).waitFor({ state: 'visible' });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  await step('the platform admin signs in with the keyboard alone', async () => {
    await page.goto(`${BASE}/`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    check(await page.evaluate(() => document.activeElement?.getAttribute('name')) === 'email', 'the email field has focus');
    await page.keyboard.type(ADMIN_EMAIL);
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    // The skip link is the first stop and moves focus to the content.
    await page.keyboard.press('Tab');
    check(await page.evaluate(() => document.activeElement?.textContent) === 'Skip to content', 'skip link first');
  });

  await step('the platform admin creates a tenant', async () => {
    await page.getByRole('link', { name: 'Tenants' }).click();
    await page.getByRole('heading', { name: 'Tenants', level: 1 }).waitFor();
    await page.getByLabel('Name').fill('Globex Live');
    await page.getByLabel('Tier', { exact: true }).selectOption('pro');
    await page.getByRole('button', { name: 'Create tenant' }).click();
    await page.getByText('Tenant “Globex Live” created (slug globex-live).').waitFor();
    await page.locator('tbody tr').filter({ hasText: 'globex-live' }).waitFor();
    await page.getByLabel('Name').fill('Globex Live');
    await page.getByRole('button', { name: 'Create tenant' }).click();
    await page.getByRole('alert').filter({ hasText: 'a tenant with slug `globex-live` already exists' }).waitFor();
    const options = await page.locator('#tenant-switch option').allTextContents();
    check(options.includes('Globex Live'), `the tenant switcher lists the new tenant: ${options}`);
    await shot('tenants-1280');
  });

  await step('the platform admin switches tenant', async () => {
    await page.locator('#tenant-switch').selectOption({ label: 'Globex Live' });
    await page.getByRole('link', { name: 'Integrations' }).click();
    await page.getByText("Connect Globex Live's own accounts").waitFor();
    await page.getByRole('link', { name: 'Platform OAuth apps' }).click();
    await page.getByRole('heading', { name: 'Platform OAuth apps', level: 1 }).waitFor();
    await page.locator('#redirect-uri').getByText(`${BASE}/oauth/callback`).waitFor();
  });

  // --- Plugins (tests/browser/plugins_walk.mjs) ---
  await walkPlugins({ page, main, step, shot, check, waitUntil, signIn });

  // Late console messages and responses settle before the verdict.
  await page.waitForTimeout(300);
  if (problems.length) {
    throw new Error(`unexpected errors in the browser:\n  ${problems.join('\n  ')}`);
  }
  log('ok');
} catch (err) {
  process.stderr.write(`walk: FAILED: ${err.message}\n`);
  if (problems.length) process.stderr.write(`walk: also seen:\n  ${problems.join('\n  ')}\n`);
  exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(exitCode);
