// Issue 17 part 3, in the browser: an application's owner registers a
// self-signed certificate on My Subscriptions (RFC 8705 §2.2), and a client
// presenting it with Node's TLS client gets a certificate-bound token at
// /token on the HTTPS port, without a secret; without the certificate it
// is refused. The certificate is made by openssl, as a developer would.
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const { test, expect } = require('./server');
const { expectFits } = require('./layout');

// selfSigned makes a P-256 client certificate for cn: { cert, key } as PEM.
function selfSigned(cn) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'apistore-mtls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '2', '-subj', `/CN=${cn}/O=Acme`,
      '-addext', 'extendedKeyUsage=clientAuth'], { stdio: 'ignore' });
    return { cert: fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8'), key: fs.readFileSync(path.join(dir, 'key.pem'), 'utf8') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// post sends a form to the HTTPS port's endpoint, presenting tls
// ({ cert, key } or {}) and trusting the server's own certificate.
function post(server, endpoint, form, tls) {
  const ca = fs.readFileSync(path.join(server.dataDir, 'tls-cert.pem'));
  return new Promise((resolve, reject) => {
    const req = https.request(`${server.https}${endpoint}`, {
      method: 'POST', ca, ...tls, checkServerIdentity: () => undefined,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    }, (resp) => {
      let text = '';
      resp.on('data', (chunk) => { text += chunk; });
      resp.on('end', () => resolve({ status: resp.statusCode, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(new URLSearchParams(form).toString());
  });
}

// token asks /token for a client_credentials token as clientId.
function token(server, clientId, tls, secret) {
  const form = { grant_type: 'client_credentials', client_id: clientId };
  if (secret) form.client_secret = secret;
  return post(server, '/token', form, tls);
}

test('mTLS: register a self-signed certificate in the store, then get a bound token with it', async ({ server, page }) => {
  await page.goto(`${server.store}/signup`);
  await page.getByLabel('Username').fill('mia');
  await page.getByLabel('Password', { exact: true }).fill('mia-password-1');
  await page.getByLabel('Password again').fill('mia-password-1');
  await page.getByLabel('Email').fill('mia@example.com');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByRole('link', { name: 'My Applications' }).click();
  await page.getByRole('link', { name: 'Add application' }).click();
  await page.getByLabel('Name').fill('Robot');
  await page.getByRole('button', { name: 'Add application' }).click();
  await page.getByRole('link', { name: 'My Subscriptions' }).click();
  const production = page.getByTestId('production-panel');
  await production.getByRole('button', { name: 'Generate' }).click();
  const key = await page.getByTestId('production-consumer-key').innerText();
  const secret = await page.getByTestId('production-consumer-secret').innerText();
  await expect(page.getByTestId('client-auth-method')).toContainText('client secret');

  // A bad paste is refused with a message; nothing changes.
  const auth = page.getByTestId('client-auth');
  await auth.getByText('Register self-signed certificates').click();
  await auth.getByLabel('Certificates (PEM)').fill('not a certificate');
  await auth.getByRole('button', { name: 'Register certificate' }).click();
  await expect(page.getByText('No PEM certificate (-----BEGIN CERTIFICATE-----) found.')).toBeVisible();
  await expect(page.getByTestId('client-auth-method')).toContainText('client secret');

  const robot = selfSigned('robot');
  await auth.getByLabel('Certificates (PEM)').fill(robot.cert);
  await auth.getByRole('button', { name: 'Register certificate' }).click();
  await expect(page.getByRole('status')).toContainText('The keys of Robot authenticate with self_signed_tls_client_auth');
  await expect(page.getByTestId('client-auth-method')).toHaveText('self_signed_tls_client_auth');
  await expect(page.getByTestId('client-auth-cert')).toContainText('CN=robot,O=Acme');
  await expect(page.getByTestId('production-auth')).toContainText('self_signed_tls_client_auth');
  // The thumbprints and the forms fit a phone's width.
  await expectFits(page);

  // The secret no longer authenticates; the certificate alone does, and
  // binds the token to itself (RFC 8705 §3).
  expect((await token(server, key, {}, secret)).status).toBe(401);
  expect((await token(server, key, selfSigned('other'), '')).status).toBe(401);
  const ok = await token(server, key, robot, '');
  expect(ok.status).toBe(200);
  const x5t = crypto.createHash('sha256').update(new crypto.X509Certificate(robot.cert).raw).digest('base64url');
  const info = await post(server, '/introspect', { token: ok.body.access_token, client_id: key }, robot);
  expect(info.body).toMatchObject({ active: true, cnf: { 'x5t#S256': x5t } });

  // Back to the secret.
  await page.getByRole('button', { name: 'Use client secret' }).click();
  await expect(page.getByTestId('client-auth-method')).toContainText('client secret');
  expect((await token(server, key, {}, secret)).status).toBe(200);
});
