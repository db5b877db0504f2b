import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCancelRequest } from '../../src/protocols/postgres/writer.js';
import { type ConnectProcess, type GatewayProcess, directQuery, hoop, pgBin, psql, rssBytes, startConnect, startGateway, tempDir } from '../support/hoop.js';

/**
 * The data path end to end: real psql/pgbench/pg → `hoop connect` → WebSocket tunnel →
 * `hoop gateway` → the real PostgreSQL at 127.0.0.1:5432.
 */
describe('PostgreSQL through the gateway', () => {
  let gw: GatewayProcess;
  let token: string;
  let tunnel: ConnectProcess;
  const table = `hoop_e2e_${process.pid}`;

  beforeAll(async () => {
    gw = await startGateway();
    token = await gw.createToken('e2e-agent', ['engineers', 'admins']);
    tunnel = await startConnect('pg-local', gw.url, token);
    await directQuery(`drop table if exists ${table}; create table ${table} (id int primary key, name text)`);
  });

  afterAll(async () => {
    await tunnel?.stop();
    await gw?.stop();
    await directQuery(`drop table if exists ${table}`).catch(() => {});
  });

  it('runs simple queries with psql', async () => {
    const r = await psql(tunnel.port, ['-Atc', 'select 40 + 2']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('42');
  });

  it('keeps a transaction and survives an error on the same connection', async () => {
    const script = [
      'begin;',
      `insert into ${table} values (1, 'one');`,
      `insert into ${table} values (2, 'two');`,
      'commit;',
      'begin;',
      `insert into ${table} values (3, 'three');`,
      'rollback;',
      'select * from no_such_table_hoop;',
      `select count(*) from ${table};`,
    ].join('\n');
    const r = await psql(tunnel.port, ['-At'], { input: script });
    expect(r.stderr).toContain('relation "no_such_table_hoop" does not exist');
    expect(String(r.stdout).trim().split('\n').at(-1)).toBe('2');
  });

  it('copies data in and out with \\copy', async () => {
    const dir = tempDir('copy');
    const inFile = join(dir, 'in.csv');
    const outFile = join(dir, 'out.csv');
    writeFileSync(inFile, Array.from({ length: 1000 }, (_, i) => `${i + 100},name-${i}`).join('\n') + '\n');
    const r1 = await psql(tunnel.port, ['-c', `\\copy ${table} from '${inFile}' with (format csv)`]);
    expect(r1.stderr).toBe('');
    expect(r1.stdout).toContain('COPY 1000');
    const r2 = await psql(tunnel.port, ['-c', `\\copy (select * from ${table} where id >= 100 order by id) to '${outFile}' with (format csv)`]);
    expect(r2.stderr).toBe('');
    expect(readFileSync(outFile, 'utf8')).toBe(readFileSync(inFile, 'utf8'));
  });

  it('runs pgbench (extended and prepared) with zero failed transactions', async () => {
    const env = { PGHOST: '127.0.0.1', PGPORT: String(tunnel.port), PGUSER: 'hoop', PGDATABASE: 'pg-local', PGSSLMODE: 'disable' };
    const init = await execa(pgBin('pgbench'), ['-i', '-s', '1', '-q', '--foreign-keys'], { env, reject: false });
    expect(init.exitCode, String(init.stderr)).toBe(0);
    for (const mode of ['extended', 'prepared']) {
      const r = await execa(pgBin('pgbench'), ['-M', mode, '-c', '2', '-t', '200', '-n'], { env, reject: false });
      expect(r.exitCode, String(r.stderr)).toBe(0);
      expect(r.stdout).toMatch(/number of transactions actually processed: 400\/400/);
      expect(r.stdout).toMatch(/number of failed transactions: 0 /);
    }
  });

  it('cancels a running query with a CancelRequest (node pg, key from BackendKeyData)', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: tunnel.port, user: 'hoop', database: 'pg-local' });
    await client.connect();
    const c = client as unknown as { processID: number; secretKey: number };
    const running = client.query('select pg_sleep(30)').then(
      () => 'finished',
      (err: { code?: string }) => err.code,
    );
    await new Promise((r) => setTimeout(r, 500));
    const key = Buffer.alloc(4);
    key.writeInt32BE(c.secretKey, 0);
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(tunnel.port, '127.0.0.1', () => s.end(encodeCancelRequest(c.processID, key)));
      s.on('close', () => resolve());
      s.on('error', reject);
    });
    expect(await running).toBe('57014');
    // The same connection keeps working after the cancel.
    expect((await client.query('select 1 as one')).rows[0].one).toBe(1);
    await client.end();
  });

  it("cancels psql's query on SIGINT (Ctrl-C semantics)", async () => {
    const child = spawn(pgBin('psql'), ['-h', '127.0.0.1', '-p', String(tunnel.port), '-U', 'hoop', '-d', 'pg-local', '-X', '-c', 'select pg_sleep(30)'], {
      env: { ...process.env, PGSSLMODE: 'disable' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise((r) => setTimeout(r, 1000));
    const started = Date.now();
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(stderr).toContain('canceling statement due to user request');
    expect(code).not.toBe(0);
    expect(Date.now() - started).toBeLessThan(25_000);
  });

  it('streams a 200 MB result with bounded gateway memory', async () => {
    const gatewayPid = gw.child.pid!;
    const connectPid = tunnel.child.pid!;
    const before = rssBytes(gatewayPid);
    let peakGateway = before;
    let peakConnect = rssBytes(connectPid);
    const sampler = setInterval(() => {
      peakGateway = Math.max(peakGateway, rssBytes(gatewayPid));
      peakConnect = Math.max(peakConnect, rssBytes(connectPid));
    }, 50);
    // 200,000 rows × 1 KB of text ≈ 200 MB of DataRows, consumed by a real client at its own pace.
    const child = spawn(
      pgBin('psql'),
      ['-h', '127.0.0.1', '-p', String(tunnel.port), '-U', 'hoop', '-d', 'pg-local', '-X', '-Atc', "copy (select repeat('x', 1000) from generate_series(1, 200000)) to stdout"],
      { env: { ...process.env, PGSSLMODE: 'disable' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let bytes = 0;
    child.stdout.on('data', (d: Buffer) => (bytes += d.length));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    clearInterval(sampler);
    expect(code).toBe(0);
    expect(bytes).toBe(200_000 * 1001);
    const limit = 120 * 1024 * 1024;
    expect(peakGateway - before, `gateway RSS grew from ${before} to ${peakGateway}`).toBeLessThan(limit);
    expect(peakConnect, `hoop connect RSS peaked at ${peakConnect}`).toBeLessThan(250 * 1024 * 1024);
  });

  it('records every statement with the identity, and `hoop sessions show` prints them', async () => {
    const marker = `marker_${Date.now()}`;
    const r = await psql(tunnel.port, ['-Atc', `select '${marker}'`]);
    expect(r.stdout).toBe(marker);
    // Recording is batched off the relay path; give the batch its flush interval.
    await new Promise((res) => setTimeout(res, 300));
    const list = await hoop(['sessions', '--json', '--all', '--gateway', gw.url, '--token', token, '--limit', '1000']);
    expect(list.exitCode, String(list.stderr)).toBe(0);
    const sessions = (JSON.parse(String(list.stdout)) as { sessions: { id: string; identityName: string; groups: string[]; statements: number }[] }).sessions;
    expect(sessions.length).toBeGreaterThan(5);
    for (const s of sessions) expect(s.identityName).toBe('e2e-agent');
    let found: string | undefined;
    for (const s of sessions) {
      const show = await hoop(['sessions', 'show', s.id, '--json', '--gateway', gw.url, '--token', token]);
      const body = JSON.parse(String(show.stdout)) as { events: { type: string; sql?: string; identity: { name: string; groups: string[] }; result?: { columns: string[]; rows: string[][]; truncated: boolean } }[] };
      for (const e of body.events) {
        expect(e.identity.name).toBe('e2e-agent');
        expect(e.identity.groups).toEqual(['engineers', 'admins']);
      }
      const hit = body.events.find((e) => e.type === 'statement' && e.sql?.includes(marker));
      if (hit) {
        found = s.id;
        // The first rows of the result are kept (masked) for replay.
        expect(hit.result).toEqual({ columns: ['?column?'], rows: [[marker]], truncated: false });
      }
    }
    expect(found).toBeDefined();
    const text = await hoop(['sessions', 'show', found!, '--gateway', gw.url, '--token', token]);
    expect(text.stdout).toContain(`select '${marker}'`);
    expect(text.stdout).toContain('e2e-agent');
    // The pgbench statements are there too, with their parameters (extended protocol).
    const all = await hoop(['sessions', '--json', '--all', '--config', gw.configPath, '--limit', '1000']);
    expect(JSON.parse(String(all.stdout)).sessions.length).toBe(sessions.length);
  });
});
