// Issue 16 (tenants) in a real browser: a tenant's store at
// /t/acme.com/store shows the tenant's APIs and not the super tenant's,
// its log-in takes the bare name, and the tenant's administrator publishes
// an API in the Publisher, under /t/acme.com/, which the super tenant's
// store does not show, on the tenant's own tier; the tenant's administrator's
// Users and Audit pages show the tenant's users and events alone.
const { execFileSync } = require('node:child_process');
const { test, expect } = require('./server');

// tenantCreate runs `apistore tenant create` on the server's data dir,
// the administrator's password on standard input.
function tenantCreate(server, domain, admin, password) {
  execFileSync(process.env.APISTORE_BIN, ['tenant', 'create', '--data-dir', server.dataDir, '--domain', domain, '--admin', admin],
    { input: `${password}\n` });
}

test("a tenant's store and a tenant admin's Publisher, Users and Audit", async ({ server, page }) => {
  tenantCreate(server, 'acme.com', 'admin', 'acme-admin-password');
  execFileSync(process.env.APISTORE_BIN, ['tier', 'set', '--data-dir', server.dataDir, '--tenant', 'acme.com',
    '--name', 'Platinum', '--rpm', '10000']);
  await server.admin('user create', { username: 'alice', password: 'alice-super-password' });
  const origin = new URL(server.store).origin; // server.store is the super tenant's, …/store

  // The tenant's store: the super tenant's sample API is not there.
  await page.goto(`${origin}/t/acme.com/store`);
  await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
  await expect(page.getByText('PizzaShackAPI')).toHaveCount(0);

  // The tenant's log-in: a bare name is the tenant's user's.
  await page.goto(`${origin}/t/acme.com/store/login`);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill('acme-admin-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByTestId('username')).toHaveText('admin@acme.com');

  // The Publisher lists no API of another tenant, and puts the new one under /t/acme.com/.
  await page.getByRole('link', { name: 'Publisher' }).click();
  await expect(page.getByText('PizzaShackAPI')).toHaveCount(0);
  await page.getByRole('link', { name: 'Create API' }).first().click(); // the empty list offers it twice
  await page.getByLabel('Name').fill('AcmeOrders');
  await page.getByLabel('Version').fill('v1');
  await page.getByLabel('Context').fill('/orders');
  await page.getByLabel('Production endpoint URL').fill('https://backend.example');
  await page.getByLabel('Resources').fill('GET /items');
  await page.getByLabel('Platinum').check(); // the tenant's own tier
  await page.getByRole('button', { name: 'Create API' }).click();
  await expect(page.getByRole('status')).toContainText('API AcmeOrders v1 published.');
  await expect(page.getByRole('row', { name: /AcmeOrders/ })).toContainText('/t/acme.com/orders/v1');

  // The tenant's catalogue has it; the super tenant's store, seen by a
  // visitor, does not.
  await page.getByRole('link', { name: 'APIs', exact: true }).click();
  await expect(page.getByRole('link', { name: 'AcmeOrders' }).first()).toBeVisible();
  await expect(page.getByText('PizzaShackAPI')).toHaveCount(0);

  // The tenant's users and audit trail, without the super tenant's alice.
  await page.getByRole('link', { name: 'Users', exact: true }).click();
  await expect(page.getByTestId('user-admin@acme.com')).toBeVisible();
  await expect(page.getByTestId('user-alice')).toHaveCount(0);
  await page.getByRole('link', { name: 'Audit', exact: true }).click();
  const events = page.getByTestId('audit-event');
  await expect(events.filter({ hasText: 'admin@acme.com' }).first()).toBeVisible();
  await expect(events.filter({ hasText: 'alice' })).toHaveCount(0);
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.goto(`${origin}/store`);
  await expect(page.getByText('PizzaShackAPI').first()).toBeVisible();
  await expect(page.getByText('AcmeOrders')).toHaveCount(0);
  await page.goto(`${origin}/t/acme.com/store`);
  await expect(page.getByText('AcmeOrders').first()).toBeVisible();
});
