import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Break, VerifyResult } from '../../src/audit/verify.js';
import { hoop } from '../support/hoop.js';
import { createFixture, forgedHash, lastSeq, openDb, rowAt, type Fixture } from './fixtures.js';

/**
 * Tampering done the way someone with write access to the store file would do it: SQL on the
 * SQLite file, then the real `hoop audit verify` judges it.
 */
async function verify(f: Fixture, ...extra: string[]): Promise<{ code: number | undefined; result: VerifyResult; text: string }> {
  const json = await hoop(['audit', 'verify', '--config', f.configPath, '--json', ...extra]);
  const text = await hoop(['audit', 'verify', '--config', f.configPath, ...extra]);
  expect(text.exitCode).toBe(json.exitCode);
  return { code: json.exitCode, result: JSON.parse(String(json.stdout)) as VerifyResult, text: String(text.stdout) };
}

function expectBreak(r: { code: number | undefined; result: VerifyResult; text: string }, chain: string, seq: number, kind: Break['kind']): void {
  expect(r.code, r.text).toBe(1);
  expect(r.result.ok).toBe(false);
  expect(r.result.problems[0], r.text).toMatchObject({ chain, seq, kind });
  expect(r.text).toContain(`chain ${chain}`);
  expect(r.text).toContain(`TAMPERED at seq ${seq}: ${kind}`);
}

