import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, type JWK, type JWTPayload, SignJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OidcAuthenticator, type OidcAuthenticatorOptions } from '../../src/auth/oidc.js';
import { AuthenticatorChain } from '../../src/auth/service-accounts.js';
import { AuthError } from '../../src/errors.js';

const AUDIENCE = 'hoop-gateway';
const b64 = (s: string) => Buffer.from(s).toString('base64url');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => Math.floor(Date.now() / 1000);

interface Key {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly jwk: JWK;
}

async function makeKey(kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  return { kid, privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

/** A minimal OIDC issuer on loopback: discovery + JWKS, counting how often each is fetched. */
class TinyIssuer {
  jwksRequests = 0;
  discoveryRequests = 0;
  readonly keys: Key[] = [];
  /** When set, discovery advertises this issuer instead of its own URL. */
  advertisedIssuer: string | undefined;
  private server: http.Server | undefined;
  private constructor(public port: number) {}

  static async start(port = 0): Promise<TinyIssuer> {
    const issuer = new TinyIssuer(port);
    await issuer.listen();
    issuer.keys.push(await makeKey('k1'));
    return issuer;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async listen(): Promise<void> {
    const server = http.createServer((req, res) => {
      if (req.url === '/.well-known/openid-configuration') {
        this.discoveryRequests++;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ issuer: this.advertisedIssuer ?? this.url, jwks_uri: `${this.url}/jwks` }));
      } else if (req.url === '/jwks') {
        this.jwksRequests++;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: this.keys.map((k) => k.jwk) }));
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(this.port, '127.0.0.1', () => r()));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }

  /** A token as this issuer would mint it; every field can be overridden. */
  sign(claims: JWTPayload = {}, opts: { key?: Key; kid?: string; exp?: number } = {}): Promise<string> {
    const key = opts.key ?? this.keys[0]!;
    return new SignJWT({ iss: this.url, aud: AUDIENCE, sub: 'user-123', email: 'ada@example.com', groups: ['dba', 'eng'], ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: opts.kid ?? key.kid })
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? now() + 300)
      .sign(key.privateKey);
  }
}

function authFor(issuer: TinyIssuer | string, opts?: OidcAuthenticatorOptions): OidcAuthenticator {
  const url = typeof issuer === 'string' ? issuer : issuer.url;
  return new OidcAuthenticator({ issuer: url, clientId: 'hoop-cli', audience: AUDIENCE, groupsClaim: 'groups' }, opts);
}

/** Asserts a refusal: an AuthError whose message and hint never echo the token; returns the message. */
async function refusal(auth: OidcAuthenticator, token: string): Promise<string> {
  const err = await auth.authenticate(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'token should have been refused').toBeInstanceOf(AuthError);
  const { message, hint } = err as AuthError;
  for (const text of [message, hint ?? '']) {
    if (token.length > 0) expect(text).not.toContain(token);
    for (const part of token.split('.')) if (part.length > 8) expect(text).not.toContain(part);
  }
  return message;
}

