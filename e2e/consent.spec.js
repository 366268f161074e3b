// The authorization-code and implicit flows in a real browser: log in from
// /authorize, the consent page's Approve, Deny and "Remember my decision",
// landing on a tiny callback server, and the store's Authorized
// applications page.
const http = require('node:http');
const { test: serverTest, expect } = require('./server');
const { expectFits, watchConsole } = require('./layout');

// startCallback serves http://localhost:PORT/cb, answering with the query it
// was called with, as a client application's redirect endpoint would.
async function startCallback() {
  const srv = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('<!doctype html><title>callback</title><h1>Client callback</h1>');
  });
  await new Promise((resolve) => srv.listen(0, 'localhost', resolve));
  return { url: `http://localhost:${srv.address().port}/cb`, close: () => new Promise((r) => srv.close(r)) };
}

// setUp makes alice, a scope and her application allowing the redirect grants.
async function setUp(server, callbackURL) {
  await server.admin('user create', { username: 'alice', password: 'alice-password' });
  await server.admin('scope create', { name: 'read', description: 'Read orders' });
  const app = JSON.parse(await server.admin('app create', {
    owner: 'alice', name: 'PizzaClient', 'callback-url': callbackURL,
    'grant-types': 'authorization_code,refresh_token,implicit',
  }));
  return app.production;
}

// test adds a callback server to the server fixture.
const test = serverTest.extend({
  callback: async ({}, use) => {
    const cb = await startCallback();
    await use(cb);
    await cb.close();
  },
});

function authorizeURL(server, key, params) {
  const q = new URLSearchParams({ client_id: key, ...params });
  return `${server.https}/authorize?${q}`;
}

async function logIn(page) {
  await expect(page.getByRole('heading', { name: 'Log in' })).toBeVisible();
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('alice-password');
  await page.getByRole('button', { name: 'Log in' }).click();
}

