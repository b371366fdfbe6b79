// The walk a tenant admin (and then the operator) makes through the admin UI, in
// Debian's headless Chromium driven by playwright-core. Started by tests/it/ui_browser.rs
// against a real tessera server; exits non-zero on any failed step, console error,
// page error or failed request that the walk did not expect.
//
// Environment: TESSERA_URL, TENANT (slug), TENANT_EMAIL, ADMIN_EMAIL, PASSWORD,
// STRIPE_KEY, WALK (`core`: the APIs of the UI branch; `full`: also inbound webhook info
// and outbound endpoints, no 404 tolerated), SCREENSHOT_DIR (optional).

import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

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
const WALK = env('WALK', 'core');
const SHOTS = process.env.SCREENSHOT_DIR || '';
const STEP_TIMEOUT = 15000;

// Requests that may fail on purpose: [method, path regex, status, why].
const expected = [
  ['GET', /^\/api\/v1\/session$/, 401, 'the app asks whether it is signed in'],
  ['POST', /^\/api\/v1\/session$/, 401, 'the walk tries a wrong password first'],
  ['POST', /^\/api\/v1\/tenants$/, 409, 'the walk creates a tenant twice'],
];
if (WALK === 'core') {
  // APIs built on other branches; the UI shows empty states or a fallback for them.
  for (const re of [
    /^\/api\/v1\/tenants\/[^/]+\/events(\/stats)?$/,
    /^\/api\/v1\/tenants\/[^/]+\/signups$/,
    /^\/api\/v1\/tenants\/[^/]+\/webhook-endpoints(\/stats)?$/,
    /^\/api\/v1\/tenants\/[^/]+\/webhooks\/[^/]+$/,
    /^\/api\/v1\/platform\/apps$/,
  ]) expected.push(['GET', re, 404, 'API not on this branch yet']);
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
    await shot('overview-1280');
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

  await step('open Posh.VIP and copy its webhook URL', async () => {
    await page.locator('a.card[data-provider="poshvip"]').click();
    await page.getByRole('heading', { name: 'Posh.VIP', level: 1 }).waitFor();
    const field = page.getByLabel('Webhook URL');
    const shown = await field.inputValue();
    check(shown === `${BASE}/webhooks/poshvip/${TENANT}`, `webhook URL shown: ${shown}`);
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByRole('button', { name: 'Copied' }).waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    check(copied === shown, `clipboard holds ${copied}`);
    await page.getByText('purchase.created').waitFor();
    await shot('poshvip-1280');
  });

  await step('save a Posh.VIP webhook secret, then disconnect it', async () => {
    await page.getByLabel('Webhook secret', { exact: true }).fill('posh_whsec_walk_0001');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.locator('#connection-result').getByText('Saved.').waitFor();
    await page.locator('#connection-status').getByText('Active').waitFor();
    await page.locator('#connection-details').getByText('****').waitFor();
    await page.getByRole('button', { name: 'Disconnect' }).click();
    await page.getByRole('button', { name: 'Confirm: disconnect Posh.VIP' }).click();
    await page.locator('#connection-result').getByText('Posh.VIP is disconnected').waitFor();
    await page.locator('#connection-status').getByText('Not connected').waitFor();
  });

  if (WALK === 'full') {
    await step('create an outbound endpoint and see its secret once', async () => {
      await page.getByRole('link', { name: 'Outbound endpoints' }).click();
      await page.getByRole('heading', { name: 'Outbound endpoints', level: 1 }).waitFor();
      await page.getByLabel('URL').fill(env('ENDPOINT_URL'));
      await page.getByLabel('Description').fill('Walk endpoint');
      await page.getByRole('button', { name: 'Create endpoint' }).click();
      const secret = await page.locator('#new-endpoint input').inputValue();
      check(secret.startsWith('whsec_'), 'the signing secret is shown');
      await page.getByRole('link', { name: env('ENDPOINT_URL') }).waitFor();
    });
  }

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

  await step('Events, Signups and Outbound endpoints load without errors', async () => {
    for (const [link, heading, emptyText] of [
      ['Events', 'Events', WALK === 'core' ? 'Events are not available' : 'No events'],
      ['Signups', 'Signups', WALK === 'core' ? 'Signups are not available' : 'No signups'],
      ['Outbound endpoints', 'Outbound endpoints', WALK === 'core' ? 'Outbound endpoints are not available' : process.env.ENDPOINT_URL],
    ]) {
      await page.getByRole('link', { name: link, exact: true }).click();
      await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
      await main().getByText(emptyText).first().waitFor();
    }
  });

  await step('the audit log shows what happened', async () => {
    await page.getByRole('link', { name: 'Audit log' }).click();
    await main().getByText('connection.created').first().waitFor();
    await main().getByText('session.created').first().waitFor();
  });

  await step('a phone-sized screen stays usable', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${BASE}/ui/integrations/stripe`);
    await page.getByRole('heading', { name: 'Stripe', level: 1 }).waitFor();
    await shot('stripe-phone');
    const menu = page.getByRole('button', { name: 'Menu' });
    await menu.click();
    await page.getByRole('link', { name: 'API tokens' }).waitFor({ state: 'visible' });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `no horizontal scrolling on a phone (overflow ${overflow}px)`);
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
