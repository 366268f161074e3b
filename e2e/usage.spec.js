// The application's Usage page in a real browser (issue 15): after known
// gateway calls, its charts are drawn (uPlot canvases with the series of
// their tables) in the browser's time zone, its tables hold the counts, it
// fits a phone and nothing fails in the console. The Publisher's page of
// the API and the administrators' page count the same calls, and the
// administrators' the token and the failed log-in before them.
const path = require('node:path');
const { test, expect } = require('./server');
const { expectFits, contrast, watchConsole } = require('./layout');

// A zone away from UTC: the page is shown again in it.
test.use({ timezoneId: 'Europe/Paris' });

const basic = (key, secret) => 'Basic ' + Buffer.from(`${key}:${secret}`).toString('base64');

// subscribeAndCall subscribes the application of the user logged in to
// PizzaShackAPI (Gold), then calls it with a client_credentials token: menus
// answered, orders refused for want of the scope read.
async function subscribeAndCall(server, page, request, app, menus, orders) {
  await page.getByRole('link', { name: 'APIs', exact: true }).click();
  await page.getByRole('link', { name: 'PizzaShackAPI' }).click();
  await page.getByLabel('Application').selectOption({ label: 'PizzaApp' });
  await page.getByLabel('Tier').selectOption('Gold');
  await page.getByRole('button', { name: 'Subscribe', exact: true }).click();
  await expect(page.locator('p.flash')).toContainText('PizzaApp is subscribed to PizzaShackAPI 1.0.0');
  const resp = await request.post(`${server.https}/token`, {
    headers: { Authorization: basic(app.production.consumer_key, app.production.consumer_secret) },
    form: { grant_type: 'client_credentials' },
  });
  expect(resp.status()).toBe(200);
  const token = (await resp.json()).access_token;
  const call = (p) => request.get(`${server.https}/pizzashack/1.0.0${p}`, { headers: { Authorization: `Bearer ${token}` } });
  for (let i = 0; i < menus; i++) expect((await call('/menu')).status()).toBe(200);
  for (let i = 0; i < orders; i++) expect((await call('/order/1')).status()).toBe(403);
}

test('the Usage page charts the gateway calls of an application', async ({ server, page, request }) => {
  const consoleErrors = watchConsole(page);
  await server.admin('user create', { username: 'alice', password: 'alice-password-1' });
  const app = JSON.parse(await server.admin('app create', { owner: 'alice', name: 'PizzaApp' }));

  await page.goto(`${server.store}/login`);
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('alice-password-1');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByTestId('username')).toHaveText('alice');
  // Six menus, two orders refused for want of the scope read.
  await subscribeAndCall(server, page, request, app, 6, 2);

  await page.getByRole('link', { name: 'My Applications' }).click();
  await page.getByRole('row', { name: /PizzaApp/ }).getByRole('link', { name: 'Usage' }).click();
  // The page comes back in the browser's zone.
  await expect(page).toHaveURL(/tz=Europe%2FParis/);
  await expect(page.getByTestId('showing')).toContainText('(Europe/Paris), per hour');
  // The usage writer commits within a second.
  const calls = page.getByTestId('totals').getByRole('row', { name: /^Calls/ });
  await expect(async () => {
    await page.reload();
    await expect(calls).toContainText('8', { timeout: 500 });
  }).toPass({ timeout: 10_000 });
  await expect(page.getByTestId('totals').getByRole('row', { name: /Missing scope/ })).toContainText('2');

  // Five charts, each a canvas with its series named in the legend.
  const charts = page.locator('div[data-chart]');
  await expect(charts).toHaveCount(5);
  for (const id of ['calls-by-api', 'calls-by-key-type', 'answers-by-status', 'refusals-by-fault', 'latency']) {
    await expect(page.locator(`div[data-chart="${id}"] canvas`)).toBeVisible();
  }
  await expect(page.locator('div[data-chart="calls-by-api"] .u-legend')).toContainText('PizzaShackAPI 1.0.0');
  // The line of the calls is drawn: the plot has pixels of the first colour.
  const drawn = await page.locator('div[data-chart="calls-by-api"] canvas').evaluate((canvas) => {
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    let n = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (Math.abs(data[i] - 0x1f) < 24 && Math.abs(data[i + 1] - 0x5f) < 24 && Math.abs(data[i + 2] - 0xbf) < 24 && data[i + 3] > 200) n++;
    }
    return n;
  });
  expect(drawn).toBeGreaterThan(10);
  await page.setViewportSize({ width: 1100, height: 1300 });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({
    path: process.env.UPDATE_SCREENSHOTS
      ? path.resolve(__dirname, '..', 'docs', 'store-usage.png')
      : test.info().outputPath('store-usage.png'),
  });
  // The table behind a chart holds its numbers, in the browser's hours.
  await page.getByText('Table of Calls by API').click();
  const table = page.getByTestId('calls-by-api');
  await expect(table.getByRole('columnheader', { name: 'PizzaShackAPI 1.0.0' })).toBeVisible();
  await expect(table.getByRole('cell', { name: '8', exact: true })).toHaveCount(1);
  expect(await contrast(page.getByRole('heading', { name: 'Calls by API' }))).toBeGreaterThanOrEqual(4.5);

  // The CSV of a table is what it shows.
  const csv = await page.request.get(await page.getByRole('link', { name: 'Download CSV' }).first().getAttribute('href')
    .then((href) => new URL(href, page.url()).toString()));
  expect(csv.status()).toBe(200);
  expect(await csv.text()).toMatch(/^time,PizzaShackAPI 1\.0\.0\n/);

  await expectFits(page);
  // On a phone the charts follow the width.
  await page.setViewportSize({ width: 375, height: 740 });
  await expect.poll(() => page.locator('div[data-chart="latency"] canvas').evaluate((c) => c.getBoundingClientRect().width)).toBeLessThanOrEqual(375);
  expect(consoleErrors).toEqual([]);
});

