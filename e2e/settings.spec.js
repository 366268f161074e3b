// The administrators' Tiers and Scopes pages in a real browser: a tier
// added with the form, a default tier's limit changed and given back, a
// scope registered for some roles then opened to any user, mistakes shown
// at their fields, and the pages on a phone.
const { test, expect, logIn } = require('./server');
const { expectFits, watchConsole } = require('./layout');

test('an administrator adds a tier and sets a default tier\'s limit on the Tiers page', async ({ server, page }) => {
  const consoleErrors = watchConsole(page);
  await server.admin('user create', { username: 'root', password: 'root-password-1', role: 'subscriber,admin' });
  await logIn(page, server, 'root', 'root-password-1');
  await page.getByRole('link', { name: 'Tiers' }).click();
  await expect(page).toHaveURL(/\/store\/admin\/tiers$/);
  await expect(page.getByTestId('tier-Gold')).toContainText("the gateway's --tier-gold");

  // A mistake is shown at its field, what was typed kept.
  await page.getByLabel('Name', { exact: true }).fill('Platinum');
  await page.getByLabel('Requests per minute').fill('-5');
  await page.getByRole('button', { name: 'Save tier' }).click();
  await expect(page.getByText('Requests per minute, 0 (unlimited) to 100000000')).toBeVisible();
  await expect(page.getByLabel('Name', { exact: true })).toHaveValue('Platinum');

  await page.getByLabel('Requests per minute').fill('600');
  await page.getByLabel('Description').fill('For partners');
  await page.getByRole('button', { name: 'Save tier' }).click();
  await expect(page.getByRole('status')).toContainText('Tier Platinum: 600 requests per minute.');
  await expect(page.getByTestId('tier-Platinum')).toContainText('600 requests per minute');
  await expect(page.getByTestId('tier-Platinum')).toContainText('For partners');

  // Change fills the form in; the limit set is the tenant's until given back.
  await page.getByTestId('tier-Gold').getByRole('link', { name: 'Change' }).click();
  await expect(page.getByLabel('Name', { exact: true })).toHaveValue('Gold');
  await page.getByLabel('Requests per minute').fill('30');
  await page.getByRole('button', { name: 'Save tier' }).click();
  await expect(page.getByTestId('tier-Gold')).toContainText('30 requests per minute');
  await page.getByTestId('tier-Gold').getByRole('button', { name: "Use the gateway's limit" }).click();
  await expect(page.getByRole('status')).toContainText("Tier Gold has the gateway's limit again.");
  await expect(page.getByTestId('tier-Gold')).toContainText("the gateway's --tier-gold");

  await page.getByTestId('tier-Platinum').getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByTestId('tier-Platinum')).toHaveCount(0);
  await expectFits(page);
  expect(consoleErrors).toEqual([]);
});

test('an administrator registers a scope for some roles and opens it to anyone on the Scopes page', async ({ server, page }) => {
  const consoleErrors = watchConsole(page);
  await server.admin('user create', { username: 'root', password: 'root-password-1', role: 'subscriber,admin' });
  await logIn(page, server, 'root', 'root-password-1');
  await page.getByRole('link', { name: 'Scopes' }).click();
  await expect(page).toHaveURL(/\/store\/admin\/scopes$/);

  await page.getByLabel('Name', { exact: true }).fill('orders:write');
  await page.getByLabel('Roles').fill('partner, no way!');
  await page.getByRole('button', { name: 'Save scope' }).click();
  await expect(page.getByText('"way!" is not a role name')).toBeVisible();
  await expect(page.getByLabel('Name', { exact: true })).toHaveValue('orders:write');

  await page.getByLabel('Roles').fill('partner, admin');
  await page.getByLabel('Description').fill('Place orders');
  await page.getByRole('button', { name: 'Save scope' }).click();
  await expect(page.getByRole('status')).toContainText('Scope orders:write is saved: new tokens get it for users with the roles partner, admin.');
  await expect(page.getByTestId('scope-orders:write')).toContainText('partner, admin');

  await page.getByTestId('scope-orders:write').getByRole('link', { name: 'Change' }).click();
  await expect(page.getByLabel('Roles')).toHaveValue('partner, admin');
  await page.getByLabel('Roles').fill('');
  await page.getByRole('button', { name: 'Save scope' }).click();
  await expect(page.getByTestId('scope-orders:write')).toContainText('any user');
  await expectFits(page);
  expect(consoleErrors).toEqual([]);
});
