// Issue 14 in a real browser: from finding an API to a working call. The
// store's page (its HTTPS port) calls the gateway on its own HTTPS port, a
// second origin, with a console token: CORS at the gateway lets it.
const path = require('node:path');
const { test, expect } = require('./server');
const { expectFits, watchConsole } = require('./layout');

const USER = 'carol';
const PASSWORD = 'carol-password-1';

test('try-it console: sign up, subscribe, Generate, then real calls through the gateway', async ({ server, page, request }) => {
  const consoleErrors = watchConsole(page);
  await page.goto(`${server.store}/signup`);
  await page.getByLabel('Username').fill(USER);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Password again').fill(PASSWORD);
  await page.getByLabel('Email').fill('carol@example.com');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await expect(page.getByTestId('username')).toHaveText(USER);

  await page.getByRole('link', { name: 'My Applications' }).click();
  await page.getByRole('link', { name: 'Add application' }).click();
  await page.getByLabel('Name').fill('PizzaApp');
  await page.getByRole('button', { name: 'Add application' }).click();

  // The API page before keys: where and how to call, but nothing to try yet.
  await page.getByRole('link', { name: 'APIs', exact: true }).click();
  await page.getByRole('link', { name: 'PizzaShackAPI' }).click();
  const apiPage = page.url();
  const gateway = new URL(server.https).origin;
  await expect(page.getByTestId('gateway-url-0')).toHaveText(`${gateway}/pizzashack/1.0.0`);
  await expect(page.getByTestId('token-url')).toHaveText(`${gateway}/token`);
  await page.getByLabel('Application').selectOption({ label: 'PizzaApp' });
  await page.getByLabel('Tier').selectOption('Gold');
  await page.getByRole('button', { name: 'Subscribe', exact: true }).click();
  await expect(page.getByRole('status')).toContainText('PizzaApp is subscribed');
  await expect(page.locator('#try')).toContainText('then generate its keys, to try this API here');

  await page.locator('#try').getByRole('link', { name: 'generate its keys' }).click();
  await page.getByTestId('production-panel').getByRole('button', { name: 'Generate' }).click();
  const key = await page.getByTestId('production-consumer-key').innerText();

  // The API page with keys: the curl commands carry the consumer key.
  await page.goto(apiPage);
  await expect(page.getByTestId('token-command')).toContainText(`${key}:CONSUMER_SECRET`);
  await expect(page.getByTestId('curl-1')).toContainText(`curl -X POST "${gateway}/pizzashack/1.0.0/order"`);

  // The definition downloads and validates in shape: servers are the gateway's.
  const def = await request.get(`${apiPage}/openapi.json`);
  expect(def.status()).toBe(200);
  const doc = await def.json();
  expect(doc.servers.map((s) => s.url)).toContain(`${gateway}/pizzashack/1.0.0`);

  // Try it: a token with the update scope only.
  const tryIt = page.locator('#try');
  await tryIt.getByLabel('Application').selectOption({ label: 'PizzaApp' });
  await tryIt.getByLabel('Key type').selectOption({ label: 'Production' });
  await tryIt.getByLabel('update').check();
  await tryIt.getByRole('button', { name: 'Get token' }).click();
  await expect(page.getByTestId('console-token')).toContainText('Token for PizzaApp (production key), scopes update');

  // GET /menu → 200 with the menu.
  const menu = page.getByTestId('op-0');
  await expect(menu).toContainText('/menu');
  await menu.getByRole('button', { name: 'Send' }).click();
  await expect(page.getByTestId('op-0-status')).toHaveText(/^200/);
  await expect(page.getByTestId('op-0-body')).toContainText('Pepperoni');

  // POST /order with a body → 201, the order the update scope allows.
  const order = page.getByTestId('op-1');
  await expect(order).toContainText('/order');
  await order.getByLabel('Request body').fill(JSON.stringify({ pizzaType: 'Garden Fresh', quantity: 3, customerName: 'Carol', address: '2 Side Street' }));
  await order.getByRole('button', { name: 'Send' }).click();
  await expect(page.getByTestId('op-1-status')).toHaveText(/^201/);
  await expect(page.getByTestId('op-1-body')).toContainText('"pizzaType": "Garden Fresh"');
  const placed = JSON.parse(await page.getByTestId('op-1-body').innerText());

  // GET /order/{orderId} needs read, which the token lacks → 403 900910, named.
  const follow = page.getByTestId('op-2');
  await follow.getByLabel('orderId').fill(placed.orderId);
  await follow.getByRole('button', { name: 'Send' }).click();
  await expect(page.getByTestId('op-2-status')).toHaveText(/^403/);
  await expect(page.getByTestId('op-2-body')).toContainText('900910');
  await expect(page.getByTestId('op-2-hint')).toHaveText(/The token lacks the scope read/);
  await expectFits(page);
  await page.getByTestId('op-0').locator('.console-result details').evaluate((d) => { d.open = true; });
  await tryIt.screenshot({
    path: process.env.UPDATE_SCREENSHOTS
      ? path.resolve(__dirname, '..', 'docs', 'api-console.png')
      : test.info().outputPath('api-console.png'),
  });

  // With read ticked as well, the same call goes through.
  await tryIt.getByLabel('read').check();
  await tryIt.getByRole('button', { name: 'Get token' }).click();
  await expect(page.getByTestId('console-token')).toContainText(/scopes (update, read|read, update);/);
  await follow.getByRole('button', { name: 'Send' }).click();
  await expect(page.getByTestId('op-2-status')).toHaveText(/^200/);
  await expect(page.getByTestId('op-2-body')).toContainText('Carol');

  // Chromium logs the expected 403 as a failed load; nothing else may show.
  const unexpected = consoleErrors.filter((e) => !/status of 403/.test(e) || !e.includes(`${gateway}/pizzashack/1.0.0/order/`));
  expect(unexpected).toEqual([]);
});

test('the gateway answers preflights without a token, for the store only by default', async ({ server, request }) => {
  const store = new URL(server.store).origin;
  const preflight = (origin) => request.fetch(`${server.https}/pizzashack/1.0.0/order`, {
    method: 'OPTIONS',
    headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type' },
  });
  let resp = await preflight(store);
  expect(resp.status()).toBe(204);
  expect(resp.headers()['access-control-allow-origin']).toBe(store);
  expect(resp.headers()['vary']).toContain('Origin');
  resp = await preflight('https://elsewhere.example.com');
  expect(resp.status()).toBe(403);
  expect(resp.headers()['access-control-allow-origin']).toBeUndefined();
});

test('the reference renders the definition with the vendored renderer, within the CSP', async ({ server, page }) => {
  const consoleErrors = watchConsole(page);
  await page.goto(server.store);
  await page.getByRole('link', { name: 'PizzaShackAPI' }).click();
  await page.getByRole('link', { name: 'reference' }).click();
  await expect(page.getByRole('heading', { name: 'PizzaShackAPI 1.0.0 reference' })).toBeVisible();
  const doc = page.locator('rapi-doc');
  // An operation shows its parameters, request schema and example, and answers.
  await doc.locator('[data-content-id="post-/order"]').first().click();
  await expect(doc.getByText('pizzaType').filter({ visible: true }).first()).toBeVisible();
  await expect(doc.getByText('The order, placed').filter({ visible: true }).first()).toBeVisible();
  await page.screenshot({ path: test.info().outputPath('api-reference.png'), fullPage: true });
  expect(consoleErrors).toEqual([]);
});
