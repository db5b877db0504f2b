import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/audit/canonical.js';
import { GENESIS_HASH, chainEvents, checkpointPayload, linkHash } from '../../src/audit/chain.js';
import { keyFingerprint, parsePrivateKey, signerFromPrivateKey, trustedKeys, verifySignature, writeKeyFiles } from '../../src/audit/keys.js';
import { Recorder, RecordingFailedError } from '../../src/audit/recorder.js';
import { verifyStore } from '../../src/audit/verify.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/store.js';
import { tempDirsRemovedAfterAll } from '../support/hoop.js';
import { AGENT, sessionEvents } from './fixtures.js';

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

const tempDir = tempDirsRemovedAfterAll();

function testSigner(dir: string) {
  const keys = writeKeyFiles(join(dir, 'keys'));
  return signerFromPrivateKey(parsePrivateKey(keys.privatePath, 'k'));
}

describe('canonicalJson', () => {
  it('is the same whatever order keys were inserted in, at every depth', () => {
    const a = { b: 1, a: { y: [1, { d: 2, c: 3 }], x: 'x' } };
    const b = { a: { x: 'x', y: [1, { c: 3, d: 2 }] }, b: 1 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"a":{"x":"x","y":[1,{"c":3,"d":2}]},"b":1}');
  });

  it('keeps array order and writes strings and numbers as JSON does', () => {
    expect(canonicalJson([3, 1, 2])).toBe('[3,1,2]');
    expect(canonicalJson({ s: 'tab\there "q" \\ é \u2028 \ud800' })).toBe(`{"s":${JSON.stringify('tab\there "q" \\ é \u2028 \ud800')}}`);
    expect(canonicalJson([1.0, -0, 1e21, 0.1 + 0.2, 5e-7])).toBe('[1,0,1e+21,0.30000000000000004,5e-7]');
  });

  it('matches the RFC 8785 (JCS) example', () => {
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    ) as unknown;
    expect(canonicalJson(input)).toBe('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}');
  });

  it('hashes an event the same before storing and after reading its JSON back', () => {
    const e = { a: undefined, b: [undefined, NaN, Infinity], c: new Date(0), d: 'x' };
    expect(canonicalJson(e)).toBe(canonicalJson(JSON.parse(JSON.stringify(e))));
    expect(canonicalJson(e)).toBe('{"b":[null,null,null],"c":"1970-01-01T00:00:00.000Z","d":"x"}');
  });

  it('refuses values JSON cannot hold', () => {
    expect(() => canonicalJson({ n: 1n })).toThrow(TypeError);
  });
});

describe('the hash chain', () => {
  const events = sessionEvents('s_1', AGENT, 'pg', 1_700_000_000_000, 3);

  it("hashes canonicalJson({chain, seq, prev, event}) and links each event to the one before", () => {
    const chained = chainEvents('gw_test', { seq: 0, hash: GENESIS_HASH }, events);
    expect(chained.map((c) => c.seq)).toEqual(events.map((_, i) => i + 1));
    expect(chained[0]!.prev).toBe(GENESIS_HASH);
    for (const [i, c] of chained.entries()) {
      expect(c.hash).toBe(sha256(canonicalJson({ chain: 'gw_test', seq: c.seq, prev: c.prev, event: events[i] })));
      expect(c.hash).toBe(linkHash('gw_test', c.seq, c.prev, c.body));
      if (i > 0) expect(c.prev).toBe(chained[i - 1]!.hash);
    }
  });

  it('continues from a head, and differs per chain', () => {
    const all = chainEvents('gw_a', { seq: 0, hash: GENESIS_HASH }, events);
    const firstHalf = chainEvents('gw_a', { seq: 0, hash: GENESIS_HASH }, events.slice(0, 4));
    const rest = chainEvents('gw_a', firstHalf.at(-1)!, events.slice(4));
    expect([...firstHalf, ...rest].map((c) => c.hash)).toEqual(all.map((c) => c.hash));
    expect(chainEvents('gw_b', { seq: 0, hash: GENESIS_HASH }, events)[0]!.hash).not.toBe(all[0]!.hash);
  });

  it('signs checkpoints with Ed25519 and fingerprints the raw public key', () => {
    const dir = tempDir('audit-unit');
    const signer = testSigner(dir);
    const raw = Buffer.from(signer.publicKey.export({ format: 'jwk' }).x!, 'base64url');
    expect(raw).toHaveLength(32);
    expect(signer.fingerprint).toBe(createHash('sha256').update(raw).digest('hex'));
    expect(keyFingerprint(signer.publicKey)).toBe(signer.fingerprint);
    const cp = { chain: 'gw_a', seq: 5, hash: 'ab'.repeat(32), time: 1, keyFingerprint: signer.fingerprint };
    const sig = signer.sign(checkpointPayload(cp));
    expect(verifySignature(signer.publicKey, checkpointPayload(cp), sig)).toBe(true);
    expect(verifySignature(signer.publicKey, checkpointPayload({ ...cp, seq: 6 }), sig)).toBe(false);
  });
});

