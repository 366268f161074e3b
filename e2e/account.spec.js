// Accounts in a real browser (issue 18): My account (sessions, email,
// password, deleting the account), a forgotten password by mail and with an
// administrator's reset link, and the administrators' Users page with the
// audit trail it fills.
const path = require('node:path');
const { test, expect } = require('./server');
const { expectFits, watchConsole } = require('./layout');
const { startMailbox } = require('./mailbox');

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0';
const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1';

// screenshot saves a page for the README with UPDATE_SCREENSHOTS=1, and
// among the test's results otherwise.
async function screenshot(page, name) {
  await page.screenshot({
    path: process.env.UPDATE_SCREENSHOTS ? path.resolve(__dirname, '..', 'docs', name) : test.info().outputPath(name),
    fullPage: true,
  });
}

// browse opens a page in a browser of its own (cookies and all).
async function browse(browser, userAgent) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, userAgent });
  return { context, page: await context.newPage() };
}

// logIn logs a page in on the store.
async function logIn(page, server, username, password) {
  await page.goto(`${server.store}/login`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

test('my account: sessions, logging another out, email and password', async ({ server, browser }) => {
  await server.admin('user create', { username: 'alice', password: 'alice-password', email: 'alice@example.com' });
  const laptop = await browse(browser, FIREFOX);
  const phone = await browse(browser, IPHONE);
  const page = laptop.page;
  const consoleErrors = watchConsole(page);
  await logIn(page, server, 'alice', 'alice-password');
  await logIn(phone.page, server, 'alice', 'alice-password');
  await phone.page.goto(`${server.store}/applications`);

  // The name in the header leads to My account.
  await page.getByTestId('username').click();
  await expect(page.getByRole('heading', { name: 'My account' })).toBeVisible();
  await expect(page.getByTestId('account-email')).toHaveText('alice@example.com');
  const sessions = page.getByTestId('session');
  await expect(sessions).toHaveCount(2);
  await expect(sessions.first()).toContainText('Firefox on Linux');
  await expect(sessions.first()).toContainText('This session');
  await expect(sessions.nth(1)).toContainText('Safari on iOS');
  await expectFits(page);
  await screenshot(page, 'store-account.png');

  // Log the phone out: its next page asks it to log in.
  await sessions.nth(1).getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByText('The session is logged out.')).toBeVisible();
  await expect(page.getByTestId('session')).toHaveCount(1);
  await phone.page.reload();
  await expect(phone.page).toHaveURL(/\/store\/login\?return=/);

  // A new email address needs the password.
  await page.locator('#email').getByLabel('New email').fill('alice@new.example');
  await page.locator('#email').getByLabel('Current password').fill('not-my-password');
  await page.getByRole('button', { name: 'Change email' }).click();
  await expect(page.getByText('This is not your current password.')).toBeVisible();
  await page.locator('#email').getByLabel('Current password').fill('alice-password');
  await page.getByRole('button', { name: 'Change email' }).click();
  await expect(page.getByText('Email changed to alice@new.example.')).toBeVisible();
  await expect(page.getByTestId('account-email')).toHaveText('alice@new.example');

  // A new password logs the other sessions out; this one stays.
  await logIn(phone.page, server, 'alice', 'alice-password');
  const password = page.locator('#password');
  await password.getByLabel('Current password').fill('alice-password');
  await password.getByLabel('New password', { exact: true }).fill('alice-new-password');
  await password.getByLabel('New password again').fill('alice-new-password');
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByText('Password changed: 1 other session logged out')).toBeVisible();
  await expect(page.getByTestId('username')).toHaveText('alice');
  await phone.page.goto(`${server.store}/applications`);
  await expect(phone.page).toHaveURL(/\/store\/login\?return=/);
  await logIn(phone.page, server, 'alice', 'alice-password');
  await expect(phone.page.getByText('Invalid username or password.')).toBeVisible();
  await logIn(phone.page, server, 'alice', 'alice-new-password');
  await expect(phone.page.getByTestId('username')).toHaveText('alice');

  expect(consoleErrors).toEqual([]);
  await laptop.context.close();
  await phone.context.close();
});

