// Issue 17 part 2: DPoP (RFC 9449) with a real third-party client,
// oauth4webapi. An application that requires DPoP (the store's setting)
// gets DPoP-bound tokens at /token, introspects them, refreshes them and
// calls the gateway with them; proofs replayed, for another URL or method,
// stale, or signed by another key are refused. The store's own pages run
// in the browser; the client is oauth4webapi in Node, over the plain HTTP
// port (its allowInsecureRequests), as a back-end client would.
const oauth = require('oauth4webapi');
const { test, expect } = require('./server');

const USER = 'dora';
const PASSWORD = 'dora-password-1';
const insecure = { [oauth.allowInsecureRequests]: true };

// discover reads the server's metadata with oauth4webapi.
async function discover(server) {
  const issuer = new URL(server.http);
  return oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oauth2' }));
}

// refusal sends a call with the headers by plain fetch and returns its
// status and DPoP challenge.
async function refusal(url, method, headers) {
  const resp = await fetch(url, { method, headers });
  await resp.arrayBuffer();
  return { status: resp.status, challenge: resp.headers.get('www-authenticate') ?? '' };
}

test('DPoP with oauth4webapi: bound tokens at /token, /introspect, refresh, the gateway and /revoke', async ({ server, page }) => {
  // The store: sign up, an application requiring DPoP, a subscription, keys.
  await page.goto(`${server.store}/signup`);
  await page.getByLabel('Username').fill(USER);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Password again').fill(PASSWORD);
  await page.getByLabel('Email').fill('dora@example.com');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await expect(page.getByTestId('username')).toHaveText(USER);
  await page.getByRole('link', { name: 'My Applications' }).click();
  await page.getByRole('link', { name: 'Add application' }).click();
  await page.getByLabel('Name').fill('BoundApp');
  await page.getByLabel('Require DPoP').check();
  await page.getByRole('button', { name: 'Add application' }).click();
  await expect(page.getByRole('status')).toContainText('Application BoundApp added.');
  await page.getByRole('row', { name: /BoundApp/ }).getByRole('link', { name: 'Edit' }).click();
  await expect(page.getByLabel('Require DPoP')).toBeChecked();
  await page.getByRole('link', { name: 'APIs', exact: true }).click();
  await page.getByRole('link', { name: 'PizzaShackAPI' }).click();
  await page.getByLabel('Application').selectOption({ label: 'BoundApp' });
  await page.getByLabel('Tier').selectOption('Gold');
  await page.getByRole('button', { name: 'Subscribe', exact: true }).click();
  await expect(page.getByRole('status')).toContainText('BoundApp is subscribed');
  await page.getByRole('link', { name: 'My Subscriptions' }).click();
  await page.getByLabel('Application').selectOption({ label: 'BoundApp' });
  await page.getByRole('button', { name: 'Show' }).click();
  const production = page.getByTestId('production-panel');
  await production.getByRole('button', { name: 'Generate' }).click();
  // No bearer token from the store for an application requiring DPoP.
  await expect(page.getByText('the application requires DPoP')).toBeVisible();
  const key = await page.getByTestId('production-consumer-key').innerText();
  const secret = await page.getByTestId('production-consumer-secret').innerText();

  // The client: oauth4webapi, from the metadata.
  const as = await discover(server);
  expect(as.dpop_signing_alg_values_supported).toContain('ES256');
  const client = { client_id: key };
  const auth = oauth.ClientSecretBasic(secret);
  const keyPair = await oauth.generateKeyPair('ES256');
  const DPoP = oauth.DPoP(client, keyPair);
  const jkt = await DPoP.calculateThumbprint();

  // Without a proof: refused, the application requires DPoP.
  await expect((async () => oauth.processClientCredentialsResponse(as, client,
    await oauth.clientCredentialsGrantRequest(as, client, auth, {}, insecure)))()).rejects.toMatchObject({ error: 'invalid_dpop_proof' });

  // client_credentials with a proof: a DPoP-bound token.
  const cc = await oauth.processClientCredentialsResponse(as, client,
    await oauth.clientCredentialsGrantRequest(as, client, auth, {}, { ...insecure, DPoP }));
  expect(cc.token_type).toBe('dpop');

  // Introspection reports the binding; a proof sent along is checked.
  const introspectProof = new Headers();
  await DPoP.addProof(new URL(as.introspection_endpoint), introspectProof, 'POST');
  const info = await oauth.processIntrospectionResponse(as, client,
    await oauth.introspectionRequest(as, client, auth, cc.access_token, { ...insecure, headers: introspectProof }));
  expect(info).toMatchObject({ active: true, token_type: 'DPoP', client_id: key, cnf: { jkt } });

  // The gateway: oauth4webapi's protected resource request, a fresh proof each.
  const menu = new URL(`${server.http}/pizzashack/1.0.0/menu`);
  let sent = '';
  const capture = { [oauth.customFetch]: (url, options) => { sent = new Headers(options.headers).get('dpop'); return fetch(url, options); } };
  for (let i = 0; i < 2; i++) {
    const resp = await oauth.protectedResourceRequest(cc.access_token, 'GET', menu, undefined, undefined, { ...insecure, ...capture, DPoP });
    expect(resp.status).toBe(200);
    await resp.arrayBuffer();
  }

  // Refused: the same proof again, a proof for another URL or method, a
  // stale one, one signed by another key, and the token as a bearer token.
  const call = { Authorization: `DPoP ${cc.access_token}` };
  const proofFor = async (handle, url, method) => {
    const h = new Headers();
    await handle.addProof(new URL(url), h, method, cc.access_token);
    return h.get('dpop');
  };
  const stale = oauth.DPoP(client, keyPair, { [oauth.modifyAssertion]: (_, payload) => { payload.iat -= 120; } });
  const otherKey = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
  const bad = {
    replayed: sent,
    'for another URL': await proofFor(DPoP, `${server.http}/pizzashack/1.0.0/order`, 'GET'),
    'for another method': await proofFor(DPoP, menu.href, 'POST'),
    stale: await proofFor(stale, menu.href, 'GET'),
    'signed by another key': await proofFor(otherKey, menu.href, 'GET'),
  };
  for (const [name, proof] of Object.entries(bad)) {
    const r = await refusal(menu, 'GET', { ...call, DPoP: proof });
    expect(r.status, name).toBe(401);
    expect(r.challenge, name).toContain('DPoP');
    expect(r.challenge, name).toContain('error="invalid_dpop_proof"');
  }
  const asBearer = await refusal(menu, 'GET', { Authorization: `Bearer ${cc.access_token}`, DPoP: await proofFor(DPoP, menu.href, 'GET') });
  expect(asBearer.status).toBe(401);

  // A user's token by the password grant, refreshed: bound throughout.
  const pw = await oauth.processGenericTokenEndpointResponse(as, client,
    await oauth.genericTokenEndpointRequest(as, client, auth, 'password', { username: USER, password: PASSWORD }, { ...insecure, DPoP }));
  expect(pw.token_type).toBe('dpop');
  await expect((async () => oauth.processRefreshTokenResponse(as, client,
    await oauth.refreshTokenGrantRequest(as, client, auth, pw.refresh_token, insecure)))()).rejects.toMatchObject({ error: 'invalid_dpop_proof' });
  const refreshed = await oauth.processRefreshTokenResponse(as, client,
    await oauth.refreshTokenGrantRequest(as, client, auth, pw.refresh_token, { ...insecure, DPoP }));
  expect(refreshed.token_type).toBe('dpop');
  const userCall = await oauth.protectedResourceRequest(refreshed.access_token, 'GET', menu, undefined, undefined, { ...insecure, DPoP });
  expect(userCall.status).toBe(200);
  await userCall.arrayBuffer();

  // Revocation with a proof of the key: the gateway refuses the token next.
  const revokeProof = new Headers();
  await DPoP.addProof(new URL(as.revocation_endpoint), revokeProof, 'POST');
  await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, cc.access_token, { ...insecure, headers: revokeProof }));
  const afterRevoke = await refusal(menu, 'GET', { ...call, DPoP: await proofFor(DPoP, menu.href, 'GET') });
  expect(afterRevoke.status).toBe(401);
});

