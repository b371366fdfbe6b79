// The states the walk does not reach, rendered in headless Chromium from the real APIs:
// tests/it/ui_browser.rs first makes them through the API (two pending signups from signed
// Posh.VIP webhooks, a forged webhook recorded as rejected, an outbound endpoint whose
// receiver answers 500 so its ping failed). Nothing is faked here: every request hits the
// real server. Exits non-zero on any failure, console error or failed request.
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
const calls = [];

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
  page.on('request', (r) => {
    if (r.method() !== 'GET') calls.push({ method: r.method(), path: new URL(r.url()).pathname, csrf: r.headers()['x-csrf-token'] || null });
  });
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
    // From the top, so the sticky sidebar sits where a reader expects it.
    await page.evaluate(() => window.scrollTo(0, 0));
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
    const inbound = await charts.nth(0).getAttribute('aria-label');
    check(/2 accepted, 1 rejected/.test(inbound), `inbound chart is labelled in words: ${inbound}`);
    check(await charts.nth(0).locator('rect').count() === 2, 'accepted and rejected bars drawn');
    const outbound = await charts.nth(1).getAttribute('aria-label');
    // At least the failed ping; events emitted while seeding may fan out to the endpoint too.
    check(/0 succeeded, [1-9]\d* failed/.test(outbound), `outbound chart: ${outbound}`);
    const stats = page.locator('#overview-stats');
    await stats.locator('a.card', { hasText: 'Pending signups' }).getByText('2', { exact: true }).waitFor();
    await stats.locator('a.card', { hasText: 'Failing endpoints' }).getByText('1', { exact: true }).waitFor();
    await main().getByRole('link', { name: 'purchase.created' }).first().waitFor();
    await shot('overview-charts-1280');
    await page.setViewportSize({ width: 390, height: 844 });
    await shot('overview-charts-phone');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `no horizontal scrolling on a phone (overflow ${overflow}px)`);
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  await step('events: a rejected delivery explains itself and cannot be replayed', async () => {
    await page.getByRole('link', { name: 'Events', exact: true }).click();
    const rejected = main().locator('tbody tr', { has: page.locator('[data-status="rejected"]') });
    await rejected.getByRole('link').click();
    await main().getByText('Rejected events failed the signature check and are never processed.').waitFor();
    check(await page.getByRole('button', { name: 'Replay' }).count() === 0, 'no replay for a rejected event');
    await main().getByText('signature_mismatch').first().waitFor();
    await page.getByLabel('Rejected delivery').waitFor();
    await shot('event-rejected-1280');
  });

  await step('signups: approve one, reject the other', async () => {
    await page.getByRole('link', { name: 'Signups', exact: true }).click();
    await main().getByText('linus@example.test').first().waitFor();
    await page.getByRole('button', { name: 'Approve grace@example.test' }).click();
    await main().getByText('grace@example.test: approved.').waitFor();
    await page.getByRole('button', { name: 'Reject linus@example.test' }).click();
    await main().getByText('linus@example.test: rejected.').waitFor();
    await main().getByText('Nobody is waiting').waitFor();
    const call = calls.find((c) => c.path.endsWith('/approve'));
    check(call && call.csrf && call.csrf.length === 64, 'the approval carried the CSRF token');
  });

  await step('outbound endpoints: a failing endpoint and its failed delivery', async () => {
    await page.getByRole('link', { name: 'Outbound endpoints', exact: true }).click();
    await page.getByRole('heading', { name: 'Outbound endpoints', level: 1 }).waitFor();
    const row = main().locator('tbody tr', { hasText: '/hooks' });
    await row.locator('[data-status="failing"]').waitFor();
    await row.getByRole('link').click();
    await page.getByRole('heading', { name: 'CRM', level: 1 }).waitFor();
    const delivery = main().locator('tbody tr', { hasText: 'ping' });
    await delivery.locator('[data-status="exhausted"], [data-status="failed"]').first().waitFor();
    await delivery.getByText(/^500 · \d+ ms$/).waitFor();
    await shot('endpoint-failing-1280');
    await page.getByRole('button', { name: 'Disable' }).click();
    await main().getByText('Endpoint disabled.').waitFor();
    await page.locator('#endpoint-status [data-status="disabled"]').waitFor();
    await page.getByRole('button', { name: 'Enable' }).click();
    await main().getByText('Endpoint enabled.').waitFor();
    await page.locator('#endpoint-status [data-status="active"]').waitFor();
    const retried = page.waitForResponse((r) => /\/deliveries\/[^/]+\/retry$/.test(r.url()));
    const reloaded = page.waitForResponse((r) => r.url().includes('/deliveries?'));
    await delivery.getByRole('button', { name: 'Retry' }).click();
    check((await retried).status() === 202 || (await retried).ok(), 'the retry was accepted');
    await reloaded;
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
