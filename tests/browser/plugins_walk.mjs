// The Plugins part of the walk (called at the end of walk.mjs, with the operator signed
// in): the tenant admin installs a plugin through the form its configuration schema
// generates, configures it, sees a plugin's provider join the integrations and
// uninstalls it; the operator reads a package in the marketplace and removes it. The
// plugin's secret must never be on a page.
//
// Environment: TENANT_EMAIL, ADMIN_EMAIL, PLUGIN_SECRET (the CRM relay's API token).
// The server has the built-in plugins and `crm-relay` (published by ui_browser.rs).

const TENANT_EMAIL = process.env.TENANT_EMAIL;
const ADMIN_EMAIL = process.env.ADMIN_EMAIL;
const SECRET = process.env.PLUGIN_SECRET;
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

// `tools`: what walk.mjs has — page, main, step, shot, check, waitUntil, signIn.
export async function walkPlugins(tools) {
  const { page, main, step, shot, check, waitUntil, signIn } = tools;
  check(TENANT_EMAIL && ADMIN_EMAIL && SECRET, 'TENANT_EMAIL, ADMIN_EMAIL and PLUGIN_SECRET are set');
  const masked = `****${SECRET.slice(-4)}`;
  const card = (id) => main().locator(`button.card[data-plugin="${id}"]`);
  const detail = () => page.locator('#plugin-detail');
  const installedRow = (id) => main().locator('tbody tr', { has: page.locator(`[data-plugin="${id}"]`) });
  const toast = (text) => page.locator('.toast-area').getByText(text).first().waitFor();
  const noSecret = async (where) => {
    check(!(await page.content()).includes(SECRET), `the plugin secret is not on the page (${where})`);
  };
  const openNav = async (label) => {
    await page.locator('nav.sidebar').getByRole('link', { name: label, exact: true }).click();
    await page.getByRole('heading', { name: label, level: 1 }).waitFor();
    await waitUntil(`${label} has loaded`, async () => await main().locator('.loading').count() === 0);
  };
  // Screenshots at both widths of what `open` shows; the phone must not scroll sideways.
  // Toasts (checked where they appear) would cover the form in a full-page screenshot.
  const bothWidths = async (file, open) => {
    for (const [size, suffix] of [[DESKTOP, '1280'], [PHONE, 'phone']]) {
      await page.setViewportSize(size);
      await open();
      await page.evaluate(() => document.querySelectorAll('.toast-area > *').forEach((t) => t.remove()));
      if (size === PHONE) {
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        check(overflow <= 1, `no horizontal scrolling on a phone at ${file} (overflow ${overflow}px)`);
      }
      await shot(`${file}-${suffix}`);
    }
    await page.setViewportSize(DESKTOP);
  };
  const switchUser = async (email) => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await signIn(email);
  };

  await step('plugins: the tenant admin opens the marketplace', async () => {
    await switchUser(TENANT_EMAIL);
    await openNav('Plugins');
    await main().getByText('No plugins installed').waitFor();
    for (const id of ['calendly', 'crm-relay', 'slack-signups']) await card(id).getByText('Available').waitFor();
    await bothWidths('plugins', async () => {
      await page.goto(page.url());
      await card('crm-relay').waitFor();
    });
  });

  await step('plugins: install the CRM relay through the form its schema generates', async () => {
    await card('crm-relay').click();
    await detail().getByRole('heading', { name: 'CRM relay', level: 2 }).waitFor();
    await detail().getByText('Reshapes the messages of outbound endpoints').waitFor();
    await detail().getByText('Version 1.2.0 · by Acme Integrations').waitFor();
    const token = detail().getByLabel('CRM API token', { exact: true });
    check(await token.getAttribute('type') === 'password', 'the secret field is a password input');
    await detail().getByText('Kept encrypted; shown masked.').waitFor();
    await detail().getByRole('button', { name: 'Install CRM relay' }).click();
    await detail().getByRole('alert').filter({ hasText: 'CRM API token is required.' }).waitFor();
    await token.fill(SECRET);
    await detail().getByLabel('Source label (optional)').fill('Walk');
    await bothWidths('plugin-install', async () => {
      await detail().getByRole('heading', { name: 'CRM relay', level: 2 }).scrollIntoViewIfNeeded();
    });
    await detail().getByRole('button', { name: 'Install CRM relay' }).click();
    await toast('CRM relay installed');
    await installedRow('crm-relay').getByText('Active').waitFor();
    await card('crm-relay').getByText('Installed').waitFor();
    check(await detail().locator('section').count() === 0, 'the install form closed');
    await noSecret('after installing');
  });

  await step('plugins: configure keeps the stored secret and changes a plain field', async () => {
    await page.getByRole('button', { name: 'Configure CRM relay' }).click();
    await detail().getByRole('heading', { name: 'Configure CRM relay' }).waitFor();
    const token = detail().getByLabel('CRM API token', { exact: true });
    check(await token.inputValue() === '', 'the stored secret is not filled in');
    const placeholder = await token.getAttribute('placeholder');
    check(placeholder === `${masked} (stored)`, `the secret shows masked: ${placeholder}`);
    await detail().getByText('Leave empty to keep the stored value.').waitFor();
    check(!(await token.getAttribute('required')), 'a stored secret need not be typed again');
    const source = detail().getByLabel('Source label (optional)');
    check(await source.inputValue() === 'Walk', 'the plain field shows its value');
    await source.fill('Walk CRM');
    await detail().getByRole('button', { name: 'Save configuration' }).click();
    await toast('CRM relay: configuration saved');
    await page.getByRole('button', { name: 'Configure CRM relay' }).click();
    await waitUntil('the saved label is shown', async () => await detail().getByLabel('Source label (optional)').inputValue() === 'Walk CRM');
    check(await detail().getByLabel('CRM API token', { exact: true }).getAttribute('placeholder') === `${masked} (stored)`,
      'the secret was kept');
    await bothWidths('plugin-configure', async () => {
      await detail().getByRole('heading', { name: 'Configure CRM relay' }).scrollIntoViewIfNeeded();
    });
    await detail().getByRole('button', { name: 'Close' }).click();
    await noSecret('after configuring');
  });

  await step('plugins: an endpoint reshapes its messages with the CRM relay; uninstalling it is refused until none does', async () => {
    const openEndpoint = async () => {
      await openNav('Outbound endpoints');
      await main().locator('tbody a.mono').first().click();
      await page.locator('#endpoint-edit').waitFor();
    };
    await openEndpoint();
    const form = page.locator('#endpoint-edit');
    await page.locator('#endpoint-transform').getByText('None', { exact: true }).waitFor();
    await form.getByLabel('Transformation').selectOption({ label: 'CRM relay' });
    await form.getByRole('button', { name: 'Save changes' }).click();
    await page.locator('#edit-result').getByText('Saved: transformation.').waitFor();
    await page.locator('#endpoint-transform').getByText('CRM relay', { exact: true }).waitFor();
    await page.goto(page.url());
    await waitUntil('the stored transformation is chosen after a reload', async () =>
      await page.locator('#endpoint-edit').getByLabel('Transformation').inputValue() === 'crm-relay');

    await openNav('Plugins');
    await page.getByRole('button', { name: 'Uninstall CRM relay' }).click();
    await page.getByRole('button', { name: 'Confirm: uninstall CRM relay' }).click();
    await main().getByRole('alert').filter({ hasText: 'change their `transform` first' }).waitFor();
    await installedRow('crm-relay').getByText('Active').waitFor();

    await openEndpoint();
    await form.getByLabel('Transformation').selectOption({ label: 'None: send events as they are' });
    await form.getByRole('button', { name: 'Save changes' }).click();
    await page.locator('#edit-result').getByText('Saved: transformation.').waitFor();
    await page.locator('#endpoint-transform').getByText('None', { exact: true }).waitFor();
    await openNav('Plugins');
  });

  await step('plugins: Calendly installs without settings and joins the integrations at once', async () => {
    await card('calendly').click();
    await detail().getByText('Adds or changes integrations: calendly.').waitFor();
    await detail().getByLabel('Event types to accept (optional)').waitFor();
    await detail().getByRole('button', { name: 'Install Calendly' }).click();
    await toast('Calendly installed');
    await installedRow('calendly').getByText('Active').waitFor();
    await bothWidths('plugins-installed', async () => {
      await page.goto(page.url());
      await installedRow('calendly').waitFor();
    });
    await openNav('Integrations');
    await main().getByRole('heading', { name: 'Scheduling', exact: true }).waitFor();
    await main().locator('a.card[data-provider="calendly"]').getByText('Not connected').waitFor();
  });

  await step('plugins: uninstalling Calendly takes it out of the integrations', async () => {
    await openNav('Plugins');
    await page.getByRole('button', { name: 'Uninstall Calendly' }).click();
    await page.getByRole('button', { name: 'Confirm: uninstall Calendly' }).click();
    await toast('Calendly uninstalled');
    await waitUntil('Calendly left the installed list', async () => await installedRow('calendly').count() === 0);
    await card('calendly').getByText('Available').waitFor();
    await openNav('Integrations');
    await main().locator('a.card[data-provider="stripe"]').waitFor();
    check(await main().locator('a.card[data-provider="calendly"]').count() === 0, 'Calendly is no longer an integration');
  });

  await step('plugins: the operator reads the CRM relay package in the marketplace', async () => {
    await switchUser(ADMIN_EMAIL);
    await openNav('Plugin marketplace');
    await card('calendly').getByText('Built in').waitFor();
    await card('crm-relay').getByText('Published').waitFor();
    const open = async () => {
      await card('crm-relay').click();
      await detail().locator('#plugin-facts').waitFor();
    };
    await open();
    const facts = detail().locator('#plugin-facts');
    for (const text of ['1.2.0', 'Acme Integrations', 'CRM', 'Tenants that install it', '1 tenant']) {
      await facts.getByText(text, { exact: true }).waitFor();
    }
    const field = detail().locator('tbody tr', { hasText: 'CRM API token' });
    await field.getByText('Secret').waitFor();
    await field.getByText('Required').waitFor();
    await detail().locator('tbody tr', { hasText: 'Source label' }).getByText('Plain').waitFor();
    await detail().getByText('Script (6 lines)').click();
    const script = await detail().locator('#plugin-script').textContent();
    check(script.includes("addHandler('transform'"), `the script is shown: ${script}`);
    await noSecret('the operator’s package view');
    await bothWidths('marketplace', async () => {
      await page.goto(page.url());
      await open();
    });
  });

  await step('plugins: a built-in stays; the operator removes the CRM relay from everywhere', async () => {
    await card('calendly').click();
    await detail().getByText('Ships with tessera').waitFor();
    check(await detail().getByRole('button', { name: /Remove/ }).count() === 0, 'a built-in cannot be removed');
    await card('crm-relay').click();
    await detail().getByRole('button', { name: 'Remove CRM relay' }).click();
    await detail().getByRole('button', { name: 'Confirm: remove CRM relay' }).getByText('Confirm: remove and uninstall from 1 tenant').waitFor();
    await detail().getByRole('button', { name: 'Confirm: remove CRM relay' }).click();
    await toast('CRM relay removed from the marketplace');
    await waitUntil('the card is gone', async () => await card('crm-relay').count() === 0);
  });
}
