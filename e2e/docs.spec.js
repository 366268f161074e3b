// Issue 14, items 6 and 7, in a real browser: a publisher writes a
// documentation page in Markdown with hostile HTML in it, which the store
// shows formatted and harmless; a developer finds APIs by words and tags.
const path = require('node:path');
const { test, expect } = require('./server');
const { expectFits, watchConsole } = require('./layout');

test('documentation pages are shown sanitized; the API list searches and filters', async ({ server, page }) => {
  const consoleErrors = watchConsole(page);
  const dialogs = [];
  page.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss(); });
  await server.admin('user create', { username: 'root', password: 'root-password-1', role: 'subscriber,publisher' });
  await page.goto(server.store);
  await page.getByRole('link', { name: 'Log in' }).click();
  await page.getByLabel('Username').fill('root');
  await page.getByLabel('Password').fill('root-password-1');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByTestId('username')).toHaveText('root');

  // Tags on the Publisher's form.
  await page.getByRole('link', { name: 'Publisher' }).click();
  const row = page.getByTestId('publisher-/pizzashack-1.0.0');
  await row.getByRole('link', { name: 'Edit' }).click();
  await expect(page.getByLabel('Tags')).toHaveValue('food, sample');
  await page.getByLabel('Tags').fill('food, sample, Café');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('status')).toContainText('API PizzaShackAPI 1.0.0 saved.');

  // A how-to with everything a page must not run.
  await row.getByRole('link', { name: 'Documentation' }).click();
  await page.getByRole('link', { name: 'Add page' }).first().click();
  await page.getByLabel('Kind').selectOption({ label: 'How-to' });
  await page.getByLabel('Title').fill('Ordering a pizza');
  await page.getByLabel('Page (Markdown)').fill([
    '# Ordering',
    '',
    'Read the **menu** first, then `POST /order`.',
    '',
    '<script>alert("script")</script>',
    '',
    '<img src="x" onerror="alert(\'onerror\')">',
    '',
    '[Click me](javascript:alert("link"))',
    '',
    '| size | price |',
    '| --- | --- |',
    '| large | 12 |',
    '',
    'More at [the pizza site](https://pizza.example.com/docs).',
  ].join('\n'));
  await page.getByRole('button', { name: 'Add page' }).click();
  await expect(page.getByRole('status')).toContainText('Documentation page "Ordering a pizza" added.');
  await page.getByRole('link', { name: 'Add page' }).first().click();
  await page.getByLabel('Kind').selectOption({ label: 'External documentation' });
  await page.getByLabel('Title').fill('Reference');
  await page.getByLabel('Link').fill('https://pizza.example.com/reference');
  await page.getByRole('button', { name: 'Add page' }).click();
  await expect(page.getByRole('cell', { name: 'Reference' })).toBeVisible();

  // The store's API page lists both; the how-to renders, harmless.
  await page.getByRole('link', { name: 'View the API\'s page' }).click();
  const docs = page.getByTestId('api-docs');
  await expect(docs.getByRole('link', { name: 'Reference' })).toHaveAttribute('rel', 'noopener noreferrer nofollow');
  await docs.getByRole('link', { name: 'Ordering a pizza' }).click();
  const body = page.getByTestId('doc-body');
  await expect(body.getByRole('heading', { name: 'Ordering' })).toBeVisible();
  await expect(body.getByRole('cell', { name: 'large' })).toBeVisible();
  await expect(body.getByRole('link', { name: 'the pizza site' })).toHaveAttribute('rel', 'nofollow noreferrer noopener');
  await expect(body.locator('script, img, [onerror]')).toHaveCount(0);
  await body.getByText('Click me').click();
  expect(dialogs).toEqual([]);

  // The list: words, a tag, and both.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'APIs' }).click();
  await page.getByLabel('Search APIs').fill('CAFE menu');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page.getByTestId('search-summary')).toContainText('1 API matches.');
  await expect(page.getByRole('heading', { name: 'PizzaShackAPI' })).toBeVisible();
  await page.getByLabel('Search APIs').fill('"nothing" OR *');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page.getByTestId('search-summary')).toContainText('No API matches.');
  await page.getByRole('link', { name: 'Show every API' }).click();
  await page.getByRole('navigation', { name: 'Filter by tag' }).getByRole('link', { name: /^café/ }).click();
  await expect(page).toHaveURL(/tag=caf%C3%A9/);
  await expect(page.getByRole('heading', { name: 'PizzaShackAPI' })).toBeVisible();
  await expectFits(page);
  await page.screenshot({
    path: process.env.UPDATE_SCREENSHOTS
      ? path.resolve(__dirname, '..', 'docs', 'store-search.png')
      : test.info().outputPath('store-search.png'),
    fullPage: true,
  });
  expect(consoleErrors).toEqual([]);
});
