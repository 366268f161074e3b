// The store journey of issue 3 in a real browser: sign up, add an
// application, subscribe, generate keys, use them at /token, Re-generate,
// Regenerate secret, log out and back in.
const path = require('node:path');
const { test, expect } = require('./server');
const { expectFits, contrast, watchConsole } = require('./layout');

const USER = 'alice';
const PASSWORD = 'alice-password-1';

// basic is an HTTP Basic header for a consumer key and secret.
const basic = (key, secret) => 'Basic ' + Buffer.from(`${key}:${secret}`).toString('base64');

// token calls /token on the token port as the WSO2 docs' curl does.
async function token(request, server, key, secret, form) {
  return request.post(`${server.https}/token`, {
    headers: { Authorization: basic(key, secret) },
    form,
  });
}

// active asks /introspect whether a token is still valid.
async function active(request, server, key, secret, accessToken) {
  const resp = await request.post(`${server.https}/introspect`, {
    headers: { Authorization: basic(key, secret) },
    form: { token: accessToken },
  });
  expect(resp.status()).toBe(200);
  return (await resp.json()).active;
}

// panelValue reads a value the Production or Sandbox panel shows.
const panelValue = (page, id) => page.getByTestId(id).innerText();

test('the store journey: sign up, application, subscription, keys at /token', async ({ server, page, request }) => {
  const consoleErrors = watchConsole(page);
  // 1. The catalogue, then Sign up.
  await page.goto(server.store);
  await expect(page.getByRole('heading', { name: 'PizzaShackAPI' })).toBeVisible();
  await expect(page.getByText('/pizzashack').first()).toBeVisible();
  await expect(page.getByText('/order/{orderId}').first()).toBeVisible();
  await expectFits(page);
  await page.getByRole('link', { name: 'Sign up' }).click();
  await page.getByLabel('Username').fill(USER);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Password again').fill(PASSWORD);
  await page.getByLabel('Email').fill('alice@example.com');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await expect(page.getByTestId('username')).toHaveText(USER);

  // 2. My Applications: add, edit; a second one is subscribed, unsubscribed and deleted.
  await page.getByRole('link', { name: 'My Applications' }).click();
  await expect(page.getByText('No applications yet — add one.')).toBeVisible();
  for (const name of ['PizzaApp', 'Scratch']) {
    await page.getByRole('link', { name: 'Add application' }).click();
    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Description').fill(`The ${name} <b>app</b>`);
    await page.getByLabel('Callback URL').fill('https://pizza.example.com/callback');
    await page.getByLabel('Application tier').selectOption('Gold');
    await page.getByRole('button', { name: 'Add application' }).click();
    await expect(page.getByRole('status')).toContainText(`Application ${name} added.`);
  }
  expect(await contrast(page.getByRole('status'))).toBeGreaterThanOrEqual(4.5); // WCAG AA
  await expect(page.getByText('The PizzaApp <b>app</b>')).toBeVisible(); // escaped, not markup
  const pizzaRow = page.getByRole('row', { name: /PizzaApp/ });
  await pizzaRow.getByRole('link', { name: 'Edit' }).click();
  await page.getByLabel('Description').fill('Orders pizza');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('row', { name: /PizzaApp/ })).toContainText('Orders pizza');

  // 3. Subscribe both from the API page; unsubscribe and delete the scratch one.
  await page.getByRole('link', { name: 'APIs', exact: true }).click();
  await page.getByRole('link', { name: 'PizzaShackAPI' }).click();
  for (const name of ['PizzaApp', 'Scratch']) {
    await page.getByLabel('Application').selectOption({ label: name });
    await page.getByLabel('Tier').selectOption('Gold');
    await page.getByRole('button', { name: 'Subscribe', exact: true }).click();
    await expect(page.getByRole('status')).toContainText(`${name} is subscribed to PizzaShackAPI 1.0.0 at the Gold tier.`);
  }
  await page.getByRole('row', { name: /Scratch/ }).getByRole('button', { name: 'Unsubscribe' }).click();
  await expect(page.getByRole('status')).toContainText('Scratch is unsubscribed');
  await expect(page.getByRole('row', { name: /Scratch/ })).toHaveCount(0);
  await page.getByRole('link', { name: 'My Applications' }).click();
  await page.getByRole('row', { name: /Scratch/ }).getByRole('link', { name: 'Delete' }).click();
  await page.getByRole('button', { name: 'Delete application' }).click();
  await expect(page.getByRole('status')).toContainText('Application Scratch deleted');

  // 4. My Subscriptions: Generate production keys.
  await page.getByRole('link', { name: 'My Subscriptions' }).click();
  await page.getByLabel('Application').selectOption({ label: 'PizzaApp' });
  await page.getByRole('button', { name: 'Show' }).click();
  const production = page.getByTestId('production-panel');
  await expect(production.getByLabel('implicit')).not.toBeChecked();
  await expect(production.getByLabel('client_credentials')).toBeChecked();
  await expect(production.getByLabel('Callback URL')).toHaveValue('https://pizza.example.com/callback');
  await production.getByLabel('Token validity (seconds)').fill('1800');
  await production.getByRole('button', { name: 'Generate' }).click();
  await expect(production.getByText('shown once')).toBeVisible();
  await expect(production.getByRole('button', { name: 'Copy' })).toHaveCount(3);
  const key = await panelValue(page, 'production-consumer-key');
  const secret = await panelValue(page, 'production-consumer-secret');
  const appToken = await panelValue(page, 'production-access-token');
  await expect(page.getByTestId('production-token-expiry')).toContainText('in 1800 seconds');
  await expect(page.getByRole('cell', { name: 'PizzaShackAPI' })).toBeVisible(); // subscribed APIs under the keys

  // Sandbox keys too, for the screenshot of both panels.
  const sandbox = page.getByTestId('sandbox-panel');
  await sandbox.getByRole('button', { name: 'Generate' }).click();
  await expect(sandbox.getByText('shown once')).toBeVisible();
  await expectFits(page); // both panels with their keys, on a phone
  await page.screenshot({
    path: process.env.UPDATE_SCREENSHOTS
      ? path.resolve(__dirname, '..', 'docs', 'store-subscriptions.png')
      : test.info().outputPath('store-subscriptions.png'),
    fullPage: true,
  });

  // The keys work at /token at once, as in the WSO2 docs.
  let resp = await token(request, server, key, secret, { grant_type: 'password', username: USER, password: PASSWORD, scope: 'read' });
  expect(resp.status()).toBe(200);
  expect((await resp.json()).access_token).toBeTruthy();
  resp = await token(request, server, key, secret, { grant_type: 'client_credentials' });
  expect(resp.status()).toBe(200);
  const ccToken = (await resp.json()).access_token;
  expect(await active(request, server, key, secret, appToken)).toBe(true);

  // Afterwards the page shows the key, the validity and the token's expiry, never the secret.
  await page.reload();
  await expect(page.getByTestId('production-consumer-key')).toHaveText(key);
  await expect(page.getByText(secret)).toHaveCount(0);
  await expect(production.getByText('1800 seconds')).toBeVisible();
  await expect(page.getByTestId('production-token-status')).toContainText(/^expires \d{4}-/);

  // Re-generate asks first, on a page of its own; then a new token, and the
  // old application tokens are refused at once.
  await production.getByRole('link', { name: 'Re-generate' }).click();
  await expect(page.getByRole('heading', { name: 'Re-generate the Production application token of PizzaApp?' })).toBeVisible();
  await expectFits(page);
  await page.getByRole('button', { name: 'Re-generate' }).click();
  const newToken = await panelValue(page, 'production-access-token');
  expect(newToken).not.toBe(appToken);
  expect(await active(request, server, key, secret, appToken)).toBe(false);
  expect(await active(request, server, key, secret, ccToken)).toBe(false);
  expect(await active(request, server, key, secret, newToken)).toBe(true);

  // Regenerate secret asks first: Cancel changes nothing; confirmed, the old
  // secret stops working at once.
  await production.getByRole('link', { name: 'Regenerate secret' }).click();
  await expect(page.getByRole('heading', { name: 'Regenerate the Production consumer secret of PizzaApp?' })).toBeVisible();
  await page.getByRole('link', { name: 'Cancel' }).click();
  await expect(page.getByTestId('production-consumer-key')).toHaveText(key);
  resp = await token(request, server, key, secret, { grant_type: 'client_credentials' });
  expect(resp.status()).toBe(200);
  await production.getByRole('link', { name: 'Regenerate secret' }).click();
  await page.getByRole('button', { name: 'Regenerate secret' }).click();
  const newSecret = await panelValue(page, 'production-consumer-secret');
  expect(newSecret).not.toBe(secret);
  resp = await token(request, server, key, secret, { grant_type: 'client_credentials' });
  expect(resp.status()).toBe(401);
  expect((await resp.json()).error).toBe('invalid_client');
  resp = await token(request, server, key, newSecret, { grant_type: 'client_credentials' });
  expect(resp.status()).toBe(200);

  // 5. Log out, log in: the same application, subscription and keys.
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('link', { name: 'Log in' })).toBeVisible();
  await page.getByRole('link', { name: 'My Subscriptions' }).click();
  await expect(page).toHaveURL(/\/store\/login\?return=/);
  await page.getByLabel('Username').fill(USER);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page).toHaveURL(/\/store\/subscriptions$/);
  await expect(page.getByTestId('app-name')).toHaveText('PizzaApp');
  await expect(page.getByTestId('production-consumer-key')).toHaveText(key);
  await expect(page.getByRole('cell', { name: 'PizzaShackAPI' })).toBeVisible();
  await page.getByRole('link', { name: 'My Applications' }).click();
  await expect(page.getByRole('row', { name: /PizzaApp/ })).toContainText('Orders pizza');
  await expect(page.getByRole('row', { name: /Scratch/ })).toHaveCount(0);
  expect(consoleErrors).toEqual([]); // no failed loads, CSP violations or script errors
});