// Each chart of the page is a canvas, drawn: it has pixels that are neither
// blank nor the background.
async function expectChartsDrawn(page, ids) {
  const charts = page.locator('div[data-chart]');
  await expect(charts).toHaveCount(ids.length);
  for (const id of ids) {
    const canvas = page.locator(`div[data-chart="${id}"] canvas`);
    await expect(canvas).toBeVisible();
    const inked = await canvas.evaluate((c) => {
      const { data } = c.getContext('2d').getImageData(0, 0, c.width, c.height);
      let n = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 0) n++;
      return n;
    });
    expect(inked, `pixels drawn in ${id}`).toBeGreaterThan(10);
  }
}

// The pixels of a chart in its first series' colour: its line is drawn.
const firstSeriesPixels = (page, id) => page.locator(`div[data-chart="${id}"] canvas`).evaluate((canvas) => {
  const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  let n = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (Math.abs(data[i] - 0x1f) < 24 && Math.abs(data[i + 1] - 0x5f) < 24 && Math.abs(data[i + 2] - 0xbf) < 24 && data[i + 3] > 200) n++;
  }
  return n;
});

// The column of a chart's table (shut in its <details>) holds n in one row
// and nothing else but zeros.
async function expectCount(page, table, column, n) {
  const values = await page.getByTestId(table).evaluate((t, column) => {
    const col = [...t.tHead.rows[0].cells].map((c) => c.textContent.trim()).indexOf(column);
    return col < 0 ? null : [...t.tBodies[0].rows].map((r) => r.cells[col].textContent.trim());
  }, column);
  expect(values, `${table} has a column ${column}`).not.toBeNull();
  expect(values.filter((v) => v !== '0' && v !== ''), `${table}, ${column}`).toEqual([String(n)]);
}

