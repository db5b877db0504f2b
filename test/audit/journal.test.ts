import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { newChainId } from '../../src/audit/chain.js';
import { RecordingJournal, readJournal, recoverJournals } from '../../src/audit/journal.js';
import { parsePrivateKey, signerFromPrivateKey, trustedKeys, writeKeyFiles } from '../../src/audit/keys.js';
import { Recorder } from '../../src/audit/recorder.js';
import { verifyStore } from '../../src/audit/verify.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { tempDirsRemovedAfterAll } from '../support/hoop.js';
import { AGENT, sessionEvents } from './fixtures.js';

const tempDir = tempDirsRemovedAfterAll();
const silent = pino({ level: 'silent' });

/** A pid that is certainly not running: a child that has already exited. */
function deadPid(): number {
  return spawnSync('true').pid!;
}

function setup() {
  const dir = tempDir('journal');
  const keys = writeKeyFiles(join(dir, 'keys'));
  const signer = signerFromPrivateKey(parsePrivateKey(keys.privatePath, 'k'));
  const store = new SqliteStore(join(dir, 'hoop.db'));
  const chain = newChainId();
  const journal = RecordingJournal.create(dir, chain);
  // A long interval: the store gets nothing unless the test flushes.
  const recorder = new Recorder(store, { batchSize: 256, flushIntervalMs: 60_000, mode: 'batched', signer, chain, journal, checkpointIntervalMs: 0 });
  return { dir, signer, store, chain, journal, recorder };
}

describe('the recording journal', () => {
  it('acknowledges once the events are in the journal; the store takes them later and the journal empties', async () => {
    const { store, journal, recorder } = setup();
    for (const e of sessionEvents('s_j1', AGENT, 'pg', Date.now(), 3)) recorder.record(e);
    await recorder.flushSoon();
    expect(readJournal(journal.path).length).toBeGreaterThan(3);
    expect(await store.listSessions()).toEqual([]);
    await recorder.flush();
    expect(readFileSync(journal.path, 'utf8')).toBe('');
    expect((await store.sessionEvents('s_j1')).length).toBeGreaterThan(3);
    await recorder.close();
    expect(existsSync(journal.path)).toBe(false);
    await store.close();
  });

  it("moves a crashed gateway's journal into the store at the next start, signed, ignoring a torn last line", async () => {
    const { dir, signer, store, journal, recorder } = setup();
    const events = sessionEvents('s_j2', AGENT, 'pg', Date.now(), 5);
    for (const e of events.slice(0, 3)) recorder.record(e);
    await recorder.flush(); // these reached the store
    for (const e of events.slice(3)) recorder.record(e);
    await recorder.flushSoon(); // these were acknowledged, then the process "died"
    const journaled = readJournal(journal.path);
    expect(journaled.length).toBe(events.length - 3);
    appendFileSync(journal.path, '{"c":"gw_x","s":99,"p":"tor'); // a write cut short
    const crashed = join(dir, readdirSync(dir).find((n) => n.startsWith('journal-'))!.replace(/^journal-\d+-/, `journal-${deadPid()}-`));
    renameSync(journal.path, crashed);

    const recovered = await recoverJournals(dir, store, signer, silent);
    expect(recovered).toBe(events.length - 3);
    expect(existsSync(crashed)).toBe(false);
    const stored = await store.sessionEvents('s_j2');
    expect(stored.map((e) => e.event.type)).toEqual(events.map((e) => e.type));
    const result = await verifyStore(store, trustedKeys([signer.publicKey]), 'test');
    expect(result.ok).toBe(true);
    expect(result.chains[0]!.unsignedTail).toBe(0);
    await store.close();
  });

  it('reads the body exactly as written, stops at an altered line, and still reads the earlier layout (body as a string)', async () => {
    const { journal, recorder, store } = setup();
    for (const e of sessionEvents('s_j4', AGENT, 'pg', Date.now(), 3)) recorder.record(e);
    await recorder.flushSoon();
    const lines = readFileSync(journal.path, 'utf8').trim().split('\n');
    const records = readJournal(journal.path);
    expect(records.length).toBe(lines.length);
    // The body is written in place, not escaped into a string.
    expect(lines[0]).toContain(`,"b":${records[0]!.body}}`);
    expect(records[1]!.event.sessionId).toBe('s_j4');

    const older = lines.map((l, i) => JSON.stringify({ c: records[i]!.chain, s: records[i]!.seq, p: records[i]!.prev, h: records[i]!.hash, b: records[i]!.body }));
    const olderPath = join(tempDir('journal-old'), 'j.jsonl');
    writeFileSync(olderPath, `${older.join('\n')}\n`);
    expect(readJournal(olderPath).map((r) => r.body)).toEqual(records.map((r) => r.body));

    // One changed character in the second event's body: the journal is trusted up to the line before.
    const altered = [...lines];
    altered[1] = altered[1]!.replace('"s_j4"', '"s_j5"');
    writeFileSync(olderPath, `${altered.join('\n')}\n`);
    expect(readJournal(olderPath).length).toBe(1);
    await recorder.close();
    await store.close();
  });

  it("leaves a running gateway's journal alone", async () => {
    const { dir, signer, store, journal, recorder } = setup();
    recorder.record(sessionEvents('s_j3', AGENT, 'pg', Date.now(), 1)[0]!);
    await recorder.flushSoon();
    expect(await recoverJournals(dir, store, signer, silent)).toBe(0);
    expect(existsSync(journal.path)).toBe(true);
    await recorder.close();
    await store.close();
  });
});
