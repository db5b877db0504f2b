import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEMO_CLIENTS,
  DEMO_USERS,
  startBuiltinIdp,
  type BuiltinIdp,
  type BuiltinIdpUser,
} from '../../src/auth/idp/builtin.js';
import { TestBrowser, approveDevice, approveDeviceWithCode } from '../support/device-flow.js';

const AUDIENCE = 'urn:hoop:gateway';
const SCOPE = 'openid profile email offline_access';
const ACCESS_TTL = 30;

const alice = DEMO_USERS.find((u) => u.username === 'alice') as BuiltinIdpUser;
const bob = DEMO_USERS.find((u) => u.username === 'bob') as BuiltinIdpUser;
const workload = DEMO_CLIENTS.find((c) => c.clientId === 'demo-workload');

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function discover(idp: BuiltinIdp, clientId: string, secret?: string, auth?: client.ClientAuth): Promise<client.Configuration> {
  // openid-client refuses http:// issuers unless told otherwise; the IdP only listens on loopback.
  return client.discovery(new URL(idp.issuer), clientId, secret, auth ?? (secret ? undefined : client.None()), {
    execute: [client.allowInsecureRequests],
  });
}

function expectJwt(token: string): Record<string, unknown> {
  expect(token.split('.')).toHaveLength(3);
  const header = decodeProtectedHeader(token);
  expect(header).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
  expect(header.kid).toEqual(expect.any(String));
  return decodeJwt(token);
}

