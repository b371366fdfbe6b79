// Paused mode in headless Chromium: a tenant admin sees the banner (without a way to
// resume); the operator sees it with Resume, resumes, and the banner goes.
//
// Environment: TESSERA_URL, TENANT_EMAIL, ADMIN_EMAIL, PASSWORD, SCREENSHOT_DIR.

import { run, env, check, waitUntil } from './harness.mjs';

const TENANT_EMAIL = env('TENANT_EMAIL');
const ADMIN_EMAIL = env('ADMIN_EMAIL');

const allowed = [
  ['GET', /^\/api\/v1\/session$/, 401, 'the app asks whether it is signed in'],
];

await run('paused screens', allowed, async ({ page, step, shot, signIn }) => {
  const banner = () => page.locator('.paused-banner');

  await step('a tenant admin sees that tessera is paused, with no Resume button', async () => {
    await signIn(TENANT_EMAIL);
    await banner().getByText('tessera is paused.').waitFor();
    check(await banner().getByRole('button', { name: 'Resume' }).count() === 0, 'only the operator may resume');
    await shot('paused-tenant-1280');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  });

  await step('the operator resumes from the banner and it goes', async () => {
    await signIn(ADMIN_EMAIL);
    await banner().getByText('tessera is paused.').waitFor();
    await shot('paused-operator-1280');
    await banner().getByRole('button', { name: 'Resume' }).click();
    await waitUntil('the banner is gone', async () => !(await banner().isVisible()));
    await page.reload();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    check(!(await banner().isVisible()), 'still no banner after a reload');
  });
});
