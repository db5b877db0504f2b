import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SignJWT, decodeJwt, decodeProtectedHeader, exportSPKI, importJWK } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuiltinIdp, startBuiltinIdp } from '../../src/auth/idp/builtin.js';
import { type GatewayProcess, HOOP_BIN, LOCAL_PG_CONNECTION, directQuery, hoop, hoopDeviceLogin, pgBin, startGateway, tempDir } from '../support/hoop.js';
import { execa } from 'execa';

const AUDIENCE = 'urn:hoop:gateway';
const alice = { id: 'u-alice', username: 'alice', password: 'alice-pw', email: 'alice@example.com', name: 'Alice Engineer', groups: ['engineers'] };
const workload = { clientId: 'ci-bot', clientSecret: 'ci-bot-secret', groups: ['ci'], grants: ['client_credentials'] as const };

describe('OIDC login, workload identity and the native PostgreSQL listener', () => {
  let idp: BuiltinIdp;
  let otherIdp: BuiltinIdp;
  let gw: GatewayProcess;
  let sentinel: net.Server;
  let sentinelConnections = 0;
  const configDir = tempDir('login-cli');

  beforeAll(async () => {
    idp = await startBuiltinIdp({
      users: [alice],
      clients: [{ clientId: 'hoop-cli', grants: ['device'] }, workload],
      audience: AUDIENCE,
      accessTokenTtlSeconds: 6,
      pollIntervalSeconds: 1,
    });
    otherIdp = await startBuiltinIdp({ users: [alice], clients: [workload], audience: AUDIENCE });
    sentinel = net.createServer((s) => {
      sentinelConnections++;
      s.destroy();
    });
    await new Promise<void>((r) => sentinel.listen(0, '127.0.0.1', () => r()));
    gw = await startGateway({
      extraYaml: `auth:\n  oidc:\n    issuer: ${idp.issuer}\n    clientId: hoop-cli\n    audience: ${AUDIENCE}\n    groupsClaim: groups\n    clockToleranceSeconds: 1\nlisteners:\n  postgres: 127.0.0.1:0\n`,
      connectionsYaml: `${LOCAL_PG_CONNECTION}
  - name: sentinel
    type: postgres
    host: 127.0.0.1
    port: ${(sentinel.address() as net.AddressInfo).port}
    database: test
    user: postgres
`,
    });
  });

  afterAll(async () => {
    await gw?.stop();
    await idp?.close();
    await otherIdp?.close();
    sentinel?.close();
  });

  it('tells the CLI which identity provider to use', async () => {
    const res = await fetch(`${gw.url}/v1/auth/config`);
    expect(await res.json()).toEqual({ oidc: { issuer: idp.issuer, clientId: 'hoop-cli', audience: AUDIENCE } });
  });

  it('logs in with the device flow, keeps the tokens in a 0600 file and says so', async () => {
    const r = await hoopDeviceLogin(gw.url, configDir, alice);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/check that it shows the code [A-Z0-9-]+/);
    expect(r.stderr).toMatch(/no OS keychain is available here/);
    const done = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { identity: { name: string; groups: string[] }; credentialStore: string; path: string };
    expect(done.identity).toMatchObject({ name: 'alice@example.com', groups: ['engineers'] });
    expect(done.credentialStore).toBe('file');
    expect(statSync(done.path).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(readFileSync(done.path, 'utf8')) as { accessToken: string; refreshToken: string };
    expect(saved.refreshToken).toBeTruthy();
    // No token in what the CLI printed.
    expect(r.stdout + r.stderr).not.toContain(saved.accessToken);
  });

  it('says so clearly when the login is denied in the browser', async () => {
    const dir = tempDir('login-denied');
    const r = await hoopDeviceLogin(gw.url, dir, alice, { deny: true });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/hoop: the login was denied in the browser/);
  });

  it('whoami shows the identity, groups, gateway and expiry', async () => {
    const r = await hoop(['whoami', '--json'], { configDir });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const who = JSON.parse(String(r.stdout)) as Record<string, unknown>;
    expect(who).toMatchObject({ kind: 'user', name: 'alice@example.com', groups: ['engineers'], gateway: gw.url });
    expect(typeof who.tokenExpiresAt).toBe('string');
  });

  it('connect and exec work with that identity, and the records name the user and groups', async () => {
    const r = await hoop(['exec', 'pg-local', '-i', 'select 11 as v', '--json', '--agent-meta', 'model=test-model,task=T-42'], { configDir });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const { sessionId } = JSON.parse(String(r.stdout)) as { sessionId: string };
    const c = await hoop(['connect', 'pg-local', '--', 'psql', '-Atc', 'select 12'], { configDir });
    expect(c.exitCode, String(c.stderr)).toBe(0);
    expect(c.stdout).toBe('12');
    await new Promise((res) => setTimeout(res, 300));
    const show = await hoop(['sessions', 'show', sessionId, '--config', gw.configPath, '--json']);
    const body = JSON.parse(String(show.stdout)) as { session: { identityName: string; identityKind: string; groups: string[]; agentMeta: Record<string, string> }; events: { identity: { name: string } }[] };
    expect(body.session).toMatchObject({ identityName: 'alice@example.com', identityKind: 'user', groups: ['engineers'], agentMeta: { model: 'test-model', task: 'T-42' } });
    for (const e of body.events) expect(e.identity.name).toBe('alice@example.com');
  });

  it('renews the access token silently: an open session survives expiry and a new one opens without a prompt', async () => {
    const tunnel = spawn('node', [HOOP_BIN, 'connect', 'pg-local', '--json'], { env: { ...process.env, HOOP_CONFIG_DIR: configDir }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const port = await new Promise<number>((resolve) => {
        createInterface({ input: tunnel.stdout }).on('line', (line) => {
          const j = JSON.parse(line) as { status: string; port: number };
          if (j.status === 'ready') resolve(j.port);
        });
      });
      const before = JSON.parse(readFileSync(join(configDir, 'credentials.json'), 'utf8')) as { accessToken: string; expiresAt: number };
      const open = new pg.Client({ host: '127.0.0.1', port, user: 'hoop', database: 'pg-local' });
      await open.connect();
      expect((await open.query('select 1 as v')).rows[0].v).toBe(1);
      // Let the 6-second access token expire.
      await new Promise((res) => setTimeout(res, Math.max(0, before.expiresAt - Date.now()) + 1000));
      expect((await open.query('select 2 as v')).rows[0].v).toBe(2);
      const fresh = new pg.Client({ host: '127.0.0.1', port, user: 'hoop', database: 'pg-local' });
      await fresh.connect();
      expect((await fresh.query('select 3 as v')).rows[0].v).toBe(3);
      await fresh.end();
      await open.end();
      const after = JSON.parse(readFileSync(join(configDir, 'credentials.json'), 'utf8')) as { accessToken: string; expiresAt: number };
      expect(after.accessToken).not.toBe(before.accessToken);
      expect(after.expiresAt).toBeGreaterThan(before.expiresAt);
      // The old access token, now past expiry (and the gateway's 1 s clock tolerance), is refused.
      const res = await fetch(`${gw.url}/v1/connections`, { headers: { Authorization: `Bearer ${before.accessToken}` } });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/token expired at .*log in again/);
    } finally {
      tunnel.kill('SIGINT');
    }
  });

  it('refuses bad tokens with a clear message and opens no backend connection', async () => {
    const saved = JSON.parse(readFileSync(join(configDir, 'credentials.json'), 'utf8')) as { accessToken: string };
    const good = saved.accessToken;
    const [h, p, s] = good.split('.') as [string, string, string];
    const payload = decodeJwt(good);
    const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');

    const jwks = (await (await fetch(`${idp.issuer}/jwks`).catch(() => fetch(`${idp.issuer}/.well-known/jwks.json`))).json()) as { keys: { kid: string }[] };
    const header = decodeProtectedHeader(good);
    const publicJwk = jwks.keys.find((k) => k.kid === header.kid) ?? jwks.keys[0]!;
    const publicPem = await exportSPKI((await importJWK(publicJwk as never, header.alg)) as never);
    const hsWithPublicKey = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: header.kid! }).sign(new TextEncoder().encode(publicPem));

    const otherToken = await (async () => {
      const res = await fetch(`${otherIdp.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: workload.clientId, client_secret: workload.clientSecret, resource: AUDIENCE }),
      });
      return ((await res.json()) as { access_token: string }).access_token;
    })();

    const cases: [string, string, RegExp][] = [
      ['bad signature', `${h}.${b64({ ...payload, groups: ['admins'] })}.${s}`, /signature/],
      ['alg none', `${b64({ alg: 'none' })}.${p}.`, /alg "none"|unsigned/],
      ['HS256 signed with the public key', hsWithPublicKey, /HS256.*not allowed/],
      ['unknown kid', `${b64({ ...header, kid: 'no-such-key' })}.${p}.${s}`, /no-such-key/],
      ['wrong issuer (a second IdP)', otherToken, /issued by/],
      ['signed by a key the IdP never published', await resign(payload), /attacker/],
    ];
    for (const [what, token, message] of cases) {
      const res = await fetch(`${gw.url}/v1/connections`, { headers: { Authorization: `Bearer ${token}` } });
      expect(res.status, what).toBe(401);
      const body = (await res.json()) as { error: { message: string } };
      expect(body.error.message, what).toMatch(message);
      const tunnel = await hoop(['exec', 'sentinel', '-i', 'select 1', '--token', token, '--gateway', gw.url]);
      expect(tunnel.exitCode, what).toBe(3);
    }
    expect(sentinelConnections).toBe(0);
    expect(gw.log()).not.toContain(good);
  });

  it('refuses a token for another audience', async () => {
    const saved = JSON.parse(readFileSync(join(configDir, 'credentials.json'), 'utf8')) as { accessToken: string };
    const otherGw = await startGateway({ extraYaml: `auth:\n  oidc:\n    issuer: ${idp.issuer}\n    clientId: hoop-cli\n    audience: urn:hoop:other\n` });
    try {
      const res = await fetch(`${otherGw.url}/v1/connections`, { headers: { Authorization: `Bearer ${saved.accessToken}` } });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/wrong audience: expected "urn:hoop:other"/);
    } finally {
      await otherGw.stop();
    }
  });

  it('logs a workload in with client credentials as its own identity', async () => {
    const dir = tempDir('login-cc');
    const r = await hoop(['login', '--client-credentials', '--gateway', gw.url, '--json'], {
      configDir: dir,
      env: { HOOP_CLIENT_ID: workload.clientId, HOOP_CLIENT_SECRET: workload.clientSecret },
    });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const who = await hoop(['whoami', '--json'], { configDir: dir, env: { HOOP_CLIENT_ID: workload.clientId, HOOP_CLIENT_SECRET: workload.clientSecret } });
    expect(JSON.parse(String(who.stdout))).toMatchObject({ kind: 'workload', groups: ['ci'] });
  });

  it('serves psql on the native PostgreSQL listener with a token as the password', async () => {
    const token = String((await hoop(['token'], { configDir })).stdout).trim();
    const base = ['-h', '127.0.0.1', '-p', String(gw.postgresPort), '-U', 'alice', '-d', 'pg-local', '-X', '-Atc'];
    const ok = await execa(pgBin('psql'), [...base, 'select 99'], { env: { PGPASSWORD: token, PGSSLMODE: 'disable' }, reject: false });
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toBe('99');
    const bad = await execa(pgBin('psql'), [...base, 'select 99'], { env: { PGPASSWORD: 'hoop_sa_nope', PGSSLMODE: 'disable' }, reject: false });
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toMatch(/hoop: token refused: unknown service-account token/);
    const unknown = await execa(pgBin('psql'), ['-h', '127.0.0.1', '-p', String(gw.postgresPort), '-U', 'alice', '-d', 'nope', '-X', '-Atc', 'select 1'], { env: { PGPASSWORD: token, PGSSLMODE: 'disable' }, reject: false });
    expect(unknown.stderr).toMatch(/no PostgreSQL connection named "nope"/);
    expect(await directQuery("select count(*) from pg_stat_activity where application_name = 'psql' and state = 'active' and query like 'select 99%'")).toBe('0');
  });

  it('never writes a token to the gateway log or the store', async () => {
    const saved = JSON.parse(readFileSync(join(configDir, 'credentials.json'), 'utf8')) as { accessToken: string; refreshToken: string };
    const store = readdirSync(join(gw.dir, 'data')).map((f) => readFileSync(join(gw.dir, 'data', f)).toString('latin1')).join('');
    for (const secret of [saved.accessToken, saved.refreshToken, saved.accessToken.split('.')[2]!]) {
      expect(store).not.toContain(secret);
      expect(gw.log()).not.toContain(secret);
    }
  });

  it('hoop logout forgets the login', async () => {
    const r = await hoop(['logout'], { configDir });
    expect(r.exitCode).toBe(0);
    const who = await hoop(['whoami'], { configDir, env: { HOOP_GATEWAY: gw.url } });
    expect(who.exitCode).toBe(3);
    expect(who.stderr).toMatch(/not logged in/);
  });
});

/** The same claims, signed by a key the IdP never published. */
async function resign(payload: Record<string, unknown>): Promise<string> {
  const { generateKeyPair } = await import('jose');
  const { privateKey } = await generateKeyPair('RS256');
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: 'attacker' }).sign(privateKey);
}
