import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GatewayProcess, hoop, pgBin, startGateway, tempDir } from '../support/hoop.js';

/** The gateway serving HTTPS, tunnels over wss://, and TLS on its native PostgreSQL port. */
describe('gateway over TLS', () => {
  const dir = tempDir('tls');
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  let gw: GatewayProcess;
  let token: string;

  beforeAll(async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    gw = await startGateway({ extraYaml: `tls:\n  cert: \${file:${cert}}\n  key: \${file:${key}}\nlisteners:\n  postgres: 127.0.0.1:0\n` });
    token = await gw.createToken('tls-agent');
  });

  afterAll(async () => {
    await gw?.stop();
  });

  it('serves the API and tunnels over HTTPS to a client that trusts its certificate', async () => {
    expect(gw.url).toMatch(/^https:\/\//);
    const env = { NODE_EXTRA_CA_CERTS: cert };
    const list = await hoop(['connections', '--json', '--gateway', gw.url, '--token', token], { env });
    expect(list.exitCode, String(list.stderr)).toBe(0);
    const q = await hoop(['exec', 'pg-local', '-i', 'select 5 as five', '--json', '--gateway', gw.url, '--token', token], { env });
    expect(q.exitCode, String(q.stderr)).toBe(0);
    expect(JSON.parse(String(q.stdout)).rows).toEqual([{ five: 5 }]);
  });

  it('refuses a client that does not trust the certificate', async () => {
    const r = await hoop(['connections', '--gateway', gw.url, '--token', token]);
    expect(r.exitCode).toBe(5);
  });

  it('accepts psql over TLS (verify-full) on the native PostgreSQL port', async () => {
    const r = await execa(pgBin('psql'), [`host=127.0.0.1 port=${gw.postgresPort} dbname=pg-local user=tls-agent sslmode=verify-full sslrootcert=${cert}`, '-X', '-Atc', 'select ssl from pg_stat_ssl where pid = pg_backend_pid()'], {
      env: { PGPASSWORD: token },
      reject: false,
    });
    expect(r.stderr).toBe('');
    // The backend leg is plain (tls: disable), the client leg is TLS: the query runs either way.
    expect(['t', 'f']).toContain(String(r.stdout));
    const ssl = await execa(pgBin('psql'), [`host=127.0.0.1 port=${gw.postgresPort} dbname=pg-local user=tls-agent sslmode=require`, '-X', '-Atc', 'select 1'], { env: { PGPASSWORD: token }, reject: false });
    expect(ssl.stdout).toBe('1');
  });
});
