// Issue 5 in a real browser: publish an API on the Publisher page,
// subscribe to it, generate keys, and call it through the gateway with the
// token the page shows; then retire it.
const http = require('node:http');
const { test, expect } = require('./server');

// startBackend serves the published API's backend on loopback: it answers
// with what it received, so the test sees what the gateway forwarded.
async function startBackend() {
  const srv = http.createServer((req, res) => {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ path: req.url, method: req.method, authorization: req.headers.authorization ?? null }));
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${srv.address().port}`, close: () => new Promise((r) => srv.close(r)) };
}

test('publish an API, subscribe, generate keys, call it through the gateway', async ({ server, page, request }) => {
  const backend = await startBackend();
  try {
    await server.admin('user create', { username: 'root', password: 'root-password-1', role: 'subscriber,admin' });
    await page.goto(server.store);
    await page.getByRole('link', { name: 'Log in' }).click();
    await page.getByLabel('Username').fill('root');
    await page.getByLabel('Password').fill('root-password-1');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect(page.getByTestId('username')).toHaveText('root');

    // Publish on the Publisher page; a mistake first gets a message on the field.
    await page.getByRole('link', { name: 'Publisher' }).click();
    await page.getByRole('link', { name: 'Create API' }).click();
    // Name, Version and Context share a row, their boxes on one line.
    const tops = await Promise.all(['Name', 'Version', 'Context'].map(async (l) => (await page.getByLabel(l).boundingBox()).y));
    expect(new Set(tops).size, `input tops ${tops}`).toBe(1);
    await page.getByLabel('Name').fill('Echo');
    await page.getByLabel('Version').fill('v1');
    await page.getByLabel('Context').fill('echo');
    await page.getByLabel('Production endpoint URL').fill(`${backend.url}/base`);
    await page.getByLabel('Resources').fill('GET /hello\nPOST /notes notes.write');
    await page.getByRole('button', { name: 'Create API' }).click();
    await expect(page.getByText('it must start with /')).toBeVisible();
    await expect(page.getByLabel('Name')).toHaveValue('Echo');
    // notes.write is a new scope: the page asks who may be granted it.
    await expect(page.getByText('The resources add the scope notes.write: choose who may be granted it.')).toBeVisible();
    await page.getByLabel('Only users with the roles below').check();
    await page.getByLabel('Roles for new scopes').fill('admin');
    await page.getByLabel('Context').fill('/echo');
    await page.getByRole('button', { name: 'Create API' }).click();
    await expect(page.getByRole('status')).toContainText('API Echo v1 published. New scope notes.write: users with the role admin.');
    await expect(page.getByRole('row', { name: /Echo/ })).toContainText('/echo/v1');

    // Subscribe an application, generate production keys.
    await page.getByRole('link', { name: 'My Applications' }).click();
    await page.getByRole('link', { name: 'Add application' }).click();
    await page.getByLabel('Name').fill('EchoApp');
    await page.getByRole('button', { name: 'Add application' }).click();
    await page.getByRole('link', { name: 'APIs', exact: true }).click();
    await page.getByRole('link', { name: 'Echo' }).first().click();
    await page.getByLabel('Application').selectOption({ label: 'EchoApp' });
    await page.getByLabel('Tier').selectOption('Gold');
    await page.getByRole('button', { name: 'Subscribe', exact: true }).click();
    await expect(page.getByRole('status')).toContainText('EchoApp is subscribed to Echo v1');
    await page.getByRole('link', { name: 'My Subscriptions' }).click();
    await page.getByLabel('Application').selectOption({ label: 'EchoApp' });
    await page.getByRole('button', { name: 'Show' }).click();
    await page.getByTestId('production-panel').getByRole('button', { name: 'Generate' }).click();
    const token = await page.getByTestId('production-access-token').innerText();

    // Call it through the gateway, on both of its ports.
    const bearer = { Authorization: `Bearer ${token}` };
    for (const base of [server.https, server.http]) {
      const resp = await request.get(`${base}/echo/v1/hello?name=pizza`, { headers: bearer });
      expect(resp.status()).toBe(200);
      expect(await resp.json()).toEqual({ path: '/base/hello?name=pizza', method: 'GET', authorization: null });
    }
    // The application token has no notes.write scope; no token at all is 401.
    let resp = await request.post(`${server.https}/echo/v1/notes`, { headers: bearer });
    expect(resp.status()).toBe(403);
    expect((await resp.json()).fault.code).toBe(900910);
    expect(resp.headers()['www-authenticate']).toContain('insufficient_scope');
    resp = await request.get(`${server.https}/echo/v1/hello`);
    expect(resp.status()).toBe(401);
    expect((await resp.json()).fault.code).toBe(900902);

    // Re-generate on the page: the old token is refused by the very next call.
    await page.getByRole('link', { name: 'My Subscriptions' }).click();
    await page.getByLabel('Application').selectOption({ label: 'EchoApp' });
    await page.getByRole('button', { name: 'Show' }).click();
    await page.getByTestId('production-panel').getByRole('link', { name: 'Re-generate' }).click();
    await page.getByRole('button', { name: 'Re-generate' }).click();
    const newToken = await page.getByTestId('production-access-token').innerText();
    resp = await request.get(`${server.https}/echo/v1/hello`, { headers: bearer });
    expect(resp.status()).toBe(401);
    expect((await resp.json()).fault.code).toBe(900901);
    const newBearer = { Authorization: `Bearer ${newToken}` };
    resp = await request.get(`${server.https}/echo/v1/hello`, { headers: newBearer });
    expect(resp.status()).toBe(200);

    // Retire it on the Publisher page: the very next call is refused.
    await page.getByRole('link', { name: 'Publisher' }).click();
    await page.getByRole('row', { name: /Echo/ }).getByRole('button', { name: 'Retire' }).click();
    await expect(page.getByRole('status')).toContainText('API Echo v1 retired');
    resp = await request.get(`${server.https}/echo/v1/hello`, { headers: newBearer });
    expect(resp.status()).toBe(404);
    await page.getByRole('row', { name: /Echo/ }).getByRole('button', { name: 'Publish' }).click();
    await expect(page.getByRole('status')).toContainText('API Echo v1 published.');
    resp = await request.get(`${server.https}/echo/v1/hello`, { headers: newBearer });
    expect(resp.status()).toBe(200);

    // apistore user delete, run in another process, cuts access at once.
    await server.admin('user delete', { username: 'root' });
    resp = await request.get(`${server.https}/echo/v1/hello`, { headers: newBearer });
    expect(resp.status()).toBe(401);
  } finally {
    await backend.close();
  }
});
