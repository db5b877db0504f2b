import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConnectProcess, type GatewayProcess, directQuery, psql, startConnect, startGateway } from '../support/hoop.js';
import { ALNUM, DIGITS, chars, createRng, ibanFor, int, luhnComplete, pick, printIban } from './fixtures/prng.js';

const table = `hoop_pii_${process.pid}`;

interface Customer {
  id: number;
  full_name: string;
  email: string;
  phone: string;
  card: string;
  ssn: string;
  iban: string;
  notes: string;
}

/** Realistic synthetic customers: valid Luhn cards, SSNs, emails, phones, IBANs, keys inside notes. */
function generateCustomers(n: number): { customers: Customer[]; secrets: string[] } {
  const rng = createRng(4242);
  const first = ['Ada', 'Grace', 'Linus', 'Margaret', 'Ken', 'Barbara', 'Dennis', 'Frances'];
  const last = ['Lovelace', 'Hopper', 'Torvalds', 'Hamilton', 'Thompson', 'Liskov', 'Ritchie', 'Allen'];
  const customers: Customer[] = [];
  const secrets: string[] = [];
  for (let i = 1; i <= n; i++) {
    const prefix = pick(rng, ['4', '51', '55', '37', '6011']);
    const len = prefix === '37' ? 15 : 16;
    const card = luhnComplete(prefix + chars(rng, DIGITS, len - prefix.length - 1));
    const ssn = `${int(rng, 100, 665)}-${String(int(rng, 1, 99)).padStart(2, '0')}-${String(int(rng, 1, 9999)).padStart(4, '0')}`;
    const email = `${pick(rng, first).toLowerCase()}.${pick(rng, last).toLowerCase()}${i}@example.com`;
    const phone = `+1 415 555 ${String(int(rng, 100, 9999)).padStart(4, '0')}`;
    const iban = printIban(ibanFor('DE', chars(rng, DIGITS, 18)));
    const stripe = `sk_live_${chars(rng, ALNUM, 24)}`;
    const github = `ghp_${chars(rng, ALNUM, 36)}`;
    const notes = i % 2 === 0 ? `prefers email; key ${stripe} rotated` : `support ticket: token ${github} leaked in a log`;
    customers.push({ id: i, full_name: `${pick(rng, first)} ${pick(rng, last)}`, email, phone, card, ssn, iban, notes });
    secrets.push(card, ssn, email, iban.replace(/ /g, ''), stripe, github);
  }
  return { customers, secrets };
}

function leaked(text: string, secrets: readonly string[]): string[] {
  const compact = text.replace(/[ -]/g, '');
  return secrets.filter((s) => text.includes(s) || compact.includes(s.replace(/[ -]/g, '')));
}