test('sign-up and application forms show their errors next to the fields', async ({ server, page }) => {
  await page.goto(`${server.store}/signup`);
  await page.getByLabel('Username').fill('bad name');
  await page.getByLabel('Password', { exact: true }).fill('short');
  await page.getByLabel('Password again').fill('other');
  await page.getByLabel('Email').fill('not-an-email');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await expect(page.getByText('A username has 2 to 64')).toBeVisible();
  await expect(page.getByText('A password has 8 to 256 characters.')).toBeVisible();
  await expect(page.getByText('Enter an email address')).toBeVisible();
  await expect(page.getByLabel('Username')).toHaveValue('bad name');
  await expect(page.getByLabel('Password', { exact: true })).toHaveValue('');

  await page.getByLabel('Username').fill('bob');
  await page.getByLabel('Password', { exact: true }).fill('bob-password');
  await page.getByLabel('Password again').fill('bob-password');
  await page.getByLabel('Email').fill('bob@example.com');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.goto(`${server.store}/applications/new`);
  await page.getByLabel('Name').fill('x'.repeat(100));
  await page.getByLabel('Callback URL').fill('http://example.com/cb');
  await page.getByRole('button', { name: 'Add application' }).click();
  await expect(page.getByText('An http callback URL must be on localhost')).toBeVisible();
  await expect(page.getByLabel('Callback URL')).toHaveValue('http://example.com/cb');

  // A long name and callback URL wrap: the row's buttons stay in reach, on a desktop and a phone.
  await page.getByLabel('Callback URL').fill(`https://example.com/${'callback/'.repeat(12)}`);
  await page.getByRole('button', { name: 'Add application' }).click();
  await expect(page.getByRole('status')).toContainText('added');
  await expect(page.getByRole('link', { name: 'Delete' })).toBeInViewport();
  await expectFits(page, { width: 1280, height: 720 });
  await expectFits(page);
  await page.getByRole('link', { name: 'Keys' }).click();
  await expectFits(page);

  // A message about the grant-type checkboxes is read out with their group.
  const production = page.getByTestId('production-panel');
  for (const box of await production.getByRole('checkbox').all()) await box.uncheck();
  await production.getByRole('button', { name: 'Generate' }).click();
  await expect(production.getByRole('group', { name: 'Grant types' }))
    .toHaveAccessibleDescription('Allow at least one of the listed grant types.');
  await page.goto(`${server.store}/applications`);
  await page.getByRole('link', { name: 'Delete' }).click();
  await expectFits(page);
});
