import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DemoDatabase, startDemoDatabase } from '../../src/demo/database.js';
import { DEMO_CUSTOMER_COUNT, DEMO_ORDER_COUNT, generateDemoData } from '../../src/demo/schema.js';

/** Written here rather than imported, so a bug in the generator's own Luhn code cannot hide. */
function luhn(number: string): boolean {
  let sum = 0;
  for (let i = 0; i < number.length; i++) {
    let d = Number(number[number.length - 1 - i]);
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return /^\d+$/.test(number) && sum % 10 === 0;
}

function isPlausibleCard(n: string): boolean {
  return (/^4\d{15}$/.test(n) || /^5[1-5]\d{14}$/.test(n) || /^3[47]\d{13}$/.test(n)) && luhn(n);
}

function isPlausibleSsn(s: string): boolean {
  const m = /^(\d{3})-(\d{2})-(\d{4})$/.exec(s);
  if (!m) return false;
  const [, area, group, serial] = m;
  return area !== '000' && area !== '666' && !area!.startsWith('9') && group !== '00' && serial !== '0000';
}

function client(db: DemoDatabase, extra: Partial<pg.ClientConfig> = {}): pg.Client {
  return new pg.Client({ host: db.host, port: db.port, user: db.user, database: db.database, ...extra });
}

async function psql(db: DemoDatabase, args: string[], input?: string) {
  return execa('psql', ['-X', '-h', db.host, '-p', String(db.port), '-U', db.user, '-d', db.database, '-v', 'ON_ERROR_STOP=1', ...args], {
    env: { PGCONNECT_TIMEOUT: '10' },
    timeout: 30_000,
    ...(input === undefined ? {} : { input }),
  });
}

const expected = generateDemoData();

describe('demo database (PGlite over the wire protocol)', () => {
  let db: DemoDatabase;

  beforeAll(async () => {
    const t0 = performance.now();
    db = await startDemoDatabase();
    console.log(`startDemoDatabase (in memory): ${Math.round(performance.now() - t0)} ms`);
  }, 60_000);

  afterAll(async () => {
    await db?.close();
  }, 60_000);

  it('generates the promised amount of plausible synthetic data', () => {
    expect(expected.customers).toHaveLength(DEMO_CUSTOMER_COUNT);
    expect(expected.orders).toHaveLength(DEMO_ORDER_COUNT);
    for (const c of expected.customers) {
      expect(isPlausibleCard(c.cardNumber), c.cardNumber).toBe(true);
      expect(isPlausibleSsn(c.ssn), c.ssn).toBe(true);
    }
    expect(expected.customers.some((c) => c.notes?.includes('sk_test_'))).toBe(true);
    expect(expected.customers.some((c) => /@example\.\w+/.test(c.notes ?? ''))).toBe(true);
    // Deterministic: same seed, same data.
    expect(generateDemoData()).toEqual(expected);
  });

  it('answers node-postgres with parameters (extended protocol) and ignores unknown startup parameters', async () => {
    const c = client(db, { application_name: 'hoop-demo-test', options: '-c search_path=public' });
    await c.connect();
    try {
      const us = expected.customers.filter((x) => x.country === 'US').length;
      expect(us).toBeGreaterThan(0);
      const r = await c.query<{ count: string }>('select count(*) from customers where country = $1', ['US']);
      expect(Number(r.rows[0]!.count)).toBe(us);

      const cards = await c.query<{ card_number: string; ssn: string }>('select card_number, ssn from customers where id <= $1 order by id', [1000]);
      expect(cards.rows).toHaveLength(DEMO_CUSTOMER_COUNT);
      for (const row of cards.rows) {
        expect(isPlausibleCard(row.card_number), row.card_number).toBe(true);
        expect(isPlausibleSsn(row.ssn), row.ssn).toBe(true);
      }

      const total = await c.query<{ sum: string }>('select sum(amount)::text as sum from orders where status = any($1::text[])', [['paid', 'shipped', 'delivered']]);
      const cents = expected.orders.filter((o) => ['paid', 'shipped', 'delivered'].includes(o.status)).reduce((s, o) => s + o.amountCents, 0);
      expect(total.rows[0]!.sum).toBe((cents / 100).toFixed(2));

      await expect(c.query('select 1/0')).rejects.toThrow(/division by zero/);
      expect((await c.query('select $1::int + 1 as n', [41])).rows[0].n).toBe(42);
    } finally {
      await c.end();
    }
  });

  it('answers the real psql: simple query, \\d', async () => {
    const count = await psql(db, ['-Atc', 'select count(*) from orders']);
    expect(count.stdout).toBe(String(DEMO_ORDER_COUNT));

    const tables = await psql(db, ['-c', '\\d']);
    for (const t of ['customers', 'orders', 'products']) expect(tables.stdout).toContain(t);
    const customers = await psql(db, ['-c', '\\d customers']);
    expect(customers.stdout).toMatch(/card_number\s*\|\s*text/);
    expect(customers.stdout).toContain('Referenced by');
  });

  it('supports \\copy to stdout', async () => {
    const out = await psql(db, ['-c', '\\copy customers to stdout']);
    const lines = out.stdout.split('\n');
    expect(lines).toHaveLength(DEMO_CUSTOMER_COUNT);
    for (const line of lines) {
      const cols = line.split('\t');
      expect(isPlausibleCard(cols[4]!), cols[4]).toBe(true);
      expect(isPlausibleSsn(cols[5]!), cols[5]).toBe(true);
    }
  });

  it('supports \\copy from stdin, alone and inside a transaction, and survives a failing one', async () => {
    await psql(db, ['-c', 'create table copy_target (id int primary key, name text)']);
    const rows = (from: number, n: number) => Array.from({ length: n }, (_, i) => `${from + i}\tname ${from + i}\n`).join('');

    await psql(db, ['-c', '\\copy copy_target from stdin'], rows(1, 1000));
    // -1 wraps everything in BEGIN/COMMIT: the COPY then runs inside an open transaction.
    await psql(db, ['-1', '-c', 'insert into copy_target values (5000, $$x$$)', '-c', '\\copy copy_target from stdin'], rows(2001, 10));
    const bad = await psql(db, ['-c', '\\copy copy_target from stdin'], 'not-a-number\tx\n').catch((e: unknown) => e as { stderr: string });
    expect(bad.stderr).toMatch(/invalid input syntax for type integer/);

    const count = await psql(db, ['-Atc', 'select count(*), max(id) from copy_target']);
    expect(count.stdout).toBe('1011|5000');
    // A COPY with "stdin" that is not COPY FROM STDIN goes through unchanged.
    const notCopy = await psql(db, ['-Atc', "select 'copy from stdin' as s"]);
    expect(notCopy.stdout).toBe('copy from stdin');
  });

  it('serves several clients at once without mixing their statements', async () => {
    const clients = Array.from({ length: 4 }, () => client(db));
    await Promise.all(clients.map((c) => c.connect()));
    try {
      const results = await Promise.all(
        clients.map(async (c, k) => {
          let wrong = 0;
          for (let i = 0; i < 50; i++) {
            // Named statements with the same name on every connection: they must not collide.
            const r = await c.query({ name: 'probe', text: 'select $1::int * 1000 + $2::int as v', values: [k, i] });
            const u = await c.query<{ v: string }>(`select $1::text || '-${k}' as v`, [String(i)]);
            if (r.rows[0].v !== k * 1000 + i || u.rows[0]!.v !== `${i}-${k}`) wrong++;
          }
          return wrong;
        }),
      );
      expect(results).toEqual([0, 0, 0, 0]);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  it('keeps a transaction to its client and rolls it back when the client vanishes', async () => {
    const a = client(db);
    const b = client(db);
    await Promise.all([a.connect(), b.connect()]);
    try {
      await a.query('create table tx_probe (id int)');
      await a.query('begin');
      await a.query('insert into tx_probe values (1)');
      // b waits for a's transaction rather than seeing or joining it.
      const bCount = b.query<{ n: string }>('select count(*) as n from tx_probe');
      await new Promise((r) => setTimeout(r, 100));
      await a.query('commit');
      expect((await bCount).rows[0]!.n).toBe('1');

      const c = client(db);
      c.on('error', () => {}); // the hang-up below is deliberate
      await c.connect();
      await c.query('begin');
      await c.query('insert into tx_probe values (2)');
      (c as unknown as { connection: { stream: net.Socket } }).connection.stream.destroy();
      await new Promise((r) => setTimeout(r, 100));
      const after = await b.query<{ n: string }>('select count(*) as n from tx_probe');
      expect(after.rows[0]!.n).toBe('1');
      const status = await b.query('begin; select 1; commit');
      expect(status).toBeDefined();
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  });

  it('keeps an extended-protocol exchange that arrives in pieces away from other clients', async () => {
    const frame = (type: string, ...parts: (string | number[])[]) => {
      const body = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(`${p}\0`) : Buffer.from(p))));
      const head = Buffer.alloc(5);
      head.write(type);
      head.writeInt32BE(4 + body.length, 1);
      return Buffer.concat([head, body]);
    };
    const startup = Buffer.from('\0\0\0\0\0\x03\0\0user\0postgres\0\0', 'latin1');
    startup.writeInt32BE(startup.length, 0);
    const raw = net.connect(db.port, db.host);
    let received = Buffer.alloc(0);
    raw.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
    const waitFor = async (text: string) => {
      for (let i = 0; i < 300 && !received.toString('latin1').includes(text); i++) await new Promise((r) => setTimeout(r, 10));
      return received.toString('latin1');
    };
    raw.write(startup);
    await waitFor('Z\0\0\0\x05I');
    received = Buffer.alloc(0);
    // Parse and Bind now, Execute and Sync later: another client's unnamed statement and portal
    // must not replace ours in between.
    raw.write(Buffer.concat([frame('P', '', "select 'from raw' as who", [0, 0]), frame('B', '', '', [0, 0, 0, 0, 0, 0])]));
    await new Promise((r) => setTimeout(r, 50));
    const other = client(db);
    await other.connect();
    expect((await other.query('select $1::text as who', ['from pg'])).rows[0].who).toBe('from pg');
    await other.end();
    raw.write(Buffer.concat([frame('E', '', [0, 0, 0, 0]), frame('S')]));
    const reply = await waitFor('Z\0\0\0\x05I');
    expect(reply).toContain('from raw');
    expect(reply).not.toContain('does not exist');
    raw.destroy();
  });

  it('hangs up on a CancelRequest, as PostgreSQL does', async () => {
    const socket = net.connect(db.port, db.host);
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const packet = Buffer.alloc(16);
    packet.writeInt32BE(16, 0);
    packet.writeInt32BE(80877102, 4);
    socket.write(packet);
    await closed;
    expect((await psql(db, ['-Atc', 'select 1'])).stdout).toBe('1');
  });
});

describe('demo database in a data directory', () => {
  it('persists across restarts, loads the data once, and closes without leaving handles', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hoop-demo-db-'));
    try {
      const servers = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
      const before = servers();

      let t0 = performance.now();
      const first = await startDemoDatabase({ dataDir: join(dir, 'pg') });
      console.log(`startDemoDatabase (new dataDir): ${Math.round(performance.now() - t0)} ms`);
      const c = client(first);
      await c.connect();
      await c.query("insert into products (sku, name, price) values ('HOOP-X', 'Persisted', 1)");
      await c.end();
      await first.close();
      await expect(new Promise((resolve, reject) => net.connect(first.port, first.host).on('connect', resolve).on('error', reject))).rejects.toThrow(
        /ECONNREFUSED/,
      );
      expect(servers()).toBe(before);

      t0 = performance.now();
      const second = await startDemoDatabase({ dataDir: join(dir, 'pg') });
      console.log(`startDemoDatabase (existing dataDir): ${Math.round(performance.now() - t0)} ms`);
      try {
        const r = await psql(second, ['-Atc', "select count(*) from customers; select name from products where sku = 'HOOP-X'"]);
        expect(r.stdout).toBe(`${DEMO_CUSTOMER_COUNT}\nPersisted`);
      } finally {
        await second.close();
      }
      expect(servers()).toBe(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