describe('masking through the gateway', () => {
  const { customers, secrets } = generateCustomers(200);
  let gw: GatewayProcess;
  let tunnel: ConnectProcess;

  beforeAll(async () => {
    const direct = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' });
    await direct.connect();
    await direct.query(`drop table if exists ${table}; create table ${table} (id int primary key, full_name text, email text unique, phone text, card_number text, ssn text, iban text, notes text, account jsonb)`);
    for (const c of customers) {
      await direct.query(`insert into ${table} values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, [c.id, c.full_name, c.email, c.phone, c.card, c.ssn, c.iban, c.notes, JSON.stringify({ card: c.card, contact: c.email })]);
    }
    await direct.end();
    gw = await startGateway({ extraYaml: 'masking:\n  styles: { card: partial }\n' });
    tunnel = await startConnect('pg-local', gw.url, await gw.createToken('mask-agent'));
  });

  afterAll(async () => {
    await tunnel?.stop();
    await gw?.stop();
    await directQuery(`drop table if exists ${table}`).catch(() => {});
  });

  it('psql sees no seeded value, and still sees the rows', async () => {
    const r = await psql(tunnel.port, ['-A', '-c', `select * from ${table} order by id`]);
    expect(r.stdout).toContain('(200 rows)');
    expect(leaked(String(r.stdout), secrets)).toEqual([]);
    expect(r.stdout).toContain('[REDACTED:email]');
    expect(r.stdout).toMatch(/\*{4,}\d{4}/); // cards keep their last four (partial style)
    expect(r.stdout).toContain(customers[0]!.full_name);
  });

  it('node pg: text and binary results are masked', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: tunnel.port, user: 'hoop', database: 'x' });
    await client.connect();
    const text = await client.query(`select * from ${table} where id <= $1`, [200]);
    expect(text.rows).toHaveLength(200);
    expect(leaked(JSON.stringify(text.rows), secrets)).toEqual([]);
    const binary = await client.query({ text: `select email, card_number, notes, account from ${table}`, binary: true } as never);
    const dump = JSON.stringify((binary as unknown as { rows: unknown[] }).rows, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('utf8') : v));
    expect(leaked(dump, secrets)).toEqual([]);
    await client.end();
  });

  it('COPY TO STDOUT (text and CSV) is masked', async () => {
    const t = await psql(tunnel.port, ['-c', `copy ${table} to stdout`]);
    expect(String(t.stdout).split('\n').filter(Boolean)).toHaveLength(200);
    expect(leaked(String(t.stdout), secrets)).toEqual([]);
    const c = await psql(tunnel.port, ['-c', `\\copy (select * from ${table}) to stdout with (format csv)`]);
    expect(leaked(String(c.stdout), secrets)).toEqual([]);
  });

  it('a unique-violation error does not leak the duplicated value', async () => {
    const dup = customers[3]!;
    const r = await psql(tunnel.port, ['-c', `insert into ${table} (id, email) values (9999, '${dup.email}')`]);
    expect(r.stderr).toContain('duplicate key value violates unique constraint');
    expect(r.stderr).not.toContain(dup.email);
    expect(r.stderr).toContain('[REDACTED:email]');
  });

  it('a notification payload is masked', async () => {
    const listener = new pg.Client({ host: '127.0.0.1', port: tunnel.port, user: 'hoop', database: 'x' });
    await listener.connect();
    const got = new Promise<string>((resolve) => listener.on('notification', (n) => resolve(n.payload ?? '')));
    await listener.query('listen hoop_pii');
    await directQuery(`select pg_notify('hoop_pii', 'card ${customers[5]!.card} for ${customers[5]!.email}')`);
    const payload = await got;
    expect(leaked(payload, secrets)).toEqual([]);
    await listener.end();
  });

  it('leaves nothing sensitive in the gateway data directory or its log', async () => {
    // The statements above carry seeded values as literals and parameters: records are masked too.
    await psql(tunnel.port, ['-c', `select * from ${table} where email = '${customers[7]!.email}' or card_number = '${customers[8]!.card}'`]);
    await new Promise((res) => setTimeout(res, 300));
    const dataDir = join(gw.dir, 'data');
    const stored = readdirSync(dataDir).map((f) => readFileSync(join(dataDir, f)).toString('latin1')).join('\n');
    expect(stored.length).toBeGreaterThan(1000);
    expect(leaked(stored, secrets)).toEqual([]);
    expect(leaked(gw.log(), secrets)).toEqual([]);
  });
});

describe('clear values for named groups', () => {
  let gw: GatewayProcess;

  beforeAll(async () => {
    await directQuery(`drop table if exists ${table}_g; create table ${table}_g (card text); insert into ${table}_g values ('4242424242424242')`);
    gw = await startGateway({ extraYaml: 'masking:\n  unmaskedGroups: [pii-readers]\n' });
  });

  afterAll(async () => {
    await gw?.stop();
    await directQuery(`drop table if exists ${table}_g`).catch(() => {});
  });

  it('pii-readers see the clear value, others a masked one, and the record is masked for both', async () => {
    const reader = await startConnect('pg-local', gw.url, await gw.createToken('pii-reader', ['pii-readers']));
    const other = await startConnect('pg-local', gw.url, await gw.createToken('engineer', ['engineers']));
    try {
      const sql = `select card, '4111 1111 1111 1111' as literal from ${table}_g`;
      expect(String((await psql(reader.port, ['-At', '-c', sql])).stdout)).toBe('4242424242424242|4111 1111 1111 1111');
      expect(String((await psql(other.port, ['-At', '-c', sql])).stdout)).toBe('[REDACTED:card]|[REDACTED:card]');
      await new Promise((res) => setTimeout(res, 300));
      const stored = readdirSync(join(gw.dir, 'data')).map((f) => readFileSync(join(gw.dir, 'data', f)).toString('latin1')).join('\n');
      expect(stored).not.toContain('4111 1111 1111 1111');
      expect(stored).toContain('card:card');
    } finally {
      await reader.stop();
      await other.stop();
    }
  });
});

describe('hash tokens', () => {
  let gwA: GatewayProcess;
  let gwB: GatewayProcess;
  const cards = ['4242424242424242', '5555555555554444', '378282246310005'];

  beforeAll(async () => {
    await directQuery(`drop table if exists ${table}_h; create table ${table}_h (card text); insert into ${table}_h select (array['${cards.join("','")}'])[1 + (g % 3)] from generate_series(1, 30) g; insert into ${table}_h values ('${cards[0]}')`);
    const yaml = 'masking:\n  styles: { card: hash }\n';
    gwA = await startGateway({ extraYaml: yaml });
    gwB = await startGateway({ extraYaml: yaml });
  });

  afterAll(async () => {
    await gwA?.stop();
    await gwB?.stop();
    await directQuery(`drop table if exists ${table}_h`).catch(() => {});
  });

  async function grouped(gw: GatewayProcess): Promise<Map<string, number>> {
    const tunnel = await startConnect('pg-local', gw.url, await gw.createToken(`h-${Math.random().toString(36).slice(2)}`));
    try {
      const r = await psql(tunnel.port, ['-At', '-F', ',', '-c', `select card, count(*) from ${table}_h group by card order by 2`]);
      if (!String(r.stdout).trim()) throw new Error(`no output: ${String(r.stderr)}`);
      return new Map(String(r.stdout).split('\n').map((l) => [l.split(',')[0]!, Number(l.split(',')[1])]));
    } finally {
      await tunnel.stop();
    }
  }

  it('GROUP BY on the masked column gives the same counts as on the clear column', async () => {
    const clear = (await directQuery(`select count(*) from ${table}_h group by card order by 1`)).split('\n').map(Number);
    const masked = await grouped(gwA);
    expect([...masked.values()].sort((a, b) => a - b)).toEqual(clear.sort((a, b) => a - b));
    for (const token of masked.keys()) expect(token).toMatch(/^tok_card_[0-9a-f]{8,}$/);
  });

  it('tokens are stable across sessions and gateway restarts, and differ across gateway keys', async () => {
    const first = [...(await grouped(gwA)).keys()].sort();
    const again = [...(await grouped(gwA)).keys()].sort();
    expect(again).toEqual(first);
    // Restart gateway A on the same data directory (same generated key).
    gwA.child.kill('SIGTERM');
    await new Promise((r) => gwA.child.once('exit', r));
    const restarted = await startGateway({ extraYaml: 'masking:\n  styles: { card: hash }\n', reuseDir: gwA.dir });
    try {
      expect([...(await grouped(restarted)).keys()].sort()).toEqual(first);
    } finally {
      await restarted.stop();
    }
    const other = [...(await grouped(gwB)).keys()].sort();
    expect(other).not.toEqual(first);
  });
});

describe('hoop mask test', () => {
  it('shows what would be masked in text and CSV, by detector and rule', async () => {
    const { hoop } = await import('../support/hoop.js');
    const text = await hoop(['mask', 'test'], { input: 'card 4242 4242 4242 4242 and mail a@example.com\nnothing here\n' });
    expect(text.exitCode, String(text.stderr)).toBe(0);
    expect(text.stdout).toMatch(/line 1 \[5-24\] card → \[REDACTED:card\]/);
    expect(text.stdout).toMatch(/line 1 .* email → \[REDACTED:email\]/);
    expect(text.stderr).toContain('2 values would be masked');
    const csv = await hoop(['mask', 'test', '--csv', '--json'], { input: 'id,ssn,note\n1,123-45-6789,call +1 415 555 2671\n' });
    const r = JSON.parse(String(csv.stdout)) as { cells: { column: string }[]; maskedCsv: string };
    expect(r.cells.map((c) => c.column).sort()).toEqual(['note', 'ssn']);
    expect(r.maskedCsv).not.toContain('123-45-6789');
  });
});
