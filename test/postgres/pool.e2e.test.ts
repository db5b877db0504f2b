import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Backend, Frontend } from '../../src/protocols/postgres/messages.js';
import { decodeErrorFields } from '../../src/protocols/postgres/reader.js';
import { encodePasswordMessage, encodeStartupMessage, encodeTerminate, encodeTyped } from '../../src/protocols/postgres/writer.js';
import { type GatewayProcess, directQuery, hoop, pgBin, startGateway, tempDir } from '../support/hoop.js';

/**
 * Session pooling of backend connections, end to end: real clients on the gateway's native
 * PostgreSQL listener, the real PostgreSQL at 127.0.0.1:5432, and what that server reports about
 * its own backends (pg_backend_pid(), pg_stat_activity) as the ground truth.
 * Each test has its own connection name, so the pools of different tests never meet.
 */
const connection = (name: string, extra = ''): string => `
  - name: ${name}
    type: postgres
    host: 127.0.0.1
    port: 5432
    database: test
    user: postgres
    tls: disable${extra}`;

describe('backend connection pool', () => {
  let gw: GatewayProcess;
  let token: string;
  const table = `hoop_pool_${process.pid}`;
  const role = `hoop_pool_role_${process.pid}`;

  beforeAll(async () => {
    gw = await startGateway({
      extraYaml: 'listeners:\n  postgres: 127.0.0.1:0\n',
      connectionsYaml: [
        connection('pool-reuse'),
        connection('pool-leak', '\n    pool: { maxIdle: 2, idleTimeoutMs: 120000 }'),
        connection('pool-tx'),
        connection('pool-off', '\n    pool: { enabled: false }'),
        connection('pool-killed'),
        connection('pool-bench'),
        connection('pool-cap', '\n    pool: { maxIdle: 1, maxIdleTotal: 1 }'),
      ].join(''),
    });
    token = await gw.createToken('pool-agent', ['engineers', 'admins']);
    await directQuery(`drop table if exists ${table}; create table ${table} (id int primary key); drop role if exists ${role}; create role ${role} nologin`);
  });

  afterAll(async () => {
    await gw?.stop();
    await directQuery(`drop table if exists ${table}; drop role if exists ${role}`).catch(() => {});
  });

  /** A node-pg client on the native listener, with every ParameterStatus it was sent, latest value per name. */
  async function connect(database: string, opts: { applicationName?: string } = {}): Promise<{ client: pg.Client; params: Map<string, string> }> {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: gw.postgresPort!,
      user: 'pool-agent',
      password: token,
      database,
      ...(opts.applicationName ? { application_name: opts.applicationName } : {}),
    });
    const params = new Map<string, string>();
    const conn = (client as unknown as { connection: NodeJS.EventEmitter }).connection;
    conn.on('parameterStatus', (m: { parameterName: string; parameterValue: string }) => params.set(m.parameterName, m.parameterValue));
    await client.connect();
    return { client, params };
  }

  async function one(client: pg.Client, sql: string): Promise<string> {
    const r = await client.query({ text: sql, rowMode: 'array' });
    return String((r.rows[0] as unknown[])[0]);
  }

  async function backendPid(client: pg.Client): Promise<number> {
    return Number(await one(client, 'select pg_backend_pid()'));
  }

  /**
   * Waits until the server shows the backend idle after the pool's reset (its last query is the
   * reset's parameter read): from then on the gateway holds it as an idle pooled connection.
   */
  async function waitPooled(pid: number): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const row = await directQuery(`select state || '|' || query from pg_stat_activity where pid = ${pid}`);
      if (row.startsWith('idle|') && row.includes('pg_catalog.current_setting')) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`backend ${pid} was not returned to the pool`);
  }

  async function waitGone(pid: number): Promise<void> {
    for (let i = 0; i < 200; i++) {
      if ((await directQuery(`select count(*) from pg_stat_activity where pid = ${pid}`)) === '0') return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`backend ${pid} is still there`);
  }

  it('serves two clients in a row from one backend, and records which sessions reused it', async () => {
    const first = await connect('pool-reuse', { applicationName: 'pool-a' });
    const pid = await backendPid(first.client);
    await first.client.end();
    await waitPooled(pid);

    const second = await connect('pool-reuse', { applicationName: 'pool-a' });
    expect(await backendPid(second.client)).toBe(pid);
    expect(await one(second.client, 'select 40 + 2')).toBe('42');
    await second.client.end();
    await waitPooled(pid);

    // Other startup parameters make another session: not served from that backend.
    const other = await connect('pool-reuse', { applicationName: 'pool-b' });
    expect(await backendPid(other.client)).not.toBe(pid);
    expect(await one(other.client, 'show application_name')).toBe('pool-b');
    expect(other.params.get('application_name')).toBe('pool-b');
    await other.client.end();

    const list = await hoop(['sessions', '--connection', 'pool-reuse', '--config', gw.configPath, '--json']);
    const ids = (JSON.parse(String(list.stdout)) as { sessions: { id: string }[] }).sessions.map((s) => s.id);
    const backends: string[] = [];
    for (const id of ids) {
      const show = await hoop(['sessions', 'show', id, '--config', gw.configPath, '--json']);
      const { events } = JSON.parse(String(show.stdout)) as { events: { type: string; clientInfo?: Record<string, string> }[] };
      const start = events.find((e) => e.type === 'session.start')!;
      backends.push(`${start.clientInfo!.application_name}:${start.clientInfo!.backend}`);
    }
    expect(backends.sort()).toEqual(['pool-a:new', 'pool-a:reused', 'pool-b:new']);
  });

  it('leaves nothing of one client for the next: settings, role, temp tables, prepared statements, cursors, locks, LISTEN', async () => {
    const defaults = { timezone: await directQuery('show timezone'), searchPath: await directQuery('show search_path') };
    const first = await connect('pool-leak');
    const c = first.client;
    const pid = await backendPid(c);
    await c.query(`set timezone = 'Pacific/Chatham'`);
    await c.query(`set application_name = 'leaky'`);
    await c.query('set search_path = pg_catalog');
    await c.query(`set role ${role}`);
    await c.query('create temp table hoop_pool_tmp (x int)');
    await c.query('prepare hoop_pool_stmt as select 1');
    await c.query({ name: 'hoop_pool_named', text: 'select 2' });
    await c.query('begin');
    await c.query('declare hoop_pool_cursor cursor with hold for select 1');
    await c.query('commit');
    await c.query('select pg_advisory_lock(424242)');
    await c.query('listen hoop_pool_channel');
    expect(first.params.get('TimeZone')).toBe('Pacific/Chatham');
    expect(first.params.get('application_name')).toBe('leaky');
    expect(first.params.get('is_superuser')).toBe('off');
    await c.end();
    await waitPooled(pid);

    const second = await connect('pool-leak');
    const n = second.client;
    expect(await backendPid(n)).toBe(pid);
    expect(await one(n, 'show timezone')).toBe(defaults.timezone);
    expect(await one(n, 'show application_name')).toBe('');
    expect(await one(n, 'show search_path')).toBe(defaults.searchPath);
    expect(await one(n, 'select current_user')).toBe('postgres');
    expect(await one(n, "select count(*) from pg_class where relname = 'hoop_pool_tmp'")).toBe('0');
    expect(await one(n, 'select count(*) from pg_prepared_statements')).toBe('0');
    expect(await one(n, 'select count(*) from pg_cursors')).toBe('0');
    expect(await one(n, "select count(*) from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()")).toBe('0');
    expect(await one(n, 'select count(*) from pg_listening_channels()')).toBe('0');
    // The same statement name again: it would fail if the previous client's were still prepared.
    expect((await n.query({ name: 'hoop_pool_named', text: 'select 3 as v' })).rows[0].v).toBe(3);

    // What the new client was told at startup is what a fresh connection is told.
    const fresh = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
    const freshParams = new Map<string, string>();
    (fresh as unknown as { connection: NodeJS.EventEmitter }).connection.on('parameterStatus', (m: { parameterName: string; parameterValue: string }) =>
      freshParams.set(m.parameterName, m.parameterValue),
    );
    await fresh.connect();
    await fresh.end();
    expect(Object.fromEntries(second.params)).toEqual(Object.fromEntries(freshParams));
    expect(second.params.get('TimeZone')).toBe(defaults.timezone);
    expect(second.params.get('is_superuser')).toBe('on');
    expect(second.params.get('server_version')).toBe(freshParams.get('server_version'));
    await n.end();
  });

  it('never reuses a backend left inside a transaction, and its work is rolled back', async () => {
    const first = await connect('pool-tx');
    const pid = await backendPid(first.client);
    await first.client.query('begin');
    await first.client.query(`insert into ${table} values (1)`);
    await first.client.end();
    await waitGone(pid);

    const second = await connect('pool-tx');
    expect(await backendPid(second.client)).not.toBe(pid);
    await second.client.end();
    expect(await directQuery(`select count(*) from ${table} where id = 1`)).toBe('0');
  });

  it('never reuses a backend left in an unfinished extended-protocol pipeline (no Sync), and its work is not committed', async () => {
    const raw = await RawClient.open(gw.postgresPort!, 'pool-tx', token);
    const pid = Number(await raw.simpleQueryValue('select pg_backend_pid()'));
    // Parse, Bind, Execute and Flush, but no Sync: the insert runs in an implicit transaction that only Sync would commit.
    raw.send(
      Buffer.concat([
        encodeTyped(Frontend.parse, Buffer.concat([cstr(''), cstr(`insert into ${table} values (2)`), int16(0)])),
        encodeTyped(Frontend.bind, Buffer.concat([cstr(''), cstr(''), int16(0), int16(0), int16(0)])),
        encodeTyped(Frontend.execute, Buffer.concat([cstr(''), int32(0)])),
        encodeTyped(Frontend.flush, Buffer.alloc(0)),
      ]),
    );
    expect(await raw.waitFor(Backend.commandComplete)).toBe('INSERT 0 1');
    raw.end(encodeTerminate());
    await waitGone(pid);
    expect(await directQuery(`select count(*) from ${table} where id = 2`)).toBe('0');
  });

  it('opens a new backend for each client when pooling is off', async () => {
    const first = await connect('pool-off');
    const pid = await backendPid(first.client);
    await first.client.end();
    await waitGone(pid);
    const second = await connect('pool-off');
    expect(await backendPid(second.client)).not.toBe(pid);
    await second.client.end();
  });

  it('drops an idle pooled backend that the server ended, and the next client connects as usual', async () => {
    const first = await connect('pool-killed');
    const pid = await backendPid(first.client);
    await first.client.end();
    await waitPooled(pid);
    expect(await directQuery(`select pg_terminate_backend(${pid})`)).toBe('t');
    await waitGone(pid);

    const second = await connect('pool-killed');
    expect(await backendPid(second.client)).not.toBe(pid);
    expect(await one(second.client, 'select 7')).toBe('7');
    await second.client.end();
  });

  it('keeps at most maxIdle idle backends per kind of session and maxIdleTotal per connection', async () => {
    const a = await connect('pool-cap', { applicationName: 'cap-1' });
    const pidA = await backendPid(a.client);
    await a.client.end();
    await waitPooled(pidA);

    // Another kind of session: its backend takes the connection's only idle place, the older one is closed.
    const b = await connect('pool-cap', { applicationName: 'cap-2' });
    const pidB = await backendPid(b.client);
    expect(pidB).not.toBe(pidA);
    await b.client.end();
    await waitGone(pidA);
    await waitPooled(pidB);

    // Two at once of one kind: the first back is kept, the second finds its place taken and is closed.
    const c = await connect('pool-cap', { applicationName: 'cap-2' });
    const d = await connect('pool-cap', { applicationName: 'cap-2' });
    expect(await backendPid(c.client)).toBe(pidB);
    const pidD = await backendPid(d.client);
    expect(pidD).not.toBe(pidB);
    await c.client.end();
    await d.client.end();
    await waitGone(pidD);
    await waitPooled(pidB);
  });

  it('runs pgbench with a new connection per transaction (-C) and no failed transaction', async () => {
    const dir = tempDir('pool-bench');
    const script = join(dir, 'tx.sql');
    writeFileSync(script, `\\set v random(1, 1000)\nbegin;\nselect :v;\nselect count(*) from pg_class where oid < :v;\nend;\n`);
    const env = { PGHOST: '127.0.0.1', PGPORT: String(gw.postgresPort), PGUSER: 'pool-agent', PGPASSWORD: token, PGDATABASE: 'pool-bench', PGSSLMODE: 'disable' };
    const r = await execa(pgBin('pgbench'), ['-n', '-C', '-c', '4', '-j', '4', '-T', '3', '-f', script], { env, reject: false });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(r.stdout).toMatch(/number of failed transactions: 0 /);
    const processed = /number of transactions actually processed: (\d+)/.exec(String(r.stdout));
    expect(Number(processed?.[1])).toBeGreaterThan(0);
    expect(String(r.stderr)).not.toMatch(/error|FATAL/i);
  });
});

