import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type GatewayProcess, LOCAL_PG_CONNECTION, directQuery, psql, startConnect, startGateway } from '../support/hoop.js';

/** Opens a tunnel WebSocket and reports the HTTP status of the upgrade (101 when accepted). */
function upgradeStatus(url: string, connection: string, token?: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/tunnel/${connection}`, {
      headers: token === undefined ? {} : { Authorization: `Bearer ${token}` },
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('open', () => {
      resolve(101);
      ws.close();
    });
    ws.once('error', () => resolve(-1));
  });
}

describe('authentication at the gateway', () => {
  let gw: GatewayProcess;
  let sentinel: net.Server;
  let sentinelConnections = 0;
  let token: string;

  beforeAll(async () => {
    // A stand-in backend that only counts connections: proof that a refused token opens none.
    sentinel = net.createServer((s) => {
      sentinelConnections++;
      s.destroy();
    });
    await new Promise<void>((r) => sentinel.listen(0, '127.0.0.1', () => r()));
    const port = (sentinel.address() as net.AddressInfo).port;
    gw = await startGateway({
      connectionsYaml: `${LOCAL_PG_CONNECTION}
  - name: sentinel
    type: postgres
    host: 127.0.0.1
    port: ${port}
    database: test
    user: postgres
    password: \${env:SENTINEL_PASSWORD}
`,
      env: { SENTINEL_PASSWORD: 'never-shown-secret' },
    });
    token = await gw.createToken('auth-agent');
  });

  afterAll(async () => {
    await gw?.stop();
    sentinel?.close();
  });

  it('runs under the flags its launcher gives node, in the launcher\'s own process', () => {
    const started = gw
      .log()
      .split('\n')
      .map((l) => {
        try {
          return JSON.parse(l) as { msg?: string; nodeFlags?: string[]; pid?: number };
        } catch {
          return {};
        }
      })
      .find((e) => e.msg === 'gateway listening');
    // Without it, compiling the SQL parser's WebAssembly takes ~500 MB (bin/hoop, docs/benchmarks.md).
    expect(started?.nodeFlags).toContain('--liftoff-only');
    // exec, not a child: signals sent to the pid the test started reach the gateway itself.
    expect(started?.pid).toBe(gw.child.pid);
  });

  it('serves /healthz without a token', async () => {
    const res = await fetch(`${gw.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('lists connections by name and type only, never credentials', async () => {
    const res = await fetch(`${gw.url}/v1/connections`, { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ connections: [{ name: 'pg-local', type: 'postgres' }, { name: 'sentinel', type: 'postgres' }] });
    expect(text).not.toContain('never-shown-secret');
    expect(text).not.toContain('5432');
  });

  it('refuses API calls with a missing, malformed or unknown token', async () => {
    for (const headers of [{}, { Authorization: 'Bearer' }, { Authorization: 'Basic abc' }, { Authorization: 'Bearer hoop_sa_not-a-real-token' }, { Authorization: 'Bearer eyJhbGciOiJub25lIn0.e30.' }]) {
      const res = await fetch(`${gw.url}/v1/connections`, { headers });
      expect(res.status).toBe(401);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('HOOP_UNAUTHENTICATED');
      expect(body.error.message.length).toBeGreaterThan(5);
    }
  });

  it('refuses tunnels with missing, wrong and revoked tokens before any backend connection opens', async () => {
    const revokedToken = await gw.createToken('to-be-revoked');
    expect(await upgradeStatus(gw.url, 'sentinel', revokedToken)).toBe(101);
    await new Promise((r) => setTimeout(r, 200));
    expect(sentinelConnections).toBe(0); // a tunnel alone opens nothing until the client speaks
    await gw.revoke('to-be-revoked');

    for (const t of [undefined, 'hoop_sa_wrong', revokedToken, '']) {
      expect(await upgradeStatus(gw.url, 'sentinel', t)).toBe(401);
    }
    expect(sentinelConnections).toBe(0);
  });

  it('gives psql a clear error for a revoked token and opens no backend session', async () => {
    const agentToken = await gw.createToken('soon-revoked');
    const tunnel = await startConnect('pg-local', gw.url, agentToken);
    try {
      const marker = `hoop_marker_${Date.now()}`;
      const backends = `select coalesce(string_agg(pid::text, ',' order by pid), '') from pg_stat_activity where application_name = '${marker}'`;
      const ok = await psql(tunnel.port, ['-Atc', `select pg_backend_pid() in (select pid from pg_stat_activity where application_name = '${marker}')`], { env: { PGAPPNAME: marker } });
      expect(ok.stdout).toBe('t'); // positive control: a valid token reaches the backend under that name
      // The backend it used may stay, idle, in the gateway's pool: what matters is that no other appears.
      const before = await directQuery(backends);
      await gw.revoke('soon-revoked');
      const refused = await psql(tunnel.port, ['-Atc', 'select 1'], { env: { PGAPPNAME: marker } });
      expect(refused.exitCode).not.toBe(0);
      expect(refused.stderr).toContain('hoop: the gateway refused the token');
      expect(refused.stderr).toContain('revoked');
      expect(await directQuery(backends)).toBe(before);
    } finally {
      await tunnel.stop();
    }
  });

  it('refuses an unknown connection with 404', async () => {
    expect(await upgradeStatus(gw.url, 'nope', token)).toBe(404);
  });

  it('never writes the backend password or tokens to its log', () => {
    expect(gw.log()).not.toContain('never-shown-secret');
    expect(gw.log()).not.toContain(token);
  });
});