describe('the recorder', () => {
  it('writes a continuous chain across batches, with a checkpoint every N events and at close', async () => {
    const dir = tempDir('audit-unit');
    const signer = testSigner(dir);
    const store = new SqliteStore(join(dir, 'hoop.db'));
    const recorder = new Recorder(store, { batchSize: 7, flushIntervalMs: 1, signer, checkpointEvery: 10, checkpointIntervalMs: 0 });
    const events = sessionEvents('s_1', AGENT, 'pg', Date.now(), 30);
    for (const e of events) recorder.record(e);
    await recorder.flush();
    const cps = await store.listCheckpoints();
    expect(cps.map((c) => c.seq)).toEqual([0, 10, 20, 30]);
    await recorder.close();
    const after = await store.listCheckpoints();
    expect(after.map((c) => c.seq)).toEqual([0, 10, 20, 30, events.length]);
    expect(recorder.chainHead.seq).toBe(events.length);
    const result = await verifyStore(store, trustedKeys([signer.publicKey]), 'test');
    expect(result.ok).toBe(true);
    expect(result.chains[0]!.unsignedTail).toBe(0);
    expect(result.warnings).toEqual([]);
    await store.close();
  });

  it('signs the head on a timer while events arrive', async () => {
    const dir = tempDir('audit-unit');
    const signer = testSigner(dir);
    const store = new SqliteStore(join(dir, 'hoop.db'));
    const recorder = new Recorder(store, { batchSize: 100, flushIntervalMs: 1, signer, checkpointEvery: 1000, checkpointIntervalMs: 100 });
    for (const e of sessionEvents('s_1', AGENT, 'pg', Date.now(), 2)) recorder.record(e);
    await new Promise((r) => setTimeout(r, 350));
    const cps = await store.listCheckpoints();
    expect(cps.at(-1)!.seq).toBe(recorder.chainHead.seq);
    // Nothing new: no more checkpoints.
    const n = cps.length;
    await new Promise((r) => setTimeout(r, 250));
    expect((await store.listCheckpoints()).length).toBe(n);
    await recorder.close();
    await store.close();
  });

  it('reports events after the last checkpoint as an unsigned tail, not as tampering', async () => {
    const dir = tempDir('audit-unit');
    const signer = testSigner(dir);
    const store = new SqliteStore(join(dir, 'hoop.db'));
    const recorder = new Recorder(store, { batchSize: 4, flushIntervalMs: 1, signer, checkpointEvery: 10, checkpointIntervalMs: 0 });
    const events = sessionEvents('s_1', AGENT, 'pg', Date.now(), 10);
    for (const e of events) recorder.record(e);
    await recorder.flush(); // as if the process died here: no close, no final checkpoint
    const result = await verifyStore(store, trustedKeys([signer.publicKey]), 'test');
    expect(result.ok).toBe(true);
    expect(result.chains[0]!.signedThrough).toBe(10);
    expect(result.chains[0]!.unsignedTail).toBe(events.length - 10);
    expect(result.warnings.join('\n')).toMatch(/unsigned tail of \d+ event/);
    await store.close();
  });

  it('keeps one chain per recorder when several write to the same store file (replicas)', async () => {
    const dir = tempDir('audit-unit');
    const signer = testSigner(dir);
    const path = join(dir, 'hoop.db');
    const [s1, s2] = [new SqliteStore(path), new SqliteStore(path)];
    const r1 = new Recorder(s1, { batchSize: 3, flushIntervalMs: 1, signer, checkpointEvery: 5, checkpointIntervalMs: 0 });
    const r2 = new Recorder(s2, { batchSize: 2, flushIntervalMs: 1, signer, checkpointEvery: 5, checkpointIntervalMs: 0 });
    const a = sessionEvents('s_a', AGENT, 'pg', Date.now(), 8);
    const b = sessionEvents('s_b', AGENT, 'pg', Date.now(), 8);
    for (let i = 0; i < a.length; i++) {
      r1.record(a[i]!);
      r2.record(b[i]!);
      if (i % 3 === 0) await Promise.all([r1.flush(), r2.flush()]);
    }
    await Promise.all([r1.close(), r2.close()]);
    const db = new Database(path, { readonly: true });
    const order = (db.prepare('SELECT chain FROM events ORDER BY seq').all() as { chain: string }[]).map((r) => r.chain);
    db.close();
    expect(new Set(order).size).toBe(2);
    expect(order.some((c, i) => i > 0 && c !== order[i - 1])).toBe(true); // the chains did interleave in the table
    const result = await verifyStore(s1, trustedKeys([signer.publicKey]), 'test');
    expect(result.ok, JSON.stringify(result.problems)).toBe(true);
    expect(result.chains.map((c) => c.events).sort()).toEqual([a.length, b.length]);
    await Promise.all([s1.close(), s2.close()]);
  });

  it('in strict mode, stores each event before record() returns', async () => {
    const dir = tempDir('audit-unit');
    const signer = testSigner(dir);
    const store = new SqliteStore(join(dir, 'hoop.db'));
    store.setDurableCommits(true);
    const recorder = new Recorder(store, { batchSize: 100, flushIntervalMs: 10_000, mode: 'strict', signer, checkpointEvery: 3, checkpointIntervalMs: 0 });
    const events = sessionEvents('s_1', AGENT, 'pg', Date.now(), 4);
    const db = new Database(join(dir, 'hoop.db'), { readonly: true });
    const count = db.prepare('SELECT count(*) AS n FROM events');
    for (const [i, e] of events.entries()) {
      recorder.record(e);
      expect((count.get() as { n: number }).n).toBe(i + 1);
    }
    expect((await store.listCheckpoints()).map((c) => c.seq)).toEqual([0, 3, 6, 9]);
    await recorder.close();
    db.close();
    expect((await verifyStore(store, trustedKeys([signer.publicKey]), 'test')).ok).toBe(true);
    await store.close();
  });

  it('in strict mode, a failed write throws to the caller (whose session then ends) and recording stops', async () => {
    const dir = tempDir('audit-unit');
    const store = new SqliteStore(join(dir, 'hoop.db'));
    let fail = false;
    const failing: Store = Object.assign(Object.create(store) as Store, {
      appendEventsSync: (...args: Parameters<NonNullable<Store['appendEventsSync']>>) => {
        if (fail) throw new Error('disk full');
        store.appendEventsSync(...args);
      },
    });
    const recorder = new Recorder(failing, { batchSize: 100, flushIntervalMs: 10, mode: 'strict' });
    const failed: Error[] = [];
    recorder.on('failed', (e) => failed.push(e));
    const [first, second, third] = sessionEvents('s_1', AGENT, 'pg', Date.now(), 2);
    recorder.record(first!);
    fail = true;
    expect(() => recorder.record(second!)).toThrow(RecordingFailedError);
    expect(failed.map((e) => e.message)).toEqual(['disk full']);
    expect(() => recorder.record(third!)).toThrow(RecordingFailedError);
    await store.close();
  });

  it('refuses strict mode on a store that cannot commit synchronously', () => {
    const asyncOnly = { kind: 'remote', appendEvents: async () => {} } as unknown as Store;
    expect(() => new Recorder(asyncOnly, { batchSize: 1, flushIntervalMs: 1, mode: 'strict' })).toThrow(/strict needs a store/);
  });

  it('writes keys with the private half readable by the owner only, and never overwrites one', async () => {
    const dir = tempDir('audit-unit');
    const keys = writeKeyFiles(join(dir, 'k'));
    const { statSync, readFileSync } = await import('node:fs');
    expect(statSync(keys.privatePath).mode & 0o777).toBe(0o600);
    expect(readFileSync(keys.publicPath, 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(() => writeKeyFiles(join(dir, 'k'))).toThrow(/already exists/);
    expect(existsSync(keys.privatePath)).toBe(true);
  });
});