describe('OidcAuthenticator', () => {
  let idp: TinyIssuer;
  let other: TinyIssuer;
  let auth: OidcAuthenticator;

  beforeAll(async () => {
    idp = await TinyIssuer.start();
    other = await TinyIssuer.start();
    auth = authFor(idp);
  });

  afterAll(async () => {
    await idp?.stop();
    await other?.stop();
  });

  it('accepts a valid user token: name from email, groups from the claim, kind user', async () => {
    const token = await idp.sign();
    expect(auth.recognises(token)).toBe(true);
    expect(await auth.authenticate(token)).toEqual({
      kind: 'user',
      subject: `oidc:${idp.url}#user-123`,
      name: 'ada@example.com',
      groups: ['dba', 'eng'],
    });
  });

  it('falls back to preferred_username, then sub, for the name; normalises groups', async () => {
    const a = await auth.authenticate(await idp.sign({ email: undefined, preferred_username: 'ada', groups: 'dba' }));
    expect(a.name).toBe('ada');
    expect(a.groups).toEqual(['dba']);
    const b = await auth.authenticate(await idp.sign({ email: undefined, groups: undefined }));
    expect(b.name).toBe('user-123');
    expect(b.groups).toEqual([]);
    const c = await auth.authenticate(await idp.sign({ groups: ['ok', 7, null, { x: 1 }, 'ok'] }));
    expect(c.groups).toEqual(['ok']);
  });

  it('marks a client-credentials token as a workload', async () => {
    const token = await idp.sign({ sub: 'etl-bot', azp: 'etl-bot', client_id: 'etl-bot', email: undefined, groups: ['etl'] });
    expect(await auth.authenticate(token)).toEqual({ kind: 'workload', subject: `oidc:${idp.url}#etl-bot`, name: 'etl-bot', groups: ['etl'] });
    // Same client, but a person logged in through it: a user.
    const viaUser = await idp.sign({ sub: 'etl-bot', azp: 'etl-bot' });
    expect((await auth.authenticate(viaUser)).kind).toBe('user');
  });

  it('refuses an expired token, naming when it expired', async () => {
    const exp = now() - 3600;
    const msg = await refusal(auth, await idp.sign({}, { exp }));
    expect(msg).toBe(`token expired at ${new Date(exp * 1000).toISOString()}; log in again`);
  });

  it('allows the clock tolerance on exp', async () => {
    await expect(auth.authenticate(await idp.sign({}, { exp: now() - 5 }))).resolves.toMatchObject({ kind: 'user' });
  });

  it('refuses a token that is not yet valid', async () => {
    const nbf = now() + 3600;
    const msg = await refusal(auth, await idp.sign({ nbf }));
    expect(msg).toBe(`token not valid until ${new Date(nbf * 1000).toISOString()}`);
  });

  it('refuses a token without exp or sub', async () => {
    const noExp = await new SignJWT({ iss: idp.url, aud: AUDIENCE, sub: 'x' })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .sign(idp.keys[0]!.privateKey);
    expect(await refusal(auth, noExp)).toBe('token has no expiry ("exp" claim); hoop accepts only tokens that expire');
    expect(await refusal(auth, await idp.sign({ sub: undefined }))).toBe('token has no "sub" claim, which hoop requires');
  });

  it('refuses the wrong audience, saying expected and got', async () => {
    const msg = await refusal(auth, await idp.sign({ aud: 'some-other-api' }));
    expect(msg).toBe('token has the wrong audience: expected "hoop-gateway", got "some-other-api"');
  });

  it('refuses a token claiming another issuer, naming the trusted one', async () => {
    const msg = await refusal(auth, await idp.sign({ iss: 'https://evil.example' }));
    expect(msg).toBe(`token was issued by "https://evil.example", but hoop trusts only tokens from "${idp.url}"`);
  });

  it('refuses a token from a second, real issuer as wrong issuer without touching either JWKS', async () => {
    const before = idp.jwksRequests;
    const msg = await refusal(auth, await other.sign());
    expect(msg).toBe(`token was issued by "${other.url}", but hoop trusts only tokens from "${idp.url}"`);
    expect(idp.jwksRequests).toBe(before);
    expect(other.jwksRequests).toBe(0);
  });

  it('refuses a bad signature (another key, same kid)', async () => {
    const impostor = await makeKey('k1');
    const msg = await refusal(auth, await idp.sign({}, { key: impostor }));
    expect(msg).toBe(
      `token signature is invalid: it does not verify with ${idp.url}'s key "k1"; the token was altered or not issued by this provider`,
    );
  });

  it('refuses a tampered payload', async () => {
    const [h, , s] = (await idp.sign()).split('.');
    const forged = `${h}.${b64(JSON.stringify({ iss: idp.url, aud: AUDIENCE, sub: 'root', exp: now() + 300, groups: ['admins'] }))}.${s}`;
    expect(await refusal(auth, forged)).toMatch(/^token signature is invalid/);
  });

  it('refuses alg none', async () => {
    const token = `${b64('{"alg":"none"}')}.${b64(JSON.stringify({ iss: idp.url, aud: AUDIENCE, sub: 'root', exp: now() + 300 }))}.`;
    expect(auth.recognises(token)).toBe(true);
    expect(await refusal(auth, token)).toBe('unsigned token (alg "none") refused');
  });

  it('refuses HS256 signed with the public key as HMAC secret (key confusion)', async () => {
    const key = idp.keys[0]!;
    const secrets = [
      new TextEncoder().encode(await exportSPKI(key.publicKey)),
      new TextEncoder().encode(JSON.stringify(key.jwk)),
      Buffer.from(key.jwk.n!, 'base64url'),
    ];
    for (const secret of secrets) {
      const token = await new SignJWT({ iss: idp.url, aud: AUDIENCE, sub: 'root', groups: ['admins'] })
        .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
        .setExpirationTime(now() + 300)
        .sign(secret);
      expect(await refusal(auth, token)).toBe(
        'token algorithm "HS256" is not allowed; hoop accepts only RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA',
      );
    }
  });

  it('refuses an unknown kid, refetching the JWKS at most once per cooldown', async () => {
    const a = authFor(idp, { jwksCooldownMs: 500 });
    await a.authenticate(await idp.sign());
    await sleep(600); // past the cooldown of the initial fetch
    const start = idp.jwksRequests;
    const stranger = await makeKey('nope');
    for (let i = 0; i < 10; i++) {
      const msg = await refusal(a, await idp.sign({}, { key: stranger }));
      expect(msg).toBe(`token is signed with key "nope" (RS256), which ${idp.url} does not publish at ${idp.url}/jwks, even after refreshing its key set`);
    }
    expect(idp.jwksRequests - start).toBe(1);
  });

  it('with the default cooldown, a burst of unknown kids causes no refetch right after a fetch', async () => {
    const a = authFor(idp);
    const start = idp.jwksRequests;
    const stranger = await makeKey('nope2');
    await Promise.all(Array.from({ length: 10 }, async () => expect(await refusal(a, await idp.sign({}, { key: stranger }))).toMatch(/"nope2"/)));
    expect(idp.jwksRequests - start).toBeLessThanOrEqual(2);
  });

  it('accepts a token signed with a rotated-in key after the automatic refetch', async () => {
    const rotating = await TinyIssuer.start();
    try {
      const a = authFor(rotating, { jwksCooldownMs: 200 });
      await a.authenticate(await rotating.sign());
      expect(rotating.jwksRequests).toBe(1);
      const k2 = await makeKey('k2');
      rotating.keys.push(k2);
      await sleep(250);
      expect(await a.authenticate(await rotating.sign({ sub: 'after-rotation' }, { key: k2 }))).toMatchObject({
        subject: `oidc:${rotating.url}#after-rotation`,
      });
      expect(rotating.jwksRequests).toBe(2);
      // The old key still works from the refreshed set without another fetch.
      await a.authenticate(await rotating.sign());
      expect(rotating.jwksRequests).toBe(2);
    } finally {
      await rotating.stop();
    }
  });

  it('fails closed while the identity provider is down, and retries discovery once it is back', async () => {
    const flaky = await TinyIssuer.start();
    const token = await flaky.sign();
    await flaky.stop();
    const a = authFor(flaky);
    const msg = await refusal(a, token);
    expect(msg).toContain(`identity provider unreachable: ${flaky.url}: could not fetch ${flaky.url}/.well-known/openid-configuration (ECONNREFUSED)`);
    expect(await refusal(a, token)).toContain('identity provider unreachable');
    await flaky.listen(); // same port, same keys
    try {
      expect(await a.authenticate(token)).toMatchObject({ kind: 'user', name: 'ada@example.com' });
      expect(flaky.discoveryRequests).toBe(1);
    } finally {
      await flaky.stop();
    }
  });

  it('fails closed when the JWKS cannot be fetched after discovery succeeded', async () => {
    const flaky = await TinyIssuer.start();
    const a = authFor(flaky, { jwksCacheMaxAgeMs: 0 });
    const token = await flaky.sign();
    await a.authenticate(token);
    await flaky.stop();
    const msg = await refusal(a, token);
    // ECONNREFUSED, or a socket error when fetch reuses a keep-alive connection the server dropped.
    expect(msg).toMatch(/could not fetch its signing keys from \S+\/jwks \((ECONNREFUSED|UND_ERR_SOCKET)\)/);
    expect(msg).toContain(`identity provider unreachable: ${flaky.url}: could not fetch its signing keys from ${flaky.url}/jwks`);
  });

  it('refuses when the discovery document names a different issuer', async () => {
    const liar = await TinyIssuer.start();
    try {
      liar.advertisedIssuer = 'https://idp.example.com';
      const msg = await refusal(authFor(liar), await liar.sign());
      expect(msg).toBe(
        `identity provider refused: ${liar.url}/.well-known/openid-configuration names its issuer "https://idp.example.com", but hoop is configured to trust "${liar.url}"`,
      );
      expect(liar.jwksRequests).toBe(0);
    } finally {
      await liar.stop();
    }
  });

  it('does not recognise garbage or service-account tokens, and refuses garbage as malformed', async () => {
    const garbage = ['', 'hello', 'a.b.c', 'not.a.jwt', `${b64('{"foo":1}')}.${b64('{}')}.x`, `${b64('[1]')}.${b64('{}')}.x`, 'x'.repeat(5000), 'a b.c.d'];
    for (const g of garbage) {
      expect(auth.recognises(g), g.slice(0, 40)).toBe(false);
      expect(await refusal(auth, g)).toMatch(/^malformed token: /);
    }
    const sa = `hoop_sa_${Buffer.alloc(32, 7).toString('base64url')}`;
    expect(auth.recognises(sa)).toBe(false);
    // Even a JWT-shaped string with the prefix belongs to the service-account authenticator.
    expect(auth.recognises(`hoop_sa_${await idp.sign()}`)).toBe(false);

    const badPayload = `${b64('{"alg":"RS256","kid":"k1"}')}.${b64('not json')}.${b64('sig')}`;
    expect(auth.recognises(badPayload)).toBe(true);
    expect(await refusal(auth, badPayload)).toBe('malformed token: its payload is not a JSON object');
  });

  it('works inside the authenticator chain', async () => {
    const chain = new AuthenticatorChain([auth]);
    const token = await idp.sign();
    expect(chain.recognises(token)).toBe(true);
    expect((await chain.authenticate(token)).name).toBe('ada@example.com');
  });

  it('rejects insecure issuer configuration', () => {
    expect(() => authFor('http://idp.example.com')).toThrow(/must use https/);
    expect(() => authFor('not a url')).toThrow(/not a URL/);
    expect(() => authFor('https://idp.example.com')).not.toThrow();
  });
});