test('a forgotten password: ask an administrator, whose link sets a new one once', async ({ server, page }) => {
  await server.admin('user create', { username: 'alice', password: 'alice-password' });
  await page.goto(`${server.store}/login`);
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await expect(page.getByText('This server sends no email')).toBeVisible();
  await expect(page.getByText('apistore user reset-password --username NAME')).toBeVisible();

  const link = await server.admin('user reset-password', { username: 'alice', 'store-public-url': new URL(server.store).origin });
  expect(link).toMatch(/^https:\/\/localhost:\d+\/store\/password\/reset\?token=[\w-]{43}$/);
  await page.goto(link);
  await expect(page.getByRole('heading', { name: 'Choose a new password' })).toBeVisible();
  await expect(page.getByTestId('reset-username')).toHaveText('alice');
  await expectFits(page);
  await page.getByLabel('New password', { exact: true }).fill('a-new-password');
  await page.getByLabel('New password again').fill('another-password');
  await page.getByRole('button', { name: 'Set the new password' }).click();
  await expect(page.getByText('The passwords do not match.')).toBeVisible();
  await page.getByLabel('New password', { exact: true }).fill('a-new-password');
  await page.getByLabel('New password again').fill('a-new-password');
  await page.getByRole('button', { name: 'Set the new password' }).click();
  await expect(page.getByText('Your password is changed')).toBeVisible();
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('a-new-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByTestId('username')).toHaveText('alice');

  await page.goto(link);
  await expect(page.getByRole('heading', { name: 'This link does not work' })).toBeVisible();
});

test('delete account: a page of its own, the password, then nothing is left', async ({ server, page }) => {
  await server.admin('user create', { username: 'alice', password: 'alice-password' });
  await server.admin('app create', { owner: 'alice', name: 'PizzaApp' });
  await logIn(page, server, 'alice', 'alice-password');
  await page.goto(`${server.store}/account`);
  await page.getByRole('link', { name: 'Delete account…' }).click();
  await expect(page.getByRole('heading', { name: 'Delete your account alice?' })).toBeVisible();
  await expect(page.getByText('PizzaApp')).toBeVisible();
  await expectFits(page);
  await page.getByRole('link', { name: 'Cancel' }).click();
  await expect(page.getByRole('heading', { name: 'My account' })).toBeVisible();

  await page.getByRole('link', { name: 'Delete account…' }).click();
  await page.getByLabel('Your password').fill('wrong-password');
  await page.getByRole('button', { name: 'Delete my account' }).click();
  await expect(page.getByText('This is not your current password.')).toBeVisible();
  await page.getByLabel('Your password').fill('alice-password');
  await page.getByRole('button', { name: 'Delete my account' }).click();
  await expect(page.getByText('Your account alice is deleted.')).toBeVisible();
  await expect(page.getByTestId('username')).toHaveCount(0);
  await logIn(page, server, 'alice', 'alice-password');
  await expect(page.getByText('Invalid username or password.')).toBeVisible();
});

test('administrators: Users disables, enables and unlocks, and the audit trail shows it', async ({ server, page, browser }) => {
  await server.admin('user create', { username: 'root', password: 'root-password', role: 'subscriber,admin', email: 'root@example.com' });
  await server.admin('user create', { username: 'bob', password: 'bob-password', email: 'bob@example.com' });
  await server.admin('app create', { owner: 'bob', name: 'BobsApp' });
  const bob = await browse(browser, IPHONE);
  await logIn(bob.page, server, 'bob', 'bob-password');
  await bob.page.goto(`${server.store}/applications`);
  const guesser = await browse(browser, FIREFOX);
  for (let i = 0; i < 5; i++) await logIn(guesser.page, server, 'bob', 'guess-guess');
  await logIn(guesser.page, server, 'bob', 'bob-password');
  await expect(guesser.page.getByText('Too many failed log-ins.')).toBeVisible();

  const consoleErrors = watchConsole(page);
  await logIn(page, server, 'root', 'root-password');
  await page.getByRole('link', { name: 'Users' }).click();
  await expect(page.getByRole('heading', { name: 'Users' })).toBeVisible();
  const row = page.getByTestId('user-bob');
  await expect(row).toContainText('locked out until');
  await expect(page.getByTestId('lockout')).toHaveCount(1);
  await expect(page.getByTestId('user-root').getByRole('link', { name: 'Disable…' })).toHaveCount(0);
  await expectFits(page);
  await row.getByRole('button', { name: 'Unlock' }).click();
  await expect(page.getByText('Unlocked: log-ins of the username bob.')).toBeVisible();
  await expect(page.getByText('No lockout under way.')).toBeVisible();

  await row.getByRole('link', { name: 'Disable…' }).click();
  await expect(page.getByRole('heading', { name: 'Disable bob?' })).toBeVisible();
  await expect(page.getByText('BobsApp')).toBeVisible();
  await page.getByRole('button', { name: 'Disable bob' }).click();
  await expect(page.getByText(/^bob is disabled: 1 session logged out/)).toBeVisible();
  await expect(row).toContainText('Disabled since');
  await bob.page.reload();
  await expect(bob.page).toHaveURL(/\/store\/login\?return=/);
  await logIn(bob.page, server, 'bob', 'bob-password');
  await expect(bob.page.getByText('This account is disabled.')).toBeVisible();

  await row.getByRole('button', { name: 'Enable' }).click();
  await expect(page.getByText('bob is enabled: they can log in again.')).toBeVisible();
  await logIn(bob.page, server, 'bob', 'bob-password');
  await expect(bob.page.getByTestId('username')).toHaveText('bob');

  await page.getByRole('link', { name: 'Audit' }).click();
  for (const event of ['user_enabled', 'user_disabled', 'lockout_cleared', 'lockout', 'login_failed']) {
    await expect(page.getByRole('cell', { name: event, exact: true }).first()).toBeVisible();
  }
  await screenshot(page, 'store-audit.png');
  expect(consoleErrors).toEqual([]);
  await bob.context.close();
  await guesser.context.close();
});

// mailTest runs the server with a mail sink as its SMTP server.
const mailTest = test.extend({
  mailbox: async ({}, use) => {
    const mailbox = await startMailbox();
    await use(mailbox);
    await mailbox.close();
  },
  serverEnv: async ({ mailbox }, use) => {
    await use({ APISTORE_SMTP_URL: `smtp://127.0.0.1:${mailbox.port}?tls=none`, APISTORE_SMTP_FROM: 'apistore <noreply@example.com>' });
  },
});

// mailText is a message's text with quoted-printable soft breaks and escapes undone.
function mailText(message) {
  return message.data.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
}

mailTest('a forgotten password by mail: the same answer for anyone, a link that works once and logs out everywhere', async ({ server, page, browser, mailbox }) => {
  await server.admin('user create', { username: 'alice', password: 'alice-password', email: 'alice@example.com' });
  const phone = await browse(browser, IPHONE);
  await logIn(phone.page, server, 'alice', 'alice-password');
  await expect(phone.page.getByTestId('username')).toHaveText('alice');
  const consoleErrors = watchConsole(page);

  // An unknown name gets the same page, and no mail.
  const ask = async (name) => {
    await page.goto(`${server.store}/login`);
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await page.getByLabel('Username or email').fill(name);
    await page.getByRole('button', { name: 'Email me a link' }).click();
    return (await page.locator('main').innerText()).replace(name, 'NAME');
  };
  const unknown = await ask('nobody@example.com');
  const known = await ask('alice@example.com');
  expect(known).toBe(unknown);
  expect(known).toContain('If an account matches NAME');
  await expectFits(page);

  const mail = await mailbox.next();
  expect(mail.to).toEqual(['alice@example.com']);
  const link = mailText(mail).match(/https:\/\/\S+\/store\/password\/reset\?token=[\w-]+/)[0];
  expect(new URL(link).origin).toBe(new URL(server.store).origin);
  expect(mailbox.messages).toHaveLength(1); // none for the unknown name

  await page.goto(link);
  await expect(page.getByTestId('reset-username')).toHaveText('alice');
  await page.getByLabel('New password', { exact: true }).fill('mailed-password');
  await page.getByLabel('New password again').fill('mailed-password');
  await page.getByRole('button', { name: 'Set the new password' }).click();
  await expect(page.getByText('Your password is changed')).toBeVisible();
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('mailed-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByTestId('username')).toHaveText('alice');

  // The reset logged out the phone, and the link works once.
  await phone.page.goto(`${server.store}/applications`);
  await expect(phone.page).toHaveURL(/\/store\/login\?return=/);
  await page.goto(link);
  await expect(page.getByRole('heading', { name: 'This link does not work' })).toBeVisible();
  expect(consoleErrors).toEqual([]);
  await phone.context.close();
});
