import { closeSync, ftruncateSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import { GENESIS_HASH, checkpointPayload, linkHash, type ChainedEvent, type Checkpoint } from './chain.js';
import type { AuditEvent } from './events.js';
import type { AuditSigner } from './keys.js';

/** `journal-<pid>-<chain>.jsonl`: the pid tells a live gateway's journal from a crashed one's. */
const JOURNAL_FILE = /^journal-(\d+)-([A-Za-z0-9_-]+)\.jsonl$/;
/** Records inserted per transaction when a journal is recovered. */
const RECOVERY_BATCH = 500;

/**
 * The recording journal: chained events appended to a local file with one write each time a
 * group of acknowledgments is due, before the clients see them. A write to the file is as durable
 * as a SQLite commit in WAL mode with `synchronous = NORMAL` (it survives the process, not the
 * machine), for a fraction of the cost; the store then takes the events in large batches off the
 * relay's path, and the journal is emptied. After a crash the next start moves what the journal
 * holds into the store, so nothing a client saw acknowledged is lost.
 *
 * Line layout: `{"c":chain,"s":seq,"p":prev,"h":hash,"b":body}` + LF, where body is the event's
 * canonical JSON written in place, exactly as the store keeps it (not as a JSON string: escaping
 * every quote of every event again was a measurable part of recording). Lines of the earlier
 * layout, with body as a string, are still read.
 */
export class RecordingJournal {
  private fd: number;
  readonly path: string;

  private constructor(path: string) {
    this.path = path;
    // O_APPEND: after a truncation, writes start again at the beginning without seeking.
    this.fd = openSync(path, 'a', 0o600);
  }

  static create(dir: string, chain: string): RecordingJournal {
    return new RecordingJournal(join(dir, `journal-${process.pid}-${chain}.jsonl`));
  }

  /** Appends the records in one write. Throws when it cannot: the caller fails closed. */
  append(records: readonly ChainedEvent[]): void {
    let text = '';
    for (const r of records) text += `{"c":${JSON.stringify(r.chain)},"s":${r.seq},"p":"${r.prev}","h":"${r.hash}","b":${r.body}}\n`;
    const bytes = Buffer.from(text, 'utf8');
    let written = 0;
    while (written < bytes.length) written += writeSync(this.fd, bytes, written);
  }

  /** Everything in the journal is in the store now. */
  reset(): void {
    ftruncateSync(this.fd, 0);
  }

  /** A clean stop: the store has everything, the file goes. */
  close(): void {
    closeSync(this.fd);
    unlinkSync(this.path);
  }
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The journal's valid records, in order. A torn or altered line ends the journal there. */
export function readJournal(path: string): ChainedEvent[] {
  const out: ChainedEvent[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line === '') continue;
    let r: { c: unknown; s: unknown; p: unknown; h: unknown; b: unknown };
    try {
      r = JSON.parse(line) as typeof r;
    } catch {
      break; // the write of the last group was cut short: none of it was acknowledged
    }
    if (typeof r.c !== 'string' || typeof r.s !== 'number' || typeof r.p !== 'string' || typeof r.h !== 'string') break;
    // The body exactly as written (the hash covers its bytes): after `,"b":`, which nothing before it can contain.
    const body = typeof r.b === 'string' ? r.b : line.slice(line.indexOf(',"b":') + 5, -1);
    if (linkHash(r.c, r.s, r.p, body) !== r.h) break;
    out.push({ chain: r.c, seq: r.s, prev: r.p, hash: r.h, body, event: (typeof r.b === 'string' ? JSON.parse(r.b) : r.b) as AuditEvent });
  }
  return out;
}

/**
 * Moves what crashed gateways' journals hold into the store, signs a checkpoint over each
 * recovered chain's new head, and removes the journals. Journals of running gateways are left alone.
 */
export async function recoverJournals(dir: string, store: Store, signer: AuditSigner | undefined, log: Logger): Promise<number> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  let recovered = 0;
  for (const name of names) {
    const m = JOURNAL_FILE.exec(name);
    if (!m || processAlive(Number(m[1]))) continue;
    const path = join(dir, name);
    const records = readJournal(path);
    const byChain = new Map<string, ChainedEvent[]>();
    for (const r of records) byChain.set(r.chain, [...(byChain.get(r.chain) ?? []), r]);
    const spans = await store.chainSpans({});
    for (const [chain, list] of byChain) {
      const stored = spans.find((s) => s.chain === chain)?.lastSeq ?? 0;
      const missing = list.filter((r) => r.seq > stored);
      // The journal continues the stored chain exactly, or it is not used (and kept for a human).
      if (missing.length === 0) continue;
      if (missing[0]!.seq !== stored + 1 || missing.some((r, i) => i > 0 && r.seq !== missing[i - 1]!.seq + 1)) {
        log.error({ journal: path, chain, stored, first: missing[0]!.seq }, 'recording journal does not continue the stored chain; left in place for inspection');
        return recovered;
      }
      const sign = (seq: number, hash: string): Checkpoint => {
        const unsigned = { chain, seq, hash, time: Date.now(), keyFingerprint: signer!.fingerprint };
        return { ...unsigned, signature: signer!.sign(checkpointPayload(unsigned)) };
      };
      for (let i = 0; i < missing.length; i += RECOVERY_BATCH) {
        const batch = missing.slice(i, i + RECOVERY_BATCH);
        const last = i + RECOVERY_BATCH >= missing.length ? batch.at(-1)! : null;
        const checkpoints: Checkpoint[] = [];
        // A gateway that died before its first store write never stored its chain's opening checkpoint.
        if (i === 0 && stored === 0 && signer) checkpoints.push(sign(0, GENESIS_HASH));
        if (last && signer) checkpoints.push(sign(last.seq, last.hash));
        await store.appendEvents(batch, checkpoints);
      }
      recovered += missing.length;
    }
    unlinkSync(path);
  }
  if (recovered > 0) log.warn({ events: recovered }, 'recovered recorded events from the journal of a gateway that stopped uncleanly');
  return recovered;
}
