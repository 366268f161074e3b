// The rough edges a newcomer hit in the store (issue 18), each in a real
// browser: the Audit page's filters, pages and event names; a form sent
// after logging out in another tab; the Publisher's resource errors and
// sample backend; the application picker, table buttons, keys panel, tier
// names and breadcrumb.
const { test, expect, logIn } = require('./server');
const { expectFits, watchConsole } = require('./layout');

// breaksInsideWords lists the places where the text of an element wraps to
// a new line after a character other than "_" (the only place an event name
// may break).
function breaksInsideWords(locator) {
  return locator.evaluate((el) => {
    const chars = [];
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (let i = 0; i < node.length; i++) {
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        chars.push({ ch: node.data[i], top: range.getBoundingClientRect().top });
      }
    }
    return chars.flatMap((c, i) => (i > 0 && c.top > chars[i - 1].top + 2 && chars[i - 1].ch !== '_'
      ? [`${el.textContent} breaks after "${chars[i - 1].ch}"`] : []));
  });
}

test('the Audit page: filters, pages beyond the latest 200, and event names that break between words', async ({ server, page }) => {
  test.setTimeout(120_000);
  await server.admin('user create', { username: 'root', password: 'root-password', role: 'subscriber,admin' });
  // 200 events of the command line, a few at a time.
  for (let i = 0; i < 200; i += 10) {
    await Promise.all(Array.from({ length: 10 }, (_, j) => server.admin('scope create', { name: `scope${i + j}` })));
  }
  const consoleErrors = watchConsole(page);
  await logIn(page, server, 'root', 'root-password');
  await page.getByRole('link', { name: 'Audit' }).click();
  const rows = page.getByTestId('audit-event');
  await expect(rows).toHaveCount(200);
  await page.getByRole('link', { name: 'Older events' }).click();
  await expect(rows).toHaveCount(2); // the oldest: user_created and the first scope's
  await expect(page.getByRole('link', { name: 'Older events' })).toHaveCount(0);
  await page.getByRole('link', { name: 'Newest events' }).click();
  await expect(rows).toHaveCount(200);

  // Filters: an event, a user, a time range; they stay in the address.
  await page.getByLabel('Event').selectOption('login');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText('root');
  expect(new URL(page.url()).searchParams.get('event')).toBe('login');
  await page.getByRole('link', { name: 'Clear' }).click();
  await page.getByLabel('User').fill('nobody');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page.getByText('No event matches the filter.')).toBeVisible();
  await page.getByLabel('User').fill('');
  await page.getByLabel('From (UTC)').fill('2000-01-01T00:00');
  await page.getByLabel('Until (UTC)').fill('2000-01-02T00:00');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page.getByText('No event matches the filter.')).toBeVisible();
  await page.getByLabel('Until (UTC)').fill('1999-01-01T00:00');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page.getByText('Give a time after From.')).toBeVisible();

  // On a phone the names wrap only after an underscore.
  await page.goto(`${server.store}/admin/audit`);
  await page.setViewportSize({ width: 375, height: 740 });
  const names = page.locator('code.event');
  const broken = [];
  for (const name of (await names.all()).slice(0, 20)) broken.push(...await breaksInsideWords(name));
  expect(broken).toEqual([]);
  await expectFits(page);
  expect(consoleErrors).toEqual([]);
});