const cstr = (s: string): Buffer => Buffer.from(`${s}\0`, 'utf8');
const int16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n, 0);
  return b;
};
const int32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n, 0);
  return b;
};

/** A client speaking the wire protocol by hand, for message sequences no driver sends. */
class RawClient {
  private buffered = Buffer.alloc(0);
  private frames: { code: number; body: Buffer }[] = [];
  private wake: (() => void) | null = null;
  private closed = false;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, d]);
      while (this.buffered.length >= 5 && this.buffered.length >= 1 + this.buffered.readInt32BE(1)) {
        const len = this.buffered.readInt32BE(1);
        this.frames.push({ code: this.buffered[0]!, body: this.buffered.subarray(5, 1 + len) });
        this.buffered = this.buffered.subarray(1 + len);
      }
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  static async open(port: number, database: string, password: string): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    const c = new RawClient(socket);
    socket.write(encodeStartupMessage({ user: 'pool-agent', database }));
    const auth = await c.next();
    if (auth.code !== Backend.authentication || auth.body.readInt32BE(0) !== 3) throw new Error('expected a cleartext password request');
    socket.write(encodePasswordMessage(password));
    await c.waitFor(Backend.readyForQuery);
    return c;
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  end(bytes: Buffer): void {
    this.socket.end(bytes);
  }

  async simpleQueryValue(sql: string): Promise<string> {
    this.send(encodeTyped(Frontend.query, cstr(sql)));
    let value: string | undefined;
    for (;;) {
      const f = await this.next();
      if (f.code === Backend.dataRow) {
        const len = f.body.readInt32BE(2);
        value = f.body.subarray(6, 6 + len).toString('utf8');
      }
      if (f.code === Backend.readyForQuery) return value!;
    }
  }

  /** Reads up to the first message with `code`; returns its body as text (up to its first NUL). */
  async waitFor(code: number): Promise<string> {
    for (;;) {
      const f = await this.next();
      if (f.code === Backend.errorResponse) throw new Error(`server error: ${decodeErrorFields(f.body).get(0x4d)}`);
      if (f.code === code) {
        const nul = f.body.indexOf(0);
        return f.body.subarray(0, nul < 0 ? f.body.length : nul).toString('utf8');
      }
    }
  }

  private async next(): Promise<{ code: number; body: Buffer }> {
    for (;;) {
      const f = this.frames.shift();
      if (f) return f;
      if (this.closed) throw new Error('connection closed');
      await new Promise<void>((r) => (this.wake = r));
    }
  }
}
