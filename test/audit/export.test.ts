import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/audit/export.js';
import type { Break, VerifyResult } from '../../src/audit/verify.js';
import { hoop, tempDir } from '../support/hoop.js';
import { createFixture, forgedHash, type Fixture } from './fixtures.js';

interface Line {
  chain: string;
  seq: number;
  prev: string;
  hash: string;
  event: Record<string, unknown>;
}

async function exportTo(f: Fixture, out: string, ...extra: string[]): Promise<void> {
  const r = await hoop(['audit', 'export', '--config', f.configPath, '--out', out, ...extra]);
  expect(r.exitCode, String(r.stderr)).toBe(0);
}

async function verifyExport(f: Fixture, dir: string): Promise<{ code: number | undefined; result: VerifyResult; text: string }> {
  // Offline: only the export folder and the public key, no config, no store.
  const json = await hoop(['audit', 'verify', '--export', dir, '--public-key', f.publicKeyPath, '--json']);
  const text = await hoop(['audit', 'verify', '--export', dir, '--public-key', f.publicKeyPath]);
  return { code: json.exitCode, result: JSON.parse(String(json.stdout)) as VerifyResult, text: String(text.stdout) };
}

function readLines(dir: string): Line[] {
  return readFileSync(join(dir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line);
}

function writeLines(dir: string, lines: readonly Line[]): void {
  writeFileSync(join(dir, 'events.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
}

function expectBreak(r: { code: number | undefined; result: VerifyResult; text: string }, chain: string, seq: number, kind: Break['kind']): void {
  expect(r.code, r.text).toBe(1);
  expect(r.result.problems[0], r.text).toMatchObject({ chain, seq, kind });
  expect(r.text).toContain(`TAMPERED at seq ${seq}: ${kind}`);
  // The manifest's file digest catches the same change wholesale.
  expect(r.result.problems.some((p) => p.at === 'events.jsonl' && p.kind === 'altered')).toBe(true);
}

describe('hoop audit export, verified offline with only the public key', () => {
  let f: Fixture;
  let work: string;
  let full: string;

  beforeAll(async () => {
    f = await createFixture();
    work = tempDir('audit-export');
    full = join(work, 'full');
    await exportTo(f, full, '--format', 'ocsf');
  });

  afterAll(() => {
    rmSync(f.dir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  /** A fresh copy of the full export to tamper with. */
  let copies = 0;
  async function copy(): Promise<string> {
    const dir = join(work, `copy-${++copies}`);
    const { cpSync } = await import('node:fs');
    cpSync(full, dir, { recursive: true });
    return dir;
  }

  it('writes events, checkpoints, OCSF and a signed manifest that verifies', async () => {
    const manifest = JSON.parse(readFileSync(join(full, 'manifest.json'), 'utf8')) as Manifest;
    expect(manifest.keyFingerprint).toBe(f.signer.fingerprint);
    expect(manifest.publicKey).toBe(f.signer.publicKeyPem);
    expect(manifest.chains.map((c) => c.chain)).toEqual(f.chains);
    for (const c of manifest.chains) expect(c).toMatchObject({ firstSeq: 1, prevOfFirst: '0'.repeat(64) });
    const lines = readLines(full);
    expect(lines.length).toBe(manifest.counts.events);
    expect(lines[0]).toMatchObject({ chain: f.chains[0], seq: 1 });
    const r = await verifyExport(f, full);
    expect(r.code, r.text).toBe(0);
    expect(r.result.chains.every((c) => c.unsignedTail === 0)).toBe(true);
  });

  it('maps statements to OCSF Datastore Activity (6005) and sessions to Authentication (3002)', () => {
    const ocsf = readFileSync(join(full, 'events.ocsf.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
    const statement = ocsf.find((o) => o.class_uid === 6005 && o.query_info.query_string.startsWith('update'))!;
    expect(statement).toMatchObject({ category_uid: 6, activity_id: 2, type_uid: 600502, status_id: 1, actor: { user: { name: 'claude-agent' } }, database: { name: 'pg-prod' } });
    expect(statement.unmapped.approval.approvedBy).toEqual(['bob']);
    const denied = ocsf.find((o) => o.class_uid === 6005 && o.query_info.query_string === 'drop table orders')!;
    expect(denied).toMatchObject({ status_id: 2, status_code: '42501', activity_id: 7 });
    const logon = ocsf.find((o) => o.class_uid === 3002 && o.activity_id === 1)!;
    expect(logon).toMatchObject({ category_uid: 3, type_uid: 300201, src_endpoint: { ip: '127.0.0.1', port: 50000 } });
    expect(ocsf.some((o) => o.class_uid === 3002 && o.activity_id === 2)).toBe(true);
    expect(logon.metadata.uid).toBe(`${f.chains[0]}:1`);
  });

  it('names an altered event', async () => {
    const dir = await copy();
    const lines = readLines(dir);
    const i = lines.findIndex((l) => l.chain === f.chains[0] && l.seq === 7);
    lines[i]!.event.sql = 'select 1';
    writeLines(dir, lines);
    expectBreak(await verifyExport(f, dir), f.chains[0]!, 7, 'altered');
  });

  it('names a removed event', async () => {
    const dir = await copy();
    writeLines(dir, readLines(dir).filter((l) => !(l.chain === f.chains[1] && l.seq === 15)));
    expectBreak(await verifyExport(f, dir), f.chains[1]!, 15, 'removed');
  });

  it('names reordered events', async () => {
    const dir = await copy();
    const lines = readLines(dir);
    const i = lines.findIndex((l) => l.chain === f.chains[0] && l.seq === 5);
    [lines[i], lines[i + 1]] = [lines[i + 1]!, lines[i]!];
    writeLines(dir, lines);
    expectBreak(await verifyExport(f, dir), f.chains[0]!, 5, 'reordered');
  });

  it('names an inserted event with a correctly computed hash', async () => {
    const dir = await copy();
    const lines = readLines(dir);
    const i = lines.findIndex((l) => l.chain === f.chains[0] && l.seq === 9);
    const prev = lines[i - 1]!;
    const event = { ...lines[i]!.event, sql: 'select 1 -- forged' };
    lines.splice(i + 1, 0, { chain: f.chains[0]!, seq: 9, prev: prev.hash, hash: forgedHash(f.chains[0]!, 9, prev.hash, event), event });
    writeLines(dir, lines);
    const r = await verifyExport(f, dir);
    expectBreak(r, f.chains[0]!, 9, 'inserted');
    expect(r.result.problems[0]!.at).toBe(`events.jsonl line ${i + 2}`);
  });

  it('names truncation: the newest events of a chain dropped', async () => {
    const dir = await copy();
    const lines = readLines(dir);
    const last = Math.max(...lines.filter((l) => l.chain === f.chains[1]).map((l) => l.seq));
    writeLines(dir, lines.filter((l) => !(l.chain === f.chains[1] && l.seq > last - 3)));
    expectBreak(await verifyExport(f, dir), f.chains[1]!, last - 2, 'truncated');
  });

  it('rejects an altered manifest and a key that is not the trusted one', async () => {
    const dir = await copy();
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest & { chains: { lastSeq: number }[] };
    manifest.chains[1]!.lastSeq -= 3;
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    const r = await verifyExport(f, dir);
    expect(r.code).toBe(1);
    expect(r.result.problems.some((p) => p.kind === 'bad-signature' && p.at === 'manifest.json')).toBe(true);

    const other = await createFixture();
    try {
      const wrongKey = await hoop(['audit', 'verify', '--export', full, '--public-key', other.publicKeyPath, '--json']);
      expect(wrongKey.exitCode).toBe(1);
      expect((JSON.parse(String(wrongKey.stdout)) as VerifyResult).problems[0]!.kind).toBe('bad-signature');
    } finally {
      rmSync(other.dir, { recursive: true, force: true });
    }
  });

  it('exports a time range that cuts through a chain, and it still verifies on its own', async () => {
    const lines = readLines(full);
    const chainA = lines.filter((l) => l.chain === f.chains[0]);
    // From the 10th to the 30th event of the first chain by time: the run starts mid-chain.
    const since = chainA[9]!.event.time as number;
    const until = (chainA[29]!.event.time as number) + 1;
    const dir = join(work, 'range');
    await exportTo(f, dir, '--since', new Date(since).toISOString(), '--until', String(until));
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    expect(manifest.chains).toHaveLength(1);
    const c = manifest.chains[0]!;
    expect(c.firstSeq).toBe(10);
    expect(c.prevOfFirst).toBe(chainA[8]!.hash);
    // Widened to the next checkpoint (every 10 events), so a recording-time signature covers the run.
    expect(c.lastSeq).toBe(30);
    const r = await verifyExport(f, dir);
    expect(r.code, r.text).toBe(0);
    expect(r.result.chains[0]).toMatchObject({ firstSeq: 10, lastSeq: 30, signedThrough: 30, unsignedTail: 0 });

    // Removing the first exported event is still caught: the signed manifest anchors the start.
    writeLines(dir, readLines(dir).slice(1));
    const cut = await verifyExport(f, dir);
    expect(cut.result.problems[0]).toMatchObject({ chain: f.chains[0], seq: 10, kind: 'removed' });
  });

  it('refuses to export into a folder that is not empty', async () => {
    const r = await hoop(['audit', 'export', '--config', f.configPath, '--out', full]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/not empty/);
  });
});