test('a form sent after logging out in another tab keeps what was typed', async ({ server, page, context }) => {
  await server.admin('user create', { username: 'alice', password: 'alice-password' });
  await logIn(page, server, 'alice', 'alice-password');
  await page.goto(`${server.store}/applications/new`);
  await page.getByLabel('Name').fill('Typed before logging out');
  await page.getByLabel('Description').fill('Two lines\nof description');

  const other = await context.newPage();
  await other.goto(`${server.store}/applications`);
  await other.getByRole('button', { name: 'Log out' }).click();
  await expect(other.getByTestId('username')).toHaveCount(0);

  await page.getByRole('button', { name: 'Add application' }).click();
  await expect(page.getByText('You are no longer logged in')).toBeVisible();
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('alice-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('heading', { name: 'Send your form again' })).toBeVisible();
  await expect(page.getByTestId('kept')).toContainText('Typed before logging out');
  await expect(page.getByTestId('kept')).toContainText('Two lines\nof description');
  await expectFits(page);
  await page.getByRole('button', { name: 'Send again' }).click();
  await expect(page.getByRole('status')).toContainText('added');
  await page.goto(`${server.store}/applications`);
  await expect(page.getByRole('cell', { name: 'Typed before logging out' })).toBeVisible();
});

test('the Publisher: every bad resource line at once, the sample backend named, Edit and Retire apart', async ({ server, page }) => {
  await server.admin('user create', { username: 'root', password: 'root-password', role: 'subscriber,admin' });
  await logIn(page, server, 'root', 'root-password');
  await page.getByRole('link', { name: 'Publisher' }).click();

  // The sample API's endpoint is the built-in backend, said as such.
  const sample = page.getByRole('row', { name: /PizzaShackAPI/ });
  await expect(sample.getByText('built-in sample backend').first()).toBeVisible();
  await expect(sample.getByText('http://pizzashack.apistore.internal').first()).toBeVisible();
  const edit = await sample.getByRole('link', { name: 'Edit' }).boundingBox();
  const retire = await sample.getByRole('button', { name: 'Retire' }).boundingBox();
  expect(retire.x - (edit.x + edit.width), 'the gap between Edit and Retire').toBeGreaterThanOrEqual(6);

  await page.getByRole('link', { name: 'Create API' }).click();
  await page.getByLabel('Name').fill('Echo');
  await page.getByLabel('Version').fill('v1');
  await page.getByLabel('Context').fill('/echo');
  await page.getByLabel('Production endpoint URL').fill('https://echo.example.com');
  await page.getByLabel('Resources').fill('GET /ok\nGET\nFETCH /x\nGET /a/{id}/{id}\nGET /ok');
  await page.getByRole('button', { name: 'Create API' }).click();
  const errors = page.locator('#e-f-resources');
  for (const line of ['Line 2: write METHOD /path', 'Line 3: resource FETCH /x: unknown method',
    'Line 4: resource GET /a/{id}/{id}: the parameter {id} appears twice', 'Line 5: resource GET /ok is listed on line 1 already']) {
    await expect(errors).toContainText(line);
  }
  // One message a line.
  expect((await errors.innerText()).split('\n')).toHaveLength(4);
});

test('keys and subscriptions: a long application name, the expiry once, the two tiers, the breadcrumb', async ({ server, page }) => {
  const long = 'An application with a rather long name for the picker';
  await server.admin('user create', { username: 'alice', password: 'alice-password' });
  await server.admin('app create', { owner: 'alice', name: 'Short' });
  const consoleErrors = watchConsole(page);
  await logIn(page, server, 'alice', 'alice-password');
  await page.goto(`${server.store}/applications/new`);
  await page.getByLabel('Name').fill(long);
  await page.getByRole('button', { name: 'Add application' }).click();
  await expect(page.getByRole('status')).toContainText('added');

  // The API page: the breadcrumb names it; the picker shows whole names.
  await page.goto(server.store);
  await page.getByRole('link', { name: 'PizzaShackAPI' }).first().click();
  await expect(page.getByRole('navigation', { name: 'Breadcrumb' })).toHaveText('APIs / PizzaShackAPI 1.0.0');
  const picker = page.getByLabel('Application');
  await picker.selectOption({ label: long });
  const fitsName = () => picker.evaluate((select) => {
    const probe = document.createElement('span');
    probe.style.font = getComputedStyle(select).font;
    probe.style.whiteSpace = 'nowrap';
    probe.textContent = select.selectedOptions[0].text;
    document.body.append(probe);
    const need = probe.getBoundingClientRect().width;
    probe.remove();
    return select.clientWidth >= need;
  });
  expect(await fitsName(), 'the API page\'s picker shows the whole name').toBe(true);
  await page.getByLabel('Subscription tier').selectOption('Gold');
  await page.getByRole('button', { name: 'Subscribe', exact: true }).click();
  await expect(page.getByRole('columnheader', { name: 'Subscription tier' })).toBeVisible();

  // My Subscriptions: the same picker, the tiers named, the expiry said once.
  await page.getByRole('link', { name: 'My Subscriptions' }).click();
  await picker.selectOption({ label: long });
  await page.getByRole('button', { name: 'Show' }).click();
  expect(await fitsName(), 'My Subscriptions\' picker shows the whole name').toBe(true);
  await expect(page.getByTestId('app-tier')).toHaveText('Unlimited');
  await expect(page.locator('.lead')).toContainText('whose application tier is Unlimited; the gateway limits calls by each subscription\'s own tier');
  await expect(page.getByRole('row', { name: /PizzaShackAPI/ })).toContainText('Gold');
  const production = page.getByTestId('production-panel');
  await production.getByRole('button', { name: 'Generate' }).click();
  await expect(production.getByText('shown once')).toBeVisible();
  await expect(production.getByText(/expires/)).toHaveCount(1);
  await expectFits(page);
  expect(consoleErrors).toEqual([]);
});
