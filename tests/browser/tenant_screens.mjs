// A tenant admin drives the screens beyond the first walk: notifications, jobs, usage,
// consents, field mappings, Easy!Appointments (with insights), a webhook test with the
// provider's sample event, editing an endpoint, token status, audit
// actors by name and the tenant's settings — in headless Chromium against the real server
// that tests/it/ui_browser.rs seeded through the API (a signup from a signed Posh.VIP
// webhook, a Brevo job that failed once, an Easy!Appointments server, an endpoint, an
// expired token). Every screen is also drawn at phone width.
//
// Environment: TESSERA_URL, TENANT_EMAIL, PASSWORD, ENDPOINT_URL (the seeded endpoint's
// receiver), SCREENSHOT_DIR.

import { run, env, check, waitUntil, BASE } from './harness.mjs';

const TENANT_EMAIL = env('TENANT_EMAIL');

const allowed = [
  ['GET', /^\/api\/v1\/session$/, 401, 'the app asks whether it is signed in'],
  ['PATCH', /^\/api\/v1\/tenants\/[^/]+\/webhook-endpoints\/[^/]+$/, 400, 'the walk saves a malformed endpoint URL'],
];

await run('tenant screens', allowed, async ({ page, main, step, shot, bothWidths, signIn, nav }) => {
  const bell = () => page.locator('#notification-bell');

  await step('the bell on every page counts the unread notification', async () => {
    await signIn(TENANT_EMAIL);
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    await waitUntil('the bell shows 1 unread', async () => (await bell().getAttribute('aria-label')) === 'Notifications, 1 unread');
    await page.locator('nav.sidebar').getByRole('link', { name: 'Events', exact: true }).click();
    await page.getByRole('heading', { name: 'Events', level: 1 }).waitFor();
    await waitUntil('the bell is on this page too', async () => (await bell().getAttribute('data-unread')) === '1');
  });

  await step('notifications: linked to what they are about, marked read', async () => {
    await bell().click();
    await page.getByRole('heading', { name: 'Notifications', level: 1 }).waitFor();
    const item = main().locator('li.notification.unread', { hasText: 'New signup: grace@example.test' });
    await item.waitFor();
    check((await item.getByRole('link', { name: 'Review the signup' }).getAttribute('href')).startsWith('/ui/signups?signup='), 'links to the signup');
    await shot('notifications-1280');
    await item.getByRole('button', { name: 'Mark “New signup: grace@example.test” as read' }).click();
    await main().getByText('Nothing unread').waitFor();
    await waitUntil('the bell empties', async () => (await bell().getAttribute('aria-label')) === 'Notifications, none unread');
    await page.locator('#notifications-show').selectOption('all');
    const read = main().locator('li.notification', { hasText: 'grace@example.test' });
    await read.getByText('· read').waitFor();
    await read.getByRole('link', { name: 'Review the signup' }).click();
    await page.getByRole('heading', { name: 'Signups', level: 1 }).waitFor();
    await main().locator('tr.highlight', { hasText: 'grace@example.test' }).waitFor();
  });

  await step('jobs: a failed job shows its error and is retried', async () => {
    await nav('Jobs');
    const row = main().locator('tbody tr', { hasText: 'brevo.upsert_contact' });
    await row.locator('[data-status="failed"]').waitFor();
    await row.getByText('Brevo answered 400').last().waitFor();
    await shot('jobs-failed-1280');
    await row.getByRole('button', { name: /^Retry brevo.upsert_contact job/ }).click();
    await main().getByText('The brevo.upsert_contact job is queued again.').waitFor();
    await page.locator('#jobs-status').selectOption('');
    for (let i = 0; i < 60; i++) {
      await page.getByRole('button', { name: 'Filter' }).click();
      if (await main().locator('tbody tr', { hasText: 'brevo.upsert_contact' }).locator('[data-status="succeeded"]').count()) break;
      await page.waitForTimeout(250);
    }
    await main().locator('tbody tr', { hasText: 'brevo.upsert_contact' }).locator('[data-status="succeeded"]').waitFor();
    await main().locator('tbody tr', { hasText: 'brevo.upsert_contact' }).getByText('2 of').waitFor();
  });

  await step('usage: a chart per hour and the callers by name', async () => {
    await nav('Usage');
    const chart = main().locator('figure svg.chart');
    await chart.waitFor();
    const label = await chart.getAttribute('aria-label');
    check(/^Requests per hour: [1-9]\d* answered 2xx\/3xx/.test(label), `chart in words: ${label}`);
    await main().locator('section', { hasText: 'By token' }).getByText(TENANT_EMAIL).waitFor();
    await main().locator('section', { hasText: 'By route' }).getByText('/api/v1/tenants/{tenant}/jobs').first().waitFor();
    await page.locator('#usage-range').selectOption('30d');
    await waitUntil('the chart is per day', async () => /^Requests per day/.test(await chart.getAttribute('aria-label') || ''));
    await shot('usage-1280');
  });

  await step('consents: record, check compliance, revoke, filter', async () => {
    await nav('Consents');
    await main().getByText('No consents').waitFor();
    await page.getByRole('button', { name: 'Record consent' }).click();
    await main().getByText('Fill in the resource type, resource id, description.').waitFor();
    await page.locator('#consent-type').selectOption('THIRD_PARTY');
    await page.locator('#consent-resource-type').fill('contact');
    await page.locator('#consent-resource-id').fill('c_42');
    await page.locator('#consent-subject').fill('grace@example.test');
    await page.locator('#consent-description').fill('Share my booking with the venue');
    await page.getByRole('button', { name: 'Record consent' }).click();
    await main().getByText('Third party consent recorded for contact c_42.').waitFor();
    const row = main().locator('tbody tr', { hasText: 'c_42' });
    await row.getByText('In force').waitFor();
    await page.locator('#status-resource-type').fill('contact');
    await page.locator('#status-resource-id').fill('c_42');
    await page.getByRole('button', { name: 'Check' }).click();
    const status = page.locator('#consent-status');
    await status.getByText('Not granted for contact c_42: data processing, marketing.').waitFor();
    await status.locator('tbody tr', { hasText: 'Third party' }).getByText('Granted').waitFor();
    await status.locator('tbody tr', { hasText: 'Marketing' }).getByText('Not granted').waitFor();
    await shot('consents-1280');
    await row.getByRole('button', { name: 'Revoke Third party consent for contact c_42' }).click();
    await row.getByRole('button', { name: 'Confirm: revoke Third party consent for contact c_42' }).click();
    await main().getByText('revoked; the record is kept.').waitFor();
    await row.getByText('Revoked', { exact: true }).waitFor();
    await page.locator('#consents-filter-active').selectOption('true');
    await page.getByRole('button', { name: 'Filter' }).click();
    await main().getByText('No consents').waitFor();
    await page.locator('#consents-filter-active').selectOption('false');
    await page.getByRole('button', { name: 'Filter' }).click();
    await main().locator('tbody tr', { hasText: 'c_42' }).waitFor();
  });

  await step('field mappings: a live preview against the last stored event, saved and reset', async () => {
    await nav('Field mappings');
    const card = main().locator('a.card[data-provider="poshvip"]');
    await card.getByText('Catalog defaults').waitFor();
    await shot('mappings-1280');
    await card.click();
    await page.getByRole('heading', { name: 'Posh.VIP field mappings', level: 1 }).waitFor();
    const section = main().locator('section[data-event-type="purchase.created"]');
    await section.getByText('Preview from the last').waitFor();
    const email = section.getByLabel('purchase.created Email pointer');
    const preview = section.locator('.preview[data-field="email"]');
    await preview.getByText('grace@example.test', { exact: true }).waitFor();
    await email.fill('/purchase/customer/first_name');
    await preview.getByText('Grace', { exact: true }).waitFor();
    await email.fill('/purchase/nowhere');
    await preview.getByText('Nothing at this pointer').waitFor();
    await email.fill('purchase/customer/email');
    await preview.getByText('Start with “/”').waitFor();
    await page.getByRole('button', { name: 'Save mappings' }).click();
    await page.locator('#mapping-result').getByText('A pointer starts with “/”').waitFor();
    await email.fill('/purchase/customer/first_name');
    await page.getByRole('button', { name: 'Save mappings' }).click();
    await page.locator('#mapping-result').getByText('Saved.').waitFor();
    await section.getByText('Catalog default: /purchase/customer/email').waitFor();
    await shot('mapping-poshvip-1280');
    await page.getByRole('link', { name: '← All mappings' }).click();
    await main().locator('a.card[data-provider="poshvip"]').getByText('Customised').waitFor();
    await main().locator('a.card[data-provider="poshvip"]').click();
    await page.getByRole('button', { name: 'Reset to catalog defaults' }).click();
    await page.getByRole('button', { name: 'Confirm: use the catalog defaults' }).click();
    await page.locator('#mapping-result').getByText('use the catalog\'s mappings again').waitFor();
    check(await email.inputValue() === '/purchase/customer/email', 'the default is back');
    // Leave one override for the server-side check: the name from the full name field.
    await section.getByLabel('purchase.created Full name pointer').fill('/purchase/customer/last_name');
    await section.locator('.preview[data-field="name"]').getByText('Hopper', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Save mappings' }).click();
    await page.locator('#mapping-result').getByText('Saved.').waitFor();
  });

  await step('Easy!Appointments: statistics for a range and an import with a status', async () => {
    await nav('Easy!Appointments');
    await page.locator('#stats-from').fill('2026-11-01');
    await page.locator('#stats-to').fill('2026-10-01');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.locator('#ea-stats').getByText('The end date is before the start date.').waitFor();
    await page.locator('#stats-to').fill('2026-11-30');
    await page.getByRole('button', { name: 'Show' }).click();
    const stats = page.locator('#ea-stats');
    await stats.locator('.card', { hasText: 'Bookings' }).getByText('4', { exact: true }).waitFor();
    await stats.locator('tbody tr', { hasText: 'Haircut' }).getByText('2', { exact: true }).waitFor();
    await stats.locator('tbody tr', { hasText: 'Cancelled' }).getByText('1', { exact: true }).waitFor();
    const label = await stats.locator('svg.chart').getAttribute('aria-label');
    check(label === 'Bookings per day: 4 bookings in 30 days', `daily chart in words: ${label}`);
    await page.locator('#import-from').fill('2026-11-01');
    await page.locator('#import-to').fill('2026-11-30');
    await page.locator('#import-status').fill('Booked');
    await page.getByRole('button', { name: 'Import bookers' }).click();
    await page.locator('#import-result').getByText('Import finished.').waitFor({ timeout: 30000 });
    await shot('easyappointments-1280');
    await page.locator('#import-result').getByRole('link', { name: 'Review the pending signups' }).click();
    await page.getByRole('heading', { name: 'Signups', level: 1 }).waitFor();
    await main().getByText('Ines Prado').waitFor();
    await main().getByText('Kim Sato').waitFor();
    check(await main().getByText('Joao Mota').count() === 0, 'the cancelled booker was not imported');
  });

  await step('the imported signups are announced; all are marked read at once', async () => {
    await waitUntil('the bell counts the two new signups', async () => (await bell().getAttribute('data-unread')) === '2');
    await bell().click();
    await main().locator('li.notification.unread').nth(1).waitFor();
    await page.getByRole('button', { name: 'Mark all as read' }).click();
    await main().getByText('2 marked as read.').waitFor();
    await main().getByText('Nothing unread').waitFor();
    await waitUntil('the bell empties', async () => (await bell().getAttribute('aria-label')) === 'Notifications, none unread');
  });

  await step('Posh.VIP: "Test with a sample event" goes through the real webhook URL', async () => {
    await page.goto(`${BASE}/ui/integrations/poshvip`);
    await page.getByRole('heading', { name: 'Posh.VIP', level: 1 }).waitFor();
    await page.locator('#webhook-test').getByText('documented purchase.created event').waitFor();
    await page.getByRole('button', { name: 'Test with a sample event' }).click();
    const result = page.locator('#webhook-test-result [data-status="processed"]');
    await result.getByText('purchase.created was accepted and processed into a pending signup').waitFor({ timeout: 30000 });
    await shot('webhook-test-1280');
    await result.getByRole('link', { name: 'See the signup' }).click();
    await page.getByRole('heading', { name: 'Signups', level: 1 }).waitFor();
    await main().locator('tr.highlight', { hasText: 'test@example.com' }).waitFor();
    // Eventbrite signs nothing, so its page asks for no webhook secret.
    await page.goto(`${BASE}/ui/integrations/eventbrite`);
    await page.getByRole('heading', { name: 'Eventbrite', level: 1 }).waitFor();
    await main().getByText('Eventbrite does not sign its webhooks').waitFor();
    await main().locator('#webhook-test').getByText('Save the connection first.').waitFor();
    check(await main().getByText('Secret saved').count() === 0, 'no webhook secret asked for');
    check(await main().getByLabel(/webhook secret/i).count() === 0, 'no webhook secret field');
  });

  await step('Easy!Appointments insights: figures, then a written summary from Claude', async () => {
    await nav('Easy!Appointments');
    await page.locator('#insights-from').fill('2026-11-01');
    await page.locator('#insights-to').fill('2026-11-30');
    await page.getByRole('button', { name: 'Analyse bookings' }).click();
    const area = page.locator('#ea-insights');
    await area.locator('tbody tr', { hasText: 'Chloe Stylist' }).getByText('3', { exact: true }).waitFor();
    await page.locator('#insights-type').selectOption('conversion');
    await page.getByLabel('Add a short written summary from Claude').check();
    await page.getByRole('button', { name: 'Analyse bookings' }).click();
    await area.locator('#insights-summary').getByText('Bookings were steady').waitFor();
    await area.locator('#insights-summary').getByText(/^Written by claude-sonnet-4-5/).waitFor();
    await area.locator('.card', { hasText: 'Cancelled' }).getByText('1', { exact: true }).waitFor();
    await shot('easyappointments-insights-1280');
  });

  let endpointPath = '';
  await step('an outbound endpoint is edited: URL, events, description, retries; its secret rotated', async () => {
    await nav('Outbound endpoints');
    await main().getByRole('link', { name: /\/hooks$/ }).click();
    await page.getByRole('heading', { name: 'Seeded endpoint', level: 1 }).waitFor();
    endpointPath = new URL(page.url()).pathname;
    const form = page.locator('#endpoint-edit');
    await form.getByLabel('Description').fill('CRM sync');
    await form.getByLabel('All events').uncheck();
    await form.getByRole('checkbox', { name: 'signup.created' }).check();
    await form.getByRole('radio', { name: /^None/ }).check();
    await form.getByLabel('URL').fill('not a url');
    await form.getByRole('button', { name: 'Save changes' }).click();
    await page.locator('#edit-result [role="alert"]').waitFor();
    await form.getByLabel('URL').fill(`${env('ENDPOINT_URL')}?v=2`);
    await form.getByRole('button', { name: 'Save changes' }).click();
    await page.locator('#edit-result').getByText('Saved: URL, description, events, retries.').waitFor();
    await page.getByRole('heading', { name: 'CRM sync', level: 1 }).waitFor();
    await page.locator('#endpoint-details').getByText('signup.created').waitFor();
    await page.locator('#endpoint-retries').getByText('None', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByRole('button', { name: 'Confirm: rotate the secret' }).click();
    const fresh = await page.locator('#rotated-secret input').inputValue();
    check(fresh.startsWith('whsec_'), 'the new secret is shown once');
    await page.locator('#endpoint-details').getByText('still signs until').waitFor();
    await page.getByRole('button', { name: 'Reveal signing secret' }).click();
    check(await page.getByLabel('Signing secret', { exact: true }).inputValue() === fresh, 'the revealed secret is the new one');
    await page.getByLabel(/^Previous secret/).waitFor();
    await page.getByRole('button', { name: 'Replay', exact: true }).click();
    await page.locator('#replay-result').getByText(/scheduled|Nothing to replay/).waitFor();
    await shot('endpoint-edit-1280');
  });

  await step('tokens: an expired token says so and can only be revoked', async () => {
    await nav('API tokens');
    const row = main().locator('tbody tr', { hasText: 'Old integration' });
    await row.locator('[data-status="expired"]').getByText('Expired').waitFor();
    await row.getByText(/^Expired /).waitFor();
    check(await row.getByRole('button', { name: /Activate|Deactivate/ }).count() === 0, 'no switch for an expired token');
    await row.getByRole('button', { name: 'Revoke Old integration' }).waitFor();
    await main().locator('tbody tr', { hasText: 'Seed token' }).locator('[data-status="active"]').waitFor();
    await shot('tokens-status-1280');
  });

  await step('the audit log names its actors, with the id on hover', async () => {
    await nav('Audit log');
    // The Actor column's (a phone shows the actor under the action instead).
    const actor = main().locator('tbody tr', { hasText: 'job.retried' }).locator('.actor').last();
    await actor.getByText(TENANT_EMAIL).waitFor();
    check((await actor.getAttribute('title')).startsWith('user:'), 'the raw actor id is on hover');
    // The platform's admin token created it: a tenant's log names the platform's actors only as "platform".
    await main().locator('tbody tr', { hasText: 'token.created' }).first().locator('.actor').last().getByText('platform').waitFor();
    await shot('audit-actors-1280');
  });

  await step('settings: the tenant is renamed and gets a notification address', async () => {
    await nav('Settings');
    await page.getByLabel('Name').fill('Acme Live');
    await page.getByLabel('Notification emails').fill('not-an-email');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await main().getByText('Not an email address: not-an-email.').waitFor();
    await page.getByLabel('Notification emails').fill('ops@acme.test');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await main().getByText('Settings saved.').waitFor();
    await page.locator('nav.sidebar .brand-tenant').getByText('Acme Live').waitFor();
  });

  await step('every new screen at desktop and phone width', async () => {
    for (const [path, heading, file] of [
      ['/ui/notifications', 'Notifications', 'notifications'],
      ['/ui/jobs?status=', 'Jobs', 'jobs'],
      ['/ui/usage', 'Usage', 'usage'],
      ['/ui/consents', 'Consents', 'consents'],
      ['/ui/mappings', 'Field mappings', 'mappings'],
      ['/ui/mappings/poshvip', 'Posh.VIP field mappings', 'mapping-poshvip'],
      ['/ui/easyappointments', 'Easy!Appointments', 'easyappointments'],
      [endpointPath, 'CRM sync', 'endpoint-edit'],
      ['/ui/tokens', 'API tokens', 'tokens'],
      ['/ui/audit', 'Audit log', 'audit'],
      ['/ui/settings', 'Settings', 'settings'],
    ]) {
      await bothWidths(path, heading, `tenant-${file}`);
    }
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${BASE}/ui/`);
    await page.getByRole('button', { name: 'Menu' }).click();
    await page.getByRole('link', { name: 'Field mappings' }).waitFor({ state: 'visible' });
    check(await bell().isVisible(), 'the bell stays visible on a phone');
    await page.setViewportSize({ width: 1280, height: 900 });
  });
});
