// Runs the apistore binary (built by global-setup.js) on a fresh data dir.
// Tests get it through the `server` fixture of the `test` exported here.
const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { setTimeout: sleep } = require('node:timers/promises');
const { promisify } = require('node:util');
const base = require('@playwright/test');

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const URL_LINE = /^(store|https|http): (\S+)$/;
const TAIL_LINES = 50;

// Starts `apistore serve` and resolves once it has printed its three URLs:
// { store, https, http, dataDir, admin(command, flags), output(), tail(), stop() }.
// env adds environment variables (APISTORE_… settings) to the server's.
async function startServer(env = {}) {
  const bin = process.env.APISTORE_BIN;
  if (!bin) throw new Error('APISTORE_BIN is not set: run the tests with `npm run e2e`');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'apistore-data-'));
  const proc = spawn(
    bin,
    ['serve', '--data-dir', dataDir, '--store-port', '0', '--https-port', '0', '--http-port', '0', '--metrics-addr', '127.0.0.1:0'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
  const closed = new Promise((resolve) => proc.once('close', resolve));
  const lines = [];
  const urls = {};
  readline.createInterface({ input: proc.stderr }).on('line', (line) => lines.push(line));
  const ready = new Promise((resolve, reject) => {
    readline.createInterface({ input: proc.stdout }).on('line', (line) => {
      lines.push(line);
      const match = URL_LINE.exec(line.trim());
      if (match) urls[match[1]] = match[2];
      if (urls.store && urls.https && urls.http) resolve();
    });
    proc.once('error', reject);
    closed.then(() => reject(new Error(`server exited (${proc.signalCode ?? proc.exitCode}) before printing its URLs`)));
    sleep(START_TIMEOUT_MS, null, { ref: false }).then(() =>
      reject(new Error(`server printed no URLs within ${START_TIMEOUT_MS} ms`)));
  });

  const output = () => lines.join('\n');
  const tail = () => `--- last ${TAIL_LINES} lines of server output ---\n${lines.slice(-TAIL_LINES).join('\n')}`;

  // Runs e.g. `apistore user create --data-dir D --username U --password P`
  // as admin('user create', { username: 'U', password: 'P' }); returns its stdout.
  async function admin(command, flags = {}) {
    const args = [...command.split(' '), '--data-dir', dataDir];
    for (const [name, value] of Object.entries(flags)) args.push(`--${name}`, String(value));
    const { stdout } = await promisify(execFile)(bin, args);
    return stdout.trim();
  }

  // SIGTERM, then wait for the exit; a server that ignores SIGTERM is killed and reported.
  async function stop() {
    try {
      if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timedOut = await Promise.race([
        closed.then(() => false),
        sleep(STOP_TIMEOUT_MS, true, { ref: false }),
      ]);
      if (timedOut) {
        proc.kill('SIGKILL');
        await closed;
        throw new Error(`server did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM\n${tail()}`);
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }

  try {
    await ready;
  } catch (err) {
    await stop();
    err.message += `\n${tail()}`;
    throw err;
  }
  return { ...urls, dataDir, admin, output, tail, stop };
}

const test = base.test.extend({
  // serverEnv: environment variables for the server, e.g.
  // test.use({ serverEnv: { APISTORE_SELF_SIGNUP: 'false' } }), or a
  // fixture of a spec's own that depends on another (a mail server's port).
  serverEnv: [{}, { option: true }],
  server: async ({ serverEnv }, use, testInfo) => {
    const server = await startServer(serverEnv);
    await use(server);
    await server.stop();
    if (testInfo.status !== testInfo.expectedStatus) console.error(server.tail());
  },
});

// logIn logs a page in on the store and waits until it shows the user.
async function logIn(page, server, username, password) {
  await page.goto(`${server.store}/login`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await base.expect(page.getByTestId('username')).toHaveText(username);
}

module.exports = { test, expect: base.expect, logIn };