test('the Publisher\'s and the administrators\' Usage pages count the gateway calls', async ({ server, page, request }) => {
  const consoleErrors = watchConsole(page);
  await server.admin('user create', { username: 'root', password: 'root-password-1', role: 'subscriber,admin' });
  const app = JSON.parse(await server.admin('app create', { owner: 'root', name: 'PizzaApp' }));

  // One failed log-in, then in.
  await page.goto(`${server.store}/login`);
  await page.getByLabel('Username').fill('root');
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByLabel('Password')).toBeVisible();
  await page.getByLabel('Username').fill('root');
  await page.getByLabel('Password').fill('root-password-1');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByTestId('username')).toHaveText('root');
  // One token; five menus, three orders refused.
  await subscribeAndCall(server, page, request, app, 5, 3);

  // The Publisher's page of the API.
  await page.getByRole('link', { name: 'Publisher' }).click();
  await page.getByRole('row', { name: /PizzaShackAPI/ }).getByRole('link', { name: 'Usage' }).click();
  await expect(page.getByRole('heading', { name: 'Usage of PizzaShackAPI 1.0.0' })).toBeVisible();
  // The usage writer commits within a second.
  const calls = page.getByTestId('totals').getByRole('row', { name: /^Calls/ });
  await expect(async () => {
    await page.reload();
    await expect(calls).toContainText('8', { timeout: 500 });
  }).toPass({ timeout: 10_000 });
  await expect(page.getByTestId('totals').getByRole('row', { name: /^2xx/ })).toContainText('5');
  await expect(page.getByTestId('totals').getByRole('row', { name: /^4xx/ })).toContainText('3');
  await expect(page.getByTestId('totals').getByRole('row', { name: /Missing scope/ })).toContainText('3');
  await expectCount(page, 'calls-by-application', 'PizzaApp (root)', 8);
  await expectCount(page, 'calls-by-user', 'root', 8);
  await expectCount(page, 'calls-by-tier', 'Gold', 8);
  await expectCount(page, 'calls-by-key-type', 'PRODUCTION', 8);
  await expectCount(page, 'answers-by-status', '4xx', 3);
  await expectChartsDrawn(page, await page.locator('div[data-chart]').evaluateAll((ds) => ds.map((d) => d.dataset.chart)));
  expect(await firstSeriesPixels(page, 'calls-by-application')).toBeGreaterThan(10);
  for (const id of ['calls-by-application', 'calls-by-user', 'calls-by-tier', 'calls-by-key-type', 'answers-by-status', 'latency', 'subscriptions']) {
    await expect(page.locator(`div[data-chart="${id}"]`)).toHaveCount(1);
  }

  // The administrators' page.
  await page.getByRole('link', { name: 'Usage', exact: true }).click();
  await expect(page).toHaveURL(/\/store\/admin\/usage/);
  await expect(page.getByRole('heading', { name: 'Platform usage' })).toBeVisible();
  await expect(page.getByTestId('totals').getByRole('row', { name: /^Calls/ })).toContainText('8');
  await expect(page.getByTestId('totals').getByRole('row', { name: /^5xx/ })).toContainText('0');
  await expectCount(page, 'calls-by-api', 'PizzaShackAPI 1.0.0', 8);
  await expectCount(page, 'calls-by-key-type', 'PRODUCTION', 8);
  await expectCount(page, 'answers-by-status', '2xx', 5);
  await expectCount(page, 'tokens-issued', 'client_credentials', 1);
  await expectCount(page, 'failed-logins', 'Failed log-ins', 1);
  const top = page.getByTestId('top-applications').getByRole('row', { name: /PizzaApp \(root\)/ });
  await expect(top.getByRole('cell')).toHaveText(['PizzaApp (root)', '8', '3']);
  await expectChartsDrawn(page, await page.locator('div[data-chart]').evaluateAll((ds) => ds.map((d) => d.dataset.chart)));
  expect(await firstSeriesPixels(page, 'calls-by-api')).toBeGreaterThan(10);
  expect(await firstSeriesPixels(page, 'tokens-issued')).toBeGreaterThan(10);
  for (const id of ['calls-by-api', 'calls-by-key-type', 'answers-by-status', 'refusals-by-fault', 'tokens-issued', 'failed-logins']) {
    await expect(page.locator(`div[data-chart="${id}"]`)).toHaveCount(1);
  }
  expect(consoleErrors).toEqual([]);
});
