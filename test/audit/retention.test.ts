import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { pruneStore, startRetention, type PruneSummary } from '../../src/audit/retention.js';
import { signerFromPrivateKey } from '../../src/audit/keys.js';
import { prunePayload, type Break, type VerifyResult } from '../../src/audit/verify.js';
import { configSchema } from '../../src/config/schema.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { PruneRecord } from '../../src/store/store.js';
import { hoop } from '../support/hoop.js';
import { createFixture, forgedHash, lastSeq, openDb, rowAt, type Fixture } from './fixtures.js';

const DAY = 86_400_000;
const RETENTION = 400 * DAY;
const T0 = Date.UTC(2024, 0, 10, 12, 0, 0);
/** The cutoff falls between the first chain's two sessions (s_a1 ends at +18s, s_a2 starts at +100s). */
const NOW_MID_FIRST = T0 + RETENTION + 50_000;
/** The first chain all old; the second cut between its sessions (s_b1 ends at +1015s, s_b2 starts at +1100s). */
const NOW_MID_SECOND = T0 + RETENTION + 1_050_000;

async function verify(f: Fixture): Promise<{ code: number | undefined; result: VerifyResult; text: string }> {
  const json = await hoop(['audit', 'verify', '--config', f.configPath, '--json']);
  const text = await hoop(['audit', 'verify', '--config', f.configPath]);
  expect(text.exitCode).toBe(json.exitCode);
  return { code: json.exitCode, result: JSON.parse(String(json.stdout)) as VerifyResult, text: String(text.stdout) };
}

function expectBreak(r: { code: number | undefined; result: VerifyResult; text: string }, chain: string, seq: number, kind: Break['kind']): void {
  expect(r.code, r.text).toBe(1);
  expect(r.result.problems[0], r.text).toMatchObject({ chain, seq, kind });
}

async function prune(f: Fixture, now: number, opts: { batch?: number; window?: number } = {}): Promise<PruneSummary> {
  const store = new SqliteStore(f.dbPath);
  try {
    return await pruneStore(store, f.signer, { retentionMs: RETENTION, now, ...opts });
  } finally {
    await store.close();
  }
}