describe('hoop audit verify on a tampered store', () => {
  const fixtures: Fixture[] = [];
  const fixture = async (opts?: Parameters<typeof createFixture>[0]): Promise<Fixture> => {
    const f = await createFixture(opts);
    fixtures.push(f);
    return f;
  };
  afterEach(() => {
    for (const f of fixtures.splice(0)) rmSync(f.dir, { recursive: true, force: true });
  });

  it('passes an untouched store (exit 0) and says what it checked', async () => {
    const f = await fixture();
    const r = await verify(f);
    expect(r.code, r.text).toBe(0);
    expect(r.result.ok).toBe(true);
    expect(r.result.chains.map((c) => c.chain)).toEqual(f.chains);
    expect(r.result.chains.every((c) => c.unsignedTail === 0 && c.signedThrough === c.lastSeq)).toBe(true);
    expect(r.result.keys).toEqual([f.signer.fingerprint]);
    expect(r.text).toMatch(/^OK: every event and checkpoint verified$/m);
  });

  it('names an altered event (one field of its stored body changed)', async () => {
    const f = await fixture();
    const chain = f.chains[0]!;
    const db = openDb(f);
    db.prepare("UPDATE events SET body = json_set(body, '$.sql', 'select 1') WHERE chain = ? AND chain_seq = 7").run(chain);
    db.close();
    expectBreak(await verify(f), chain, 7, 'altered');
  });

  it('names a removed event (a middle one deleted)', async () => {
    const f = await fixture();
    const chain = f.chains[1]!;
    const db = openDb(f);
    db.prepare('DELETE FROM events WHERE chain = ? AND chain_seq = 15').run(chain);
    db.close();
    expectBreak(await verify(f), chain, 15, 'removed');
  });

  it('names reordered events: contents swapped, places swapped, or storage order swapped', async () => {
    // The contents of seq 5 and 6 exchanged.
    const a = await fixture();
    const chainA = a.chains[0]!;
    let db = openDb(a);
    const [r5, r6] = [rowAt(db, chainA, 5), rowAt(db, chainA, 6)];
    db.prepare('UPDATE events SET body = ? WHERE seq = ?').run(r6.body, r5.seq);
    db.prepare('UPDATE events SET body = ? WHERE seq = ?').run(r5.body, r6.seq);
    db.close();
    expectBreak(await verify(a), chainA, 5, 'reordered');

    // Whole records renumbered: seq 12 and 13 trade places in the chain.
    const b = await fixture();
    const chainB = b.chains[1]!;
    db = openDb(b);
    const [r12, r13] = [rowAt(db, chainB, 12), rowAt(db, chainB, 13)];
    db.prepare('UPDATE events SET chain_seq = 13 WHERE seq = ?').run(r12.seq);
    db.prepare('UPDATE events SET chain_seq = 12 WHERE seq = ?').run(r13.seq);
    db.close();
    expectBreak(await verify(b), chainB, 12, 'reordered');

    // The rows themselves moved: what `hoop sessions show` lists in a different order.
    const c = await fixture();
    const chainC = c.chains[0]!;
    db = openDb(c);
    const [s3, s4] = [rowAt(db, chainC, 3), rowAt(db, chainC, 4)];
    db.prepare('UPDATE events SET seq = -1 WHERE seq = ?').run(s3.seq);
    db.prepare('UPDATE events SET seq = ? WHERE seq = ?').run(s3.seq, s4.seq);
    db.prepare('UPDATE events SET seq = ? WHERE seq = -1').run(s4.seq);
    db.close();
    expectBreak(await verify(c), chainC, 3, 'reordered');
  });

  it('names an inserted event, even one whose hash the forger computed correctly', async () => {
    // A forged duplicate of seq 9 with a valid hash and prev, appended to the table.
    const a = await fixture();
    const chainA = a.chains[0]!;
    let db = openDb(a);
    const r8 = rowAt(db, chainA, 8);
    const r9 = rowAt(db, chainA, 9);
    const forged = { ...JSON.parse(r9.body), sql: 'select 1 -- nothing to see here' };
    db.prepare('INSERT INTO events (session_id, type, time, identity_subject, identity_name, connection, body, chain, chain_seq, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
      forged.sessionId, forged.type, forged.time, forged.identity.subject, forged.identity.name, forged.connection, JSON.stringify(forged), chainA, 9, r8.hash, forgedHash(chainA, 9, r8.hash, forged),
    );
    db.close();
    const r = await verify(a);
    expectBreak(r, chainA, 9, 'inserted');
    expect(r.result.problems[0]!.at).not.toBe(`store row ${r9.seq}`); // the forged row is named, not the real one

    // Spliced in at seq 4 with the later events renumbered to make room.
    const b = await fixture();
    const chainB = b.chains[1]!;
    db = openDb(b);
    const r3 = rowAt(db, chainB, 3);
    const last = lastSeq(db, chainB);
    for (let s = last; s >= 4; s--) db.prepare('UPDATE events SET chain_seq = ? WHERE chain = ? AND chain_seq = ?').run(s + 1, chainB, s);
    const spliced = { ...JSON.parse(r3.body), sql: 'grant all on orders to claude' };
    db.prepare('INSERT INTO events (session_id, type, time, identity_subject, identity_name, connection, body, chain, chain_seq, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
      spliced.sessionId, spliced.type, spliced.time, spliced.identity.subject, spliced.identity.name, spliced.connection, JSON.stringify(spliced), chainB, 4, r3.hash, forgedHash(chainB, 4, r3.hash, spliced),
    );
    db.close();
    expectBreak(await verify(b), chainB, 4, 'inserted');
  });

  it('names truncation: the newest events dropped, which the last checkpoint still covers', async () => {
    const f = await fixture();
    const chain = f.chains[1]!;
    const db = openDb(f);
    const last = lastSeq(db, chain);
    db.prepare('DELETE FROM events WHERE chain = ? AND chain_seq > ?').run(chain, last - 3);
    db.close();
    const r = await verify(f);
    expectBreak(r, chain, last - 2, 'truncated');
    expect(r.result.problems[0]!.message).toContain(`through seq ${last}`);
  });

  it('rejects a forged checkpoint, and checkpoints signed by a key it does not trust', async () => {
    const f = await fixture();
    const chain = f.chains[0]!;
    const db = openDb(f);
    db.prepare('UPDATE checkpoints SET seq = seq + 1 WHERE chain = ? AND seq = 20').run(chain);
    db.close();
    expectBreak(await verify(f), chain, 21, 'bad-signature');

    const other = await fixture();
    const r = await verify(other, '--public-key', f.publicKeyPath);
    expect(r.code).toBe(1);
    expect(r.result.problems[0]!.kind).toBe('bad-signature');
    expect(r.result.problems[0]!.message).toMatch(/not a trusted key/);
  });

  it('reports the unsigned tail of a killed gateway as a warning, not tampering (exit 0)', async () => {
    const f = await fixture({ crashLast: true });
    const r = await verify(f);
    expect(r.code, r.text).toBe(0);
    const tail = r.result.chains.find((c) => c.chain === f.chains[1])!;
    expect(tail.unsignedTail).toBeGreaterThan(0);
    expect(r.text).toMatch(new RegExp(`warning: chain ${f.chains[1]}: unsigned tail of ${tail.unsignedTail} event`));
    expect(r.result.chains.find((c) => c.chain === f.chains[0])!.unsignedTail).toBe(0);
  });

  it('exits 4 for a missing store and 2 for an export without a key', async () => {
    const f = await fixture();
    const gone = await hoop(['audit', 'verify', '--config', f.configPath.replace('hoop.yaml', 'nope.yaml')]);
    expect(gone.exitCode).toBe(2);
    rmSync(f.dbPath);
    expect((await hoop(['audit', 'verify', '--config', f.configPath])).exitCode).toBe(4);
    expect((await hoop(['audit', 'verify', '--export', f.dir])).exitCode).toBe(2);
  });
});
