import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Recorder } from '../../src/audit/recorder.js';
import { linkHash } from '../../src/audit/chain.js';
import { canonicalJson } from '../../src/audit/canonical.js';
import type { AuditEvent, EventIdentity, RecordedDecision } from '../../src/audit/events.js';
import { parsePrivateKey, signerFromPrivateKey, writeKeyFiles, type AuditSigner } from '../../src/audit/keys.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { tempDir } from '../support/hoop.js';

export const AGENT: EventIdentity = { kind: 'service-account', subject: 'sa_agent', name: 'claude-agent', groups: ['engineers'] };
export const PERSON: EventIdentity = { kind: 'user', subject: 'u_alice', name: 'alice', groups: ['engineers', 'approvers'] };

const allow = (cls: string): RecordedDecision => ({ action: 'allow', rule: 'reads', class: cls });

/**
 * One session's events, with every kind the report summarises: reads, a write approved by a person
 * after a wait, a denied statement, a refused review, and a masked read.
 */
export function sessionEvents(sessionId: string, identity: EventIdentity, connection: string, t0: number, statements: number): AuditEvent[] {
  const base = { sessionId, identity, connection };
  let t = t0;
  const next = (): number => (t += 1000);
  const out: AuditEvent[] = [
    { ...base, type: 'session.start', time: t, connectionType: 'postgres', clientAddress: '127.0.0.1:50000', clientInfo: { application_name: 'psql' } },
  ];
  for (let i = 0; i < statements; i++) {
    out.push({ ...base, type: 'statement', time: next(), protocol: 'simple', sql: `select ${i} as n, 'naïve "quoted" \\ text'`, durationMs: 1.25, rows: 1, commandTag: 'SELECT 1', decision: allow('read') });
  }
  const requestId = `ar_${sessionId}`;
  const review: RecordedDecision = { action: 'review', rule: 'writes-need-approval', class: 'write' };
  out.push({ ...base, type: 'approval.requested', time: next(), requestId, sql: 'update orders set status = 1 where id = 7', decision: review, approverGroups: ['approvers'], approvalsNeeded: 1, expiresAt: t + 600_000 });
  out.push({
    ...base,
    type: 'approval.decided',
    time: next(),
    requestId,
    status: 'approved',
    approvers: [{ name: 'bob', decision: 'approve', reason: null, windowMs: null }],
    reason: null,
    waitedMs: 42_000,
    viaWindow: false,
  });
  out.push({ ...base, type: 'statement', time: next(), protocol: 'simple', sql: 'update orders set status = 1 where id = 7', durationMs: 3, rows: 1, commandTag: 'UPDATE 1', decision: review, approval: { requestId, approvedBy: ['bob'], viaWindow: false } });
  out.push({
    ...base,
    type: 'statement',
    time: next(),
    protocol: 'simple',
    sql: 'drop table orders',
    durationMs: 0,
    rows: 0,
    error: { code: '42501', message: 'hoop: denied by rule no-ddl' },
    decision: { action: 'deny', rule: 'no-ddl', class: 'destructive' },
  });
  out.push({ ...base, type: 'statement', time: next(), protocol: 'extended', sql: 'select email from customers', params: ['1', null], durationMs: 2, rows: 3, commandTag: 'SELECT 3', decision: allow('read'), masked: { email: 3 } } as AuditEvent);
  out.push({ ...base, type: 'session.end', time: next(), durationMs: t - t0, statements: statements + 3, reason: 'client-closed' });
  return out;
}

export interface Fixture {
  readonly dir: string;
  readonly configPath: string;
  readonly dbPath: string;
  readonly publicKeyPath: string;
  readonly signer: AuditSigner;
  /** The chains written, oldest first. */
  readonly chains: string[];
}

export interface FixtureOptions {
  /** Leave the last chain as a killed gateway would: stored batches, no final checkpoint. */
  readonly crashLast?: boolean;
  /** Time of the first event (default: two hours ago). */
  readonly t0?: number;
}

/**
 * A real store file written by the real Recorder: two gateway runs (two chains), checkpoints every
 * 10 events, and a config that names the key, as an operator would set it up.
 */
export async function createFixture(opts: FixtureOptions = {}): Promise<Fixture> {
  const dir = tempDir('audit');
  const keys = writeKeyFiles(join(dir, 'keys'));
  const configPath = join(dir, 'hoop.yaml');
  writeFileSync(configPath, 'store: sqlite:./data/hoop.db\naudit:\n  signingKey: ${file:keys/hoop-audit.key}\n');
  const dbPath = join(dir, 'data', 'hoop.db');
  const store = new SqliteStore(dbPath);
  const signer = signerFromPrivateKey(parsePrivateKey(keys.privatePath, 'test key'));
  const t0 = opts.t0 ?? Date.now() - 2 * 3600_000;
  const chains: string[] = [];
  const runs = [
    [...sessionEvents('s_a1', AGENT, 'pg-prod', t0, 12), ...sessionEvents('s_a2', PERSON, 'pg-prod', t0 + 100_000, 15)],
    [...sessionEvents('s_b1', AGENT, 'pg-stage', t0 + 1000_000, 10), ...sessionEvents('s_b2', AGENT, 'pg-prod', t0 + 1100_000, 7)],
  ];
  for (const [i, events] of runs.entries()) {
    const recorder = new Recorder(store, { batchSize: 8, flushIntervalMs: 1, signer, checkpointEvery: 10, checkpointIntervalMs: 0 });
    chains.push(recorder.chain);
    for (const e of events) recorder.record(e);
    if (opts.crashLast && i === runs.length - 1) await recorder.flush();
    else await recorder.close();
  }
  await store.close();
  return { dir, configPath, dbPath, publicKeyPath: keys.publicPath, signer, chains };
}

export interface Row {
  seq: number;
  chain: string;
  chain_seq: number;
  prev_hash: string;
  hash: string;
  body: string;
}

/** The fixture's SQLite file opened directly, as someone with write access to it would. */
export function openDb(f: Fixture): Database.Database {
  return new Database(f.dbPath);
}

export function rowAt(db: Database.Database, chain: string, seq: number): Row {
  return db.prepare('SELECT seq, chain, chain_seq, prev_hash, hash, body FROM events WHERE chain = ? AND chain_seq = ?').get(chain, seq) as Row;
}

export function lastSeq(db: Database.Database, chain: string): number {
  return (db.prepare('SELECT max(chain_seq) AS m FROM events WHERE chain = ?').get(chain) as { m: number }).m;
}

/** What a forger who knows the algorithm computes: a correct hash for whatever they write. */
export function forgedHash(chain: string, seq: number, prev: string, event: unknown): string {
  return linkHash(chain, seq, prev, canonicalJson(event));
}