test.describe('with DPoP nonces required', () => {
  test.use({ serverEnv: { APISTORE_DPOP_NONCE: 'true' } });

  test('oauth4webapi retries with the server nonce; app create --dpop-required', async ({ server }) => {
    await server.admin('user create', { username: USER, password: PASSWORD });
    const keys = JSON.parse(await server.admin('app create --dpop-required', { owner: USER, name: 'CliApp' }));
    expect(keys.dpop_required).toBe(true);
    const as = await discover(server);
    const client = { client_id: keys.production.consumer_key };
    const auth = oauth.ClientSecretPost(keys.production.consumer_secret);
    const DPoP = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
    const request = () => oauth.clientCredentialsGrantRequest(as, client, auth, {}, { ...insecure, DPoP });
    let nonceErrors = 0;
    let tokens;
    try {
      tokens = await oauth.processClientCredentialsResponse(as, client, await request());
    } catch (err) {
      expect(oauth.isDPoPNonceError(err)).toBe(true);
      nonceErrors++;
      // The handle kept the DPoP-Nonce of the refusal: the retry carries it.
      tokens = await oauth.processClientCredentialsResponse(as, client, await request());
    }
    expect(nonceErrors).toBe(1);
    expect(tokens.token_type).toBe('dpop');
    const info = await oauth.processIntrospectionResponse(as, client,
      await oauth.introspectionRequest(as, client, auth, tokens.access_token, insecure));
    expect(info).toMatchObject({ active: true, cnf: { jkt: await DPoP.calculateThumbprint() } });
  });
});
