// The platform operator drives its own screens in headless Chromium: the platform audit
// log, key versions and the last backup (tests/it/ui_browser.rs ran `tessera backup`
// first), deleting a tenant behind a typed confirmation (with the keyboard too), and the
// tenant screens' empty and error states on a tenant with no data yet.
//
// Environment: TESSERA_URL, ADMIN_EMAIL, PASSWORD, BACKUP_FILE, DOOMED (slug of the tenant
// to delete), EMPTY (slug of a tenant without data; its Easy!Appointments server is down),
// SCREENSHOT_DIR.

import { run, env, check, waitUntil, BASE } from './harness.mjs';

const ADMIN_EMAIL = env('ADMIN_EMAIL');
const BACKUP_FILE = env('BACKUP_FILE');
const DOOMED = env('DOOMED');
const EMPTY = env('EMPTY');

const allowed = [
  ['GET', /^\/api\/v1\/session$/, 401, 'the app asks whether it is signed in'],
  ['GET', /^\/api\/v1\/tenants\/[^/]+\/easyappointments\/stats$/, 502, 'the empty tenant\'s Easy!Appointments server is down'],
];

await run('platform screens', allowed, async ({ page, main, step, shot, bothWidths, signIn, nav }) => {
  await step('the operator signs in: the platform pages are in the menu', async () => {
    await signIn(ADMIN_EMAIL);
    for (const label of ['Tenants', 'Platform OAuth apps', 'Keys and backups', 'Platform audit log']) {
      await page.locator('nav.sidebar').getByRole('link', { name: label, exact: true }).waitFor();
    }
  });

  await step('keys and backups: the active version and the last backup', async () => {
    await nav('Keys and backups');
    await page.locator('#key-summary').getByText('1', { exact: true }).first().waitFor();
    await main().locator('tbody tr', { hasText: 'Active' }).first().waitFor();
    const last = page.locator('#last-backup');
    await last.getByText('just now').or(last.getByText(/min ago$/)).first().waitFor();
    await last.getByText(BACKUP_FILE).waitFor();
    await main().locator('section', { hasText: 'Backups' }).locator('tbody tr', { hasText: BACKUP_FILE }).waitFor();
    await shot('platform-keys-1280');
  });

  await step('the platform audit log: tenants, apps and backups, actors by name', async () => {
    await nav('Platform audit log');
    const backup = main().locator('tbody tr', { hasText: 'backup.created' });
    // The last copy is the column's (a phone shows tenant and actor under the action).
    await backup.getByText('Command line').last().waitFor();
    await backup.getByText(BACKUP_FILE).waitFor();
    const app = main().locator('tbody tr', { hasText: 'platform_app.created' });
    await app.getByText('initial admin').last().waitFor();
    await page.getByLabel('Action').fill('tenant.created');
    await page.getByRole('button', { name: 'Filter' }).click();
    await waitUntil('only tenant creations are listed', async () => {
      const actions = await main().locator('tbody tr td:nth-child(2) code.action').allTextContents();
      return actions.length >= 3 && actions.every((a) => a === 'tenant.created');
    });
    await main().locator('tbody tr', { hasText: DOOMED }).waitFor();
    await shot('platform-audit-1280');
  });

  await step('deleting a tenant asks for its slug typed out and says what is lost', async () => {
    await nav('Tenants');
    const row = main().locator('tbody tr', { hasText: DOOMED });
    await row.getByRole('button', { name: `Delete ${DOOMED}` }).click();
    const dialog = page.getByRole('dialog', { name: `Delete ${DOOMED}?` });
    await dialog.waitFor();
    await dialog.getByText('destroys its encryption key').waitFor();
    await dialog.getByText('becomes unreadable ciphertext').waitFor();
    const confirm = dialog.getByRole('button', { name: `Delete ${DOOMED}` });
    check(await confirm.isDisabled(), 'nothing can be deleted before the slug is typed');
    await dialog.getByLabel(`Type ${DOOMED} to confirm`).fill(`${DOOMED}x`);
    check(await confirm.isDisabled(), 'a wrong slug does not enable it');
    await shot('tenant-delete-1280');
    // Escape closes the dialog and gives focus back to the button that opened it.
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    check(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')) === `Delete ${DOOMED}`, 'focus returns to the Delete button');
    // The keyboard alone: open, type the slug, press Enter.
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    check(await page.evaluate(() => document.activeElement?.id) === 'delete-confirm', 'focus starts in the slug field');
    await page.keyboard.type(DOOMED);
    check(!(await confirm.isDisabled()), 'the right slug enables it');
    await page.keyboard.press('Enter');
    await main().getByText(`Tenant ${DOOMED} is deleted, and its key with it`).waitFor();
    check(await main().locator('tbody tr', { hasText: DOOMED }).count() === 0, 'the tenant is gone from the list');
    const options = await page.locator('#tenant-switch option').allTextContents();
    check(!options.includes(DOOMED), `the switcher no longer lists it: ${options}`);
    await nav('Platform audit log');
    const entry = main().locator('tbody tr', { hasText: 'tenant.deleted' });
    await entry.getByText('(deleted)').last().waitFor();
    await entry.locator('code', { hasText: DOOMED }).last().waitFor();
  });

  await step('a tenant without data: every screen has its empty state', async () => {
    await page.locator('#tenant-switch').selectOption({ label: EMPTY });
    await page.locator('#notification-bell').click();
    await page.getByRole('heading', { name: 'Notifications', level: 1 }).waitFor();
    await main().getByText('Nothing unread').waitFor();
    await nav('Jobs');
    await main().getByText('No failed jobs').waitFor();
    await nav('Consents');
    await main().getByText('No consents').waitFor();
    await nav('Usage');
    await main().getByText('No callers').waitFor();
    await nav('Field mappings');
    await main().locator('a.card[data-provider="poshvip"]').getByText('Catalog defaults').waitFor();
    await main().locator('a.card[data-provider="poshvip"]').click();
    await main().locator('section[data-event-type="purchase.created"]').getByText('No purchase.created received yet').waitFor();
    await page.goto(`${BASE}/ui/platform/keys`);
    await page.getByRole('heading', { name: 'Keys and backups', level: 1 }).waitFor();
  });

  await step('an unreachable Easy!Appointments server is an error in words', async () => {
    await nav('Easy!Appointments');
    await page.locator('#ea-stats [role="alert"]').waitFor();
    await shot('easyappointments-error-1280');
  });

  await step('the platform screens at desktop and phone width', async () => {
    for (const [path, heading, file] of [
      ['/ui/platform/tenants', 'Tenants', 'tenants'],
      ['/ui/platform/keys', 'Keys and backups', 'keys'],
      ['/ui/platform/audit', 'Platform audit log', 'audit'],
      ['/ui/platform/apps', 'Platform OAuth apps', 'apps'],
      ['/ui/notifications', 'Notifications', 'empty-notifications'],
      ['/ui/jobs', 'Jobs', 'empty-jobs'],
      ['/ui/usage', 'Usage', 'empty-usage'],
      ['/ui/consents', 'Consents', 'empty-consents'],
      ['/ui/easyappointments', 'Easy!Appointments', 'easyappointments-error'],
    ]) {
      await bothWidths(path, heading, `platform-${file}`);
    }
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${BASE}/ui/platform/tenants`);
    await main().locator('tbody tr').first().getByRole('button', { name: /^Delete / }).click();
    await page.getByRole('dialog').waitFor();
    await shot('tenant-delete-phone');
    await page.keyboard.press('Escape');
    await page.setViewportSize({ width: 1280, height: 900 });
  });
});
