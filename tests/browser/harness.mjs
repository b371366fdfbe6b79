// What every browser script needs: Debian's headless Chromium through playwright-core,
// named steps, screenshots at desktop and phone width, and a verdict that fails on any
// console error, page error or failed request the script did not name in `allowed`.
//
// Environment: TESSERA_URL, PASSWORD, SCREENSHOT_DIR (optional).

import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`missing environment variable ${name}`);
  return value;
};

export const BASE = env('TESSERA_URL');
export const PASSWORD = env('PASSWORD');
const SHOTS = process.env.SCREENSHOT_DIR || '';
export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 390, height: 844 };

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

// Polls from Node (the page's CSP forbids the eval that page.waitForFunction may need).
export async function waitUntil(what, predicate, timeout = 15000) {
  const deadline = Date.now() + timeout;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// Runs `script(tools)` in a fresh browser profile and exits with its verdict.
// `allowed`: [method, path regex, status, why] for the failures the script causes on purpose.
export async function run(name, allowed, script) {
  const log = (message) => process.stdout.write(`${name}: ${message}\n`);
  const problems = [];
  const allowedUrls = new Set();
  const isAllowed = (method, url, status) => {
    const path = new URL(url).pathname;
    return allowed.some(([m, re, s]) => m === method && re.test(path) && s === status);
  };
  const profile = mkdtempSync(join(tmpdir(), 'tessera-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: DESKTOP,
  });
  let exitCode = 0;
  try {
    const page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(15000);
    page.on('response', (response) => {
      if (response.status() < 400) return;
      const request = response.request();
      if (isAllowed(request.method(), response.url(), response.status())) allowedUrls.add(response.url());
      else problems.push(`${request.method()} ${response.url()} answered ${response.status()}`);
    });
    page.on('requestfailed', (request) => {
      const failure = request.failure()?.errorText || 'failed';
      // A navigation away aborts in-flight fetches; that is not an error.
      if (failure !== 'net::ERR_ABORTED') problems.push(`${request.method()} ${request.url()} failed: ${failure}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      const url = message.location()?.url || '';
      // Chromium logs every 4xx/5xx fetch as a console error; the allowed ones are fine.
      if (message.text().startsWith('Failed to load resource') && allowedUrls.has(url)) return;
      problems.push(`console error: ${message.text()} (${url})`);
    });

    const main = () => page.locator('main');
    const tools = {
      page,
      main,
      log,
      async step(title, fn) {
        log(title);
        try {
          await fn();
        } catch (err) {
          throw new Error(`step "${title}" failed: ${err.message}`);
        }
      },
      async shot(file) {
        if (!SHOTS) return;
        mkdirSync(SHOTS, { recursive: true });
        // From the top, so the sticky sidebar sits where a reader expects it.
        await page.evaluate(() => window.scrollTo(0, 0));
        await page.screenshot({ path: join(SHOTS, `${file}.png`), fullPage: true });
      },
      // Nothing wider than a phone's screen.
      async noOverflow(where) {
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        check(overflow <= 1, `no horizontal scrolling on a phone at ${where} (overflow ${overflow}px)`);
      },
      // Opens `path` at desktop and phone width, waits for `heading` and the content to
      // load, checks the phone layout and writes both screenshots.
      async bothWidths(path, heading, file) {
        for (const [size, suffix] of [[DESKTOP, '1280'], [PHONE, 'phone']]) {
          await page.setViewportSize(size);
          await page.goto(`${BASE}${path}`);
          await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
          await waitUntil(`${path} has loaded`, async () => await main().locator('.loading').count() === 0);
          if (size === PHONE) await tools.noOverflow(path);
          await tools.shot(`${file}-${suffix}`);
        }
        await page.setViewportSize(DESKTOP);
      },
      async signIn(email) {
        await page.goto(`${BASE}/`);
        await page.getByRole('heading', { name: 'Sign in' }).waitFor();
        await page.getByLabel('Email').fill(email);
        await page.getByLabel('Password').fill(PASSWORD);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('button', { name: 'Sign out' }).waitFor();
      },
      async nav(label) {
        await page.locator('nav.sidebar').getByRole('link', { name: label, exact: true }).click();
        await page.getByRole('heading', { name: label, level: 1 }).waitFor();
      },
    };
    await script(tools);
    // Late console messages and responses settle before the verdict.
    await page.waitForTimeout(300);
    if (problems.length) throw new Error(`unexpected errors in the browser:\n  ${problems.join('\n  ')}`);
    log('ok');
  } catch (err) {
    process.stderr.write(`${name}: FAILED: ${err.message}\n`);
    if (problems.length) process.stderr.write(`${name}: also seen:\n  ${problems.join('\n  ')}\n`);
    exitCode = 1;
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
  process.exit(exitCode);
}