describe('built-in identity provider', () => {
  let idp: BuiltinIdp;
  let cli: client.Configuration;

  beforeAll(async () => {
    idp = await startBuiltinIdp({
      users: DEMO_USERS,
      clients: DEMO_CLIENTS,
      audience: AUDIENCE,
      accessTokenTtlSeconds: ACCESS_TTL,
      pollIntervalSeconds: 1,
    });
    cli = await discover(idp, 'hoop-cli');
  }, 60_000);

  afterAll(async () => {
    await idp?.close();
  }, 60_000);

  it('device flow: JWT access token with identity claims, id_token, refresh token that refreshes', async () => {
    expect(idp.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const response = await client.initiateDeviceAuthorization(cli, { scope: SCOPE });
    expect(response.interval).toBe(1);
    expect(response.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    expect(response.verification_uri).toBe(`${idp.issuer}/device`);

    const [tokens] = await Promise.all([
      client.pollDeviceAuthorizationGrant(cli, response),
      approveDevice(response.verification_uri_complete ?? '', 'alice', alice.password),
    ]);

    const claims = expectJwt(tokens.access_token);
    expect(claims).toMatchObject({
      iss: idp.issuer,
      aud: AUDIENCE,
      sub: alice.id,
      client_id: 'hoop-cli',
      email: alice.email,
      preferred_username: 'alice',
      name: alice.name,
      groups: ['engineers'],
    });
    expect(claims.exp).toBe((claims.iat as number) + ACCESS_TTL);
    expect(tokens.expires_in).toBe(ACCESS_TTL);

    expect(tokens.id_token).toEqual(expect.any(String));
    expect(tokens.claims()).toMatchObject({
      iss: idp.issuer,
      aud: 'hoop-cli',
      sub: alice.id,
      email: alice.email,
      preferred_username: 'alice',
    });
    expect(tokens.refresh_token).toEqual(expect.any(String));

    const refreshed = await client.refreshTokenGrant(cli, tokens.refresh_token ?? '');
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    const again = expectJwt(refreshed.access_token);
    expect(again).toMatchObject({ iss: idp.issuer, aud: AUDIENCE, sub: alice.id, groups: ['engineers'] });
    expect(again.jti).not.toBe(claims.jti);
    // Public clients get rotated refresh tokens; the new one must work too.
    expect(refreshed.refresh_token).toEqual(expect.any(String));
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    const third = await client.refreshTokenGrant(cli, refreshed.refresh_token ?? '');
    expect(decodeJwt(third.access_token).sub).toBe(alice.id);
  });

  it('refresh token is issued without offline_access, and the gateway scope shows up when asked for', async () => {
    const response = await client.initiateDeviceAuthorization(cli, { scope: 'openid gateway' });
    const [tokens] = await Promise.all([
      client.pollDeviceAuthorizationGrant(cli, response),
      approveDevice(response.verification_uri_complete ?? '', 'bob', bob.password),
    ]);
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(expectJwt(tokens.access_token)).toMatchObject({ aud: AUDIENCE, sub: bob.id, scope: 'gateway', groups: ['approvers'] });
  });

  it('typing the user code on the verification page works too', async () => {
    const response = await client.initiateDeviceAuthorization(cli, { scope: SCOPE });
    const browser = new TestBrowser();
    // People type codes in lower case and without the dash; the IdP normalises.
    await expect(
      approveDeviceWithCode(response.verification_uri, 'BBBB-BBBB', 'bob', bob.password, { browser }),
    ).rejects.toThrow(/not valid/);
    const [tokens] = await Promise.all([
      client.pollDeviceAuthorizationGrant(cli, response),
      approveDeviceWithCode(response.verification_uri, response.user_code.toLowerCase().replace('-', ''), 'bob', bob.password, { browser }),
    ]);
    expect(expectJwt(tokens.access_token)).toMatchObject({ sub: bob.id, email: bob.email, groups: ['approvers'] });
  });

  it('wrong password re-shows the login page with an error; polling goes on until the right one', async () => {
    const response = await client.initiateDeviceAuthorization(cli, { scope: SCOPE });
    let settled = false;
    const polling = client.pollDeviceAuthorizationGrant(cli, response).finally(() => {
      settled = true;
    });
    const messages: string[] = [];
    await approveDevice(response.verification_uri_complete ?? '', 'alice', alice.password, {
      wrongPasswords: ['not-the-password', bob.password],
      onLoginError: async (message) => {
        messages.push(message);
        // Several poll intervals pass while the user is stuck on the login page.
        await sleep(1500);
        expect(settled).toBe(false);
      },
    });
    expect(messages).toEqual(['Invalid username or password.', 'Invalid username or password.']);
    const tokens = await polling;
    expect(decodeJwt(tokens.access_token).sub).toBe(alice.id);
  });

  it('a wrong password alone leaves the sign-in unfinished', async () => {
    const response = await client.initiateDeviceAuthorization(cli, { scope: SCOPE });
    await expect(approveDevice(response.verification_uri_complete ?? '', 'alice', 'nope')).rejects.toThrow(
      /rejected: Invalid username or password/,
    );
    await expect(approveDevice(response.verification_uri_complete ?? '', 'mallory', 'x')).rejects.toThrow(
      /already been used/,
    );
  });

  it('deny on the confirmation page ends polling with access_denied', async () => {
    const response = await client.initiateDeviceAuthorization(cli, { scope: SCOPE });
    const polling = client.pollDeviceAuthorizationGrant(cli, response);
    const outcome = expect(polling).rejects.toMatchObject({ error: 'access_denied' });
    await approveDevice(response.verification_uri_complete ?? '', 'alice', alice.password, { deny: true });
    await outcome;
  });

  it('the same browser signing in a second user asks for the password again and yields that user', async () => {
    const browser = new TestBrowser();
    const first = await client.initiateDeviceAuthorization(cli, { scope: SCOPE });
    const [aliceTokens] = await Promise.all([
      client.pollDeviceAuthorizationGrant(cli, first),
      approveDevice(first.verification_uri_complete ?? '', 'alice', alice.password, { browser }),
    ]);
    const second = await client.initiateDeviceAuthorization(cli, { scope: SCOPE });
    const [bobTokens] = await Promise.all([
      client.pollDeviceAuthorizationGrant(cli, second),
      approveDevice(second.verification_uri_complete ?? '', 'bob', bob.password, { browser }),
    ]);
    expect(decodeJwt(aliceTokens.access_token).sub).toBe(alice.id);
    expect(decodeJwt(bobTokens.access_token).sub).toBe(bob.id);
    // Ending alice's browser session must not revoke what her terminal already holds.
    const refreshed = await client.refreshTokenGrant(cli, aliceTokens.refresh_token ?? '');
    expect(decodeJwt(refreshed.access_token).sub).toBe(alice.id);
  });

  it('client credentials: JWT for the gateway with the client as subject and its groups', async () => {
    expect(workload?.clientSecret).toBeDefined();
    const secret = workload?.clientSecret ?? '';
    for (const auth of [client.ClientSecretPost(secret), client.ClientSecretBasic(secret)]) {
      const config = await discover(idp, 'demo-workload', secret, auth);
      const tokens = await client.clientCredentialsGrant(config);
      expect(expectJwt(tokens.access_token)).toMatchObject({
        iss: idp.issuer,
        aud: AUDIENCE,
        sub: 'demo-workload',
        client_id: 'demo-workload',
        groups: ['workloads'],
      });
      expect(tokens.refresh_token).toBeUndefined();
      expect(tokens.id_token).toBeUndefined();
    }
    const wrong = await discover(idp, 'demo-workload', 'wrong-secret');
    await expect(client.clientCredentialsGrant(wrong)).rejects.toMatchObject({ error: 'invalid_client' });
    // oidc-provider answers invalid_request here, not RFC 6749's unauthorized_client.
    await expect(client.clientCredentialsGrant(cli)).rejects.toMatchObject({
      error: 'invalid_request',
      error_description: 'requested grant type is not allowed for this client',
    });
  });

  it('access tokens verify against the JWKS from discovery; tampered ones do not', async () => {
    const metadata = cli.serverMetadata();
    expect(metadata.jwks_uri).toBe(`${idp.issuer}/jwks`);
    const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri ?? ''));
    const secret = workload?.clientSecret ?? '';
    const { access_token: token } = await client.clientCredentialsGrant(await discover(idp, 'demo-workload', secret));
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer: idp.issuer,
      audience: AUDIENCE,
      typ: 'at+jwt',
      algorithms: ['RS256'],
    });
    expect(payload.sub).toBe('demo-workload');
    expect(protectedHeader.kid).toEqual(expect.any(String));

    const [header, body, signature] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...payload, groups: ['admins'] })).toString('base64url');
    expect(body).not.toBe(forged);
    await expect(jwtVerify(`${header}.${forged}.${signature}`, jwks)).rejects.toThrow(/signature/);
  });

  it('pages are self-contained HTML with a CSP and escape what they show', async () => {
    const browser = new TestBrowser();
    const page = await browser.open(`${idp.issuer}/device`);
    expect(page.name).toBe('device-input');
    expect(page.html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
    const res = await fetch(`${idp.issuer}/device`);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    await res.body?.cancel();
    const typed = await browser.submit(page.forms[0] ?? (null as never), { fill: { user_code: '<script>x</script>' } });
    expect(typed.alert).toMatch(/not valid/);
    expect(typed.html).not.toContain('<script>x');
  });

  it('a stale device link (no browser session) gets an error page with a way back, not a 500', async () => {
    const browser = new TestBrowser();
    const page = await browser.open(`${idp.issuer}/device/no-such-interaction`);
    expect(page.status).toBe(400);
    expect(page.name).toBe('error');
    expect(page.alert).toMatch(/expired/);
    expect(page.html).toContain(`href="${idp.issuer}/device"`);
  });
});

describe('built-in identity provider: device code expiry', () => {
  let idp: BuiltinIdp;

  beforeAll(async () => {
    idp = await startBuiltinIdp({
      users: DEMO_USERS,
      clients: DEMO_CLIENTS,
      audience: AUDIENCE,
      deviceCodeTtlSeconds: 2,
      pollIntervalSeconds: 1,
    });
  }, 60_000);

  afterAll(async () => {
    await idp?.close();
  }, 60_000);

  it('polling an expired device code ends with expired_token; the page says the code expired', async () => {
    const cli = await discover(idp, 'hoop-cli');
    const response = await client.initiateDeviceAuthorization(cli, { scope: SCOPE });
    expect(response.expires_in).toBe(2);
    // openid-client's own deadline is expires_in, which would abort locally before the server's
    // answer; a longer signal lets it hear expired_token from the IdP.
    await expect(
      client.pollDeviceAuthorizationGrant(cli, response, undefined, { signal: AbortSignal.timeout(20_000) }),
    ).rejects.toMatchObject({ error: 'expired_token' });
    await expect(approveDevice(response.verification_uri_complete ?? '', 'alice', alice.password)).rejects.toThrow(/expired/);
  });
});