function count(f: Fixture, sql: string, ...args: unknown[]): number {
  const db = openDb(f);
  try {
    return (db.prepare(sql).get(...args) as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('audit.retention in the config', () => {
  it('takes a duration, like the policy', () => {
    expect(configSchema.parse({ audit: { retention: '400d' } }).audit.retention).toBe('400d');
    expect(configSchema.parse({}).audit.retention).toBeUndefined();
    for (const bad of ['400', '0d', 'forever', '-1d']) expect(configSchema.safeParse({ audit: { retention: bad } }).success, bad).toBe(false);
  });
});

describe('retention', () => {
  const fixtures: Fixture[] = [];
  const fixture = async (): Promise<Fixture> => {
    const f = await createFixture({ t0: T0 });
    fixtures.push(f);
    return f;
  };
  afterEach(() => {
    for (const f of fixtures.splice(0)) rmSync(f.dir, { recursive: true, force: true });
  });

  it('prunes the old prefix of each chain, and the store still verifies', async () => {
    const f = await fixture();
    const [first, second] = f.chains as [string, string];
    const firstEvents = count(f, 'SELECT count(*) AS n FROM events WHERE chain = ?', first);
    const s = await prune(f, NOW_MID_FIRST);
    // s_a1: start, 12 statements, request, decision, 3 statements, end = 19 events.
    expect(s.chains).toEqual([{ chain: first, throughSeq: 19, events: 19 }]);
    expect(s.events).toBe(19);
    expect(s.sessions).toBe(1);
    expect(s.skipped).toEqual([]);
    expect(count(f, 'SELECT count(*) AS n FROM events WHERE chain = ?', first)).toBe(firstEvents - 19);
    expect(count(f, 'SELECT min(chain_seq) AS n FROM events WHERE chain = ?', first)).toBe(20);
    expect(count(f, "SELECT count(*) AS n FROM events WHERE session_id = 's_a1'")).toBe(0);
    expect(count(f, "SELECT count(*) AS n FROM sessions WHERE id = 's_a1'")).toBe(0);
    expect(count(f, "SELECT count(*) AS n FROM sessions WHERE id = 's_a2'")).toBe(1);
    // Checkpoints of the pruned part go with it; one signed retention record takes their place.
    expect(count(f, 'SELECT count(*) AS n FROM checkpoints WHERE chain = ? AND seq <= 19', first)).toBe(0);
    expect(count(f, 'SELECT count(*) AS n FROM audit_prunes WHERE chain = ? AND seq = 19', first)).toBe(1);

    const r = await verify(f);
    expect(r.code, r.text).toBe(0);
    expect(r.result.warnings).toEqual([]);
    const c1 = r.result.chains.find((c) => c.chain === first)!;
    expect(c1).toMatchObject({ firstSeq: 20, prunedThrough: 19, unsignedTail: 0, problem: null });
    expect(r.result.chains.find((c) => c.chain === second)).toMatchObject({ firstSeq: 1, prunedThrough: null });
    expect(r.text).toContain(`chain ${first}: seq 20–${c1.lastSeq}, seq 1–19 pruned by retention`);

    // Nothing more is due: a second run changes nothing.
    expect((await prune(f, NOW_MID_FIRST)).events).toBe(0);
    expect((await verify(f)).code).toBe(0);
  });

  it('prunes whole chains, and again later, in small batches across windows', async () => {
    const f = await fixture();
    const [first, second] = f.chains as [string, string];
    const firstLast = (() => {
      const db = openDb(f);
      try {
        return lastSeq(db, first);
      } finally {
        db.close();
      }
    })();
    await prune(f, NOW_MID_FIRST, { batch: 4, window: 7 });
    expect((await verify(f)).code).toBe(0);
    const s = await prune(f, NOW_MID_SECOND, { batch: 4, window: 7 });
    expect(s.chains).toHaveLength(2);
    expect(s.chains).toEqual(
      expect.arrayContaining([
        { chain: first, throughSeq: firstLast, events: firstLast - 19 },
        { chain: second, throughSeq: 17, events: 17 },
      ]),
    );
    expect(count(f, 'SELECT count(*) AS n FROM events WHERE chain = ?', first)).toBe(0);
    expect(count(f, 'SELECT count(*) AS n FROM sessions')).toBe(1); // s_b2
    // Every batch left its own record: windows of 7 cut into batches of 4 (4, 7, 11, 14, 17).
    expect(count(f, 'SELECT count(*) AS n FROM audit_prunes WHERE chain = ?', second)).toBe(5);
    const r = await verify(f);
    expect(r.code, r.text).toBe(0);
    expect(r.result.chains.find((c) => c.chain === first)).toMatchObject({ events: 0, prunedThrough: firstLast, problem: null });
    expect(r.result.chains.find((c) => c.chain === second)).toMatchObject({ firstSeq: 18, prunedThrough: 17, problem: null });
  });

  it('still detects tampering after pruning', async () => {
    // An event that remains, altered.
    let f = await fixture();
    let [first] = f.chains as [string];
    await prune(f, NOW_MID_FIRST);
    let db = openDb(f);
    db.prepare("UPDATE events SET body = json_set(body, '$.sql', 'select 1') WHERE chain = ? AND chain_seq = 25").run(first);
    db.close();
    expectBreak(await verify(f), first, 25, 'altered');

    // The first remaining event deleted: the record names seq 19, the chain now starts at 21.
    f = await fixture();
    [first] = f.chains as [string];
    await prune(f, NOW_MID_FIRST);
    db = openDb(f);
    db.prepare('DELETE FROM events WHERE chain = ? AND chain_seq = 20').run(first);
    db.close();
    expectBreak(await verify(f), first, 20, 'removed');

    // The retention record deleted: a chain starting at seq 20 with nothing signed naming seq 19.
    f = await fixture();
    [first] = f.chains as [string];
    await prune(f, NOW_MID_FIRST);
    db = openDb(f);
    db.prepare('DELETE FROM audit_prunes WHERE chain = ?').run(first);
    db.close();
    const gone = await verify(f);
    expectBreak(gone, first, 1, 'removed');
    expect(gone.text).toContain('seqs 1–19 are missing');

    // More deleted than retention did, with a recomputed first event: it no longer links to the record.
    f = await fixture();
    [first] = f.chains as [string];
    await prune(f, NOW_MID_FIRST);
    db = openDb(f);
    const r21 = rowAt(db, first, 21);
    db.prepare('DELETE FROM events WHERE chain = ? AND chain_seq = 20').run(first);
    // Renumber everything after it down by one, with hashes recomputed, as a forger would.
    const rows = db.prepare('SELECT seq, chain_seq, body FROM events WHERE chain = ? ORDER BY chain_seq').all(first) as { seq: number; chain_seq: number; body: string }[];
    let prev = r21.prev_hash;
    for (const row of rows) {
      const hash = forgedHash(first, row.chain_seq - 1, prev, JSON.parse(row.body));
      db.prepare('UPDATE events SET chain_seq = ?, prev_hash = ?, hash = ? WHERE seq = ?').run(row.chain_seq - 1, prev, hash, row.seq);
      prev = hash;
    }
    db.close();
    expectBreak(await verify(f), first, 20, 'inserted');

    // The record altered to cover a bigger cut: its signature no longer holds, so nothing names seq 25.
    f = await fixture();
    [first] = f.chains as [string];
    await prune(f, NOW_MID_FIRST);
    db = openDb(f);
    const r25 = rowAt(db, first, 25);
    db.prepare('DELETE FROM events WHERE chain = ? AND chain_seq <= 25').run(first);
    db.prepare('UPDATE audit_prunes SET seq = 25, hash = ? WHERE chain = ?').run(r25.hash, first);
    db.close();
    const forged = await verify(f);
    expectBreak(forged, first, 1, 'removed');
    expect(forged.text).toContain('seqs 1–25 are missing');

    // Everything after the prune point cut off, checkpoints included: the record's signed head remains.
    f = await fixture();
    [first] = f.chains as [string];
    await prune(f, NOW_MID_FIRST);
    db = openDb(f);
    db.prepare('DELETE FROM events WHERE chain = ?').run(first);
    db.prepare('DELETE FROM checkpoints WHERE chain = ?').run(first);
    db.close();
    expectBreak(await verify(f), first, 20, 'truncated');
  });

  it('rejects a retention record signed with another key', async () => {
    const f = await fixture();
    const [first] = f.chains as [string];
    const db = openDb(f);
    const r20 = rowAt(db, first, 20);
    db.prepare('DELETE FROM events WHERE chain = ? AND chain_seq <= 19').run(first);
    const other = signerFromPrivateKey(generateKeyPairSync('ed25519').privateKey);
    const unsigned: Omit<PruneRecord, 'signature'> = { chain: first, seq: 19, hash: r20.prev_hash, headSeq: 19, headHash: r20.prev_hash, cutoff: T0, events: 19, time: T0, keyFingerprint: other.fingerprint };
    db.prepare('INSERT INTO audit_prunes (chain, seq, hash, head_seq, head_hash, cutoff, events, time, key_fingerprint, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
      first,
      19,
      r20.prev_hash,
      19,
      r20.prev_hash,
      T0,
      19,
      T0,
      other.fingerprint,
      other.sign(prunePayload(unsigned)),
    );
    db.close();
    const r = await verify(f);
    expect(r.code).toBe(1);
    expect(r.result.problems.find((p) => p.chain === first)).toMatchObject({ kind: 'removed', seq: 1 });
  });

  it('leaves a chain whose old events were tampered with alone: pruning would destroy the evidence', async () => {
    const f = await fixture();
    const [first] = f.chains as [string];
    const db = openDb(f);
    db.prepare("UPDATE events SET body = json_set(body, '$.sql', 'select 1') WHERE chain = ? AND chain_seq = 5").run(first);
    db.close();
    const s = await prune(f, NOW_MID_SECOND);
    expect(s.skipped).toHaveLength(1);
    expect(s.skipped[0]!.chain).toBe(first);
    expect(s.skipped[0]!.reason).toMatch(/^altered at seq 5/);
    expect(count(f, 'SELECT count(*) AS n FROM events WHERE chain = ? AND chain_seq = 5', first)).toBe(1);
    expectBreak(await verify(f), first, 5, 'altered');
  });

  it('runs at start and then on its interval, until stopped', async () => {
    const f = await fixture();
    const entries: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString().split('\n')) if (line) entries.push(JSON.parse(line) as Record<string, unknown>);
        cb();
      },
    });
    const store = new SqliteStore(f.dbPath);
    // A retention of 400 days against events from 2024: everything is due.
    const task = startRetention(store, f.signer, RETENTION, pino({ level: 'info' }, sink), 30);
    try {
      for (let i = 0; i < 100 && entries.filter((e) => e.msg === 'audit: retention applied').length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    } finally {
      await task.stop();
      await store.close();
    }
    const runs = entries.filter((e) => e.msg === 'audit: retention applied');
    expect(runs.length).toBeGreaterThanOrEqual(3);
    expect(runs[0]!.events as number).toBeGreaterThan(0);
    expect(runs.slice(1).every((e) => e.events === 0)).toBe(true);
    expect(count(f, 'SELECT count(*) AS n FROM events')).toBe(0);
    expect(await task.run()).toBeNull(); // stopped
    expect((await verify(f)).code).toBe(0);
  });
});