test('log in, approve, deny, remember, and revoke access', async ({ server, page, callback }) => {
  const { consumer_key: key, consumer_secret: secret } = await setUp(server, callback.url);
  const consoleErrors = watchConsole(page);

  // Anonymous: the store's log-in page first, then back to the consent page.
  await page.goto(authorizeURL(server, key, { response_type: 'code', scope: 'read', state: 's1' }));
  await logIn(page);
  await expect(page.getByRole('heading', { name: 'Authorize PizzaClient' })).toBeVisible();
  await expect(page.getByTestId('app-owner')).toHaveText('alice');
  await expect(page.getByText('Read orders')).toBeVisible();
  await expectFits(page);
  // The checkbox sits beside its label, not on a line of its own above it.
  const box = await page.getByRole('checkbox', { name: 'Remember my decision' }).boundingBox();
  const label = await page.getByText('Remember my decision').boundingBox();
  expect(Math.abs((box.y + box.height / 2) - (label.y + label.height / 2))).toBeLessThan(label.height / 2);
  expect(consoleErrors).toEqual([]); // the store's log-in page and the consent page

  // Approve: the callback gets a code and the state.
  await page.getByRole('button', { name: 'Approve' }).click();
  await expect(page.getByRole('heading', { name: 'Client callback' })).toBeVisible();
  let url = new URL(page.url());
  expect(url.origin + url.pathname).toBe(callback.url);
  expect(url.searchParams.get('code')).toBeTruthy();
  expect(url.searchParams.get('state')).toBe('s1');

  // Deny: access_denied with the state.
  await page.goto(authorizeURL(server, key, { response_type: 'code', scope: 'read', state: 's2' }));
  await page.getByRole('button', { name: 'Deny' }).click();
  await expect(page.getByRole('heading', { name: 'Client callback' })).toBeVisible();
  url = new URL(page.url());
  expect(url.searchParams.get('error')).toBe('access_denied');
  expect(url.searchParams.get('state')).toBe('s2');
  expect(url.searchParams.get('code')).toBeNull();

  // Remember my decision: the next request goes straight to the callback.
  await page.goto(authorizeURL(server, key, { response_type: 'token', scope: 'read', state: 's3' }));
  await page.getByLabel('Remember my decision').check();
  await page.getByRole('button', { name: 'Approve' }).click();
  await expect(page.getByRole('heading', { name: 'Client callback' })).toBeVisible();
  const fragment = new URLSearchParams(new URL(page.url()).hash.slice(1));
  expect(fragment.get('access_token')).toBeTruthy();
  expect(fragment.get('refresh_token')).toBeNull();
  expect(fragment.get('state')).toBe('s3');

  // The WSO2 docs' implicit revocation: client_id alone, ;charset=UTF-8.
  const revoked = await fetch(`${server.http}/revoke`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded;charset=UTF-8' },
    body: `token=${fragment.get('access_token')}&token_type_hint=access_token&client_id=${key}`,
  });
  expect(revoked.status).toBe(200);
  expect(revoked.headers.get('revokedaccesstoken')).toBe(fragment.get('access_token'));
  expect(revoked.headers.get('authorizeduser')).toBe('alice@carbon.super');

  await page.goto(authorizeURL(server, key, { response_type: 'code', scope: 'read', state: 's4' }));
  await expect(page.getByRole('heading', { name: 'Client callback' })).toBeVisible();
  const code = new URL(page.url()).searchParams.get('code');
  const tokens = await (await fetch(`${server.http}/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, client_id: key, client_secret: secret }),
  })).json();
  expect(tokens.refresh_token).toBeTruthy();

  // Authorized applications: listed, then Revoke access ends it all.
  await page.goto(`${server.store}/authorized`);
  await expect(page.getByRole('heading', { name: 'Authorized applications' })).toBeVisible();
  const row = page.getByRole('row', { name: /PizzaClient/ });
  await expect(row).toContainText('remembered');
  await expectFits(page);
  await row.getByRole('link', { name: 'Revoke access' }).click();
  await expect(page.getByRole('heading', { name: 'Revoke access of PizzaClient?' })).toBeVisible();
  await page.getByRole('button', { name: 'Revoke access' }).click();
  await expect(page.getByRole('status')).toContainText('Access revoked');
  await expect(page.getByRole('row', { name: /PizzaClient/ })).toHaveCount(0);

  // The code's tokens ended with it, and the consent page asks again.
  const introspection = await fetch(`${server.http}/introspect`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: tokens.access_token, client_id: key, client_secret: secret }),
  });
  expect(await introspection.json()).toEqual({ active: false });
  await page.goto(authorizeURL(server, key, { response_type: 'code', scope: 'read' }));
  await expect(page.getByRole('button', { name: 'Approve' })).toBeVisible();
});

test('a bad client_id or redirect_uri shows an error page and never redirects', async ({ server, page, callback }) => {
  const { consumer_key: key, consumer_secret: secret } = await setUp(server, callback.url);
  for (const params of [
    { response_type: 'code', client_id: 'nobody', redirect_uri: callback.url },
    { response_type: 'code', redirect_uri: 'https://evil.example/cb' },
  ]) {
    const resp = await page.goto(authorizeURL(server, key, params));
    expect(resp.status()).toBe(400);
    expect(new URL(page.url()).pathname).toBe('/authorize');
    await expect(page.getByText('This authorization request cannot be handled')).toBeVisible();
  }
});

test('the header\'s Sign up keeps the way back to the consent page, and a consent form is answered once', async ({ server, page, callback }) => {
  const { consumer_key: key } = await setUp(server, callback.url);
  const consoleErrors = watchConsole(page);

  // Sent to log in from /authorize, a newcomer takes the header's Sign up.
  await page.goto(authorizeURL(server, key, { response_type: 'code', scope: 'read', state: 'first' }));
  await expect(page.getByRole('heading', { name: 'Log in' })).toBeVisible();
  await page.getByRole('banner').getByRole('link', { name: 'Sign up' }).click();
  await page.getByLabel('Username').fill('newcomer');
  await page.getByLabel('Password', { exact: true }).fill('newcomer-password');
  await page.getByLabel('Password again').fill('newcomer-password');
  await page.getByLabel('Email').fill('newcomer@example.com');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await expect(page.getByRole('heading', { name: 'Authorize PizzaClient' })).toBeVisible();

  // Approve, then Back: the request is not asked, nor answered, again.
  await page.getByRole('button', { name: 'Approve' }).click();
  await expect(page.getByRole('heading', { name: 'Client callback' })).toBeVisible();
  expect(new URL(page.url()).searchParams.get('code')).toBeTruthy();
  await page.goBack();
  await expect(page.getByText('You have answered this request already.')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Approve' })).toHaveCount(0);
  expect(new URL(page.url()).origin).toBe(new URL(server.https).origin);
  expect(consoleErrors).toEqual([]);
});
