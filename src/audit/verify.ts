import type { KeyObject } from 'node:crypto';
import { canonicalJson } from './canonical.js';
import { GENESIS_HASH, checkpointPayload, linkHash, type Checkpoint } from './chain.js';
import type { PruneRecord, Store } from '../store/store.js';
import { verifySignature, type TrustedKeys } from './keys.js';

/**
 * How a chain was broken:
 * - `altered`: an event's content no longer matches its hash (or a signed checkpoint's);
 * - `removed`: a seq is missing between events that are present;
 * - `reordered`: events are present but not where the chain put them;
 * - `inserted`: an event the chain never held (a duplicate seq, or one whose prev does not link);
 * - `truncated`: a checkpoint (or an export's manifest) names events beyond the last one present;
 * - `bad-signature`: a checkpoint or manifest whose signature does not verify with a trusted key.
 */
export type BreakKind = 'altered' | 'removed' | 'reordered' | 'inserted' | 'truncated' | 'bad-signature';

export interface Break {
  /** Null when the problem is not in any one chain (the manifest, unchained rows). */
  readonly chain: string | null;
  /** The first bad seq in the chain (null when no seq applies). */
  readonly seq: number | null;
  readonly kind: BreakKind;
  /** Where the offending record is: `store row N` or `events.jsonl line N`. */
  readonly at?: string;
  readonly message: string;
}

export interface ChainResult {
  readonly chain: string;
  readonly events: number;
  readonly firstSeq: number | null;
  readonly lastSeq: number | null;
  readonly firstTime: number | null;
  readonly lastTime: number | null;
  readonly checkpoints: number;
  /** The highest seq a checkpoint with a valid signature vouches for; null when none does. */
  readonly signedThrough: number | null;
  /** Events after the last valid checkpoint: intact as far as the hashes go, but not (yet) signed. */
  readonly unsignedTail: number;
  /** Retention deleted the events through this seq, as a signed record says; null when nothing was pruned. */
  readonly prunedThrough: number | null;
  /** The first problem in this chain, or null. */
  readonly problem: Break | null;
}

export interface VerifyResult {
  readonly ok: boolean;
  /** What was verified: the store file or export folder. */
  readonly source: string;
  /** Fingerprints of the public keys trusted for this run. */
  readonly keys: readonly string[];
  readonly events: number;
  readonly chains: readonly ChainResult[];
  /** The first problem of each chain, then problems outside chains. Empty when everything holds. */
  readonly problems: readonly Break[];
  /** Not tampering, but worth an auditor's eye (unsigned tails, unchained rows). */
  readonly warnings: readonly string[];
}

interface Row {
  /** Storage position: store row id, or export line number. */
  readonly pos: number;
  readonly seq: number;
  readonly prev: string;
  readonly hash: string;
  readonly time: number | null;
  /** The stored hash matches the content at the stored place. */
  readonly ok: boolean;
  /** canonicalJson(event), kept for rows that do not match (to find where they belong), else null. */
  readonly canon: string | null;
}

/** Collects one chain's rows in storage order, hashing each as it arrives so bodies need not be kept. */
export class ChainRows {
  readonly rows: Row[] = [];
  /** Rows whose chain fields are unusable (no integer seq, no hash): reported as altered. */
  readonly malformed: { pos: number; reason: string }[] = [];

  constructor(readonly chain: string) {}

  /** `event` is the parsed body; undefined when the stored body is not JSON. */
  add(pos: number, seq: unknown, prev: unknown, hash: unknown, time: unknown, event: unknown): void {
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1 || typeof prev !== 'string' || typeof hash !== 'string') {
      this.malformed.push({ pos, reason: 'its seq, prev or hash is missing or not valid' });
      return;
    }
    let canon: string | null = null;
    if (event !== undefined) {
      try {
        canon = canonicalJson(event);
      } catch {
        canon = null;
      }
    }
    const ok = canon !== null && linkHash(this.chain, seq, prev, canon) === hash;
    this.rows.push({ pos, seq, prev, hash, time: typeof time === 'number' ? time : null, ok, canon: ok ? null : canon });
  }
}

export interface ChainAnchors {
  /** The seq the rows should start at, and the hash its event must name as prev. */
  readonly firstSeq: number;
  readonly prevOfFirst: string;
  /** For exports: the last seq and head hash the signed manifest lists. */
  readonly lastSeq?: number;
  readonly headHash?: string;
  /** A chain that starts at seq 1 must have its signed opening checkpoint (seq 0). */
  readonly requireOpening: boolean;
  /**
   * The events before `firstSeq` were deleted by retention, and a valid signed record names
   * `firstSeq - 1` and `prevOfFirst`: the chain counts as signed through firstSeq - 1.
   */
  readonly pruned?: boolean;
  /** A signed statement (a retention record) that the chain reached `seq` with `hash`: fewer events present is truncation. */
  readonly reached?: { readonly seq: number; readonly hash: string; readonly what: string };
}

type Where = (pos: number) => string;

/** Checks one chain: the hash links, seq continuity, storage order, and every checkpoint. */
export function checkChain(rows: ChainRows, checkpoints: readonly Checkpoint[], keys: TrustedKeys, anchors: ChainAnchors, where: Where): ChainResult {
  const chain = rows.chain;
  const all = rows.rows;
  const found: Break[] = [];
  const report = (seq: number | null, kind: BreakKind, message: string, pos?: number): void => {
    found.push({ chain, seq, kind, ...(pos !== undefined ? { at: where(pos) } : {}), message });
  };

  for (const m of rows.malformed) report(null, 'altered', `the event at ${where(m.pos)} is not a chain record: ${m.reason}`, m.pos);

  const sorted = [...all].sort((a, b) => a.seq - b.seq || a.pos - b.pos);
  const counts = new Map<number, number>();
  for (const r of all) counts.set(r.seq, (counts.get(r.seq) ?? 0) + 1);
  const mismatched = all.filter((r) => !r.ok);
  const bySeq = new Map<number, Row>();
  for (const r of sorted) if (!bySeq.has(r.seq)) bySeq.set(r.seq, r);

  // 1. Walk the chain in seq order from its anchor: every link must hold.
  const accepted = new Map<number, Row>();
  let expected = anchors.firstSeq;
  let prevHash = anchors.prevOfFirst;
  for (let i = 0; i < sorted.length; i++) {
    const r = sorted[i]!;
    if (r.seq < expected) {
      if (accepted.has(r.seq)) duplicate(r, sorted[i + 1]);
      else report(r.seq, 'inserted', `seq ${r.seq} comes before seq ${anchors.firstSeq}, where the chain's signed records say it starts`, r.pos);
      break;
    }
    if (r.seq > expected) {
      const through = r.seq - 1;
      report(expected, 'removed', through === expected ? `seq ${expected} is missing (the next event present is seq ${r.seq})` : `seqs ${expected}–${through} are missing (the next event present is seq ${r.seq})`);
      break;
    }
    if (!r.ok) {
      misfit(r, sorted[i + 1]);
      break;
    }
    if (r.prev !== prevHash) {
      const later = all.find((x) => x.seq > r.seq && x.hash === r.prev);
      if (later) report(r.seq, 'reordered', `seq ${r.seq} names seq ${later.seq} as its predecessor: events were moved and rehashed`, r.pos);
      else if (r.seq === anchors.firstSeq) {
        const origin = anchors.firstSeq === 1 ? 'the start of the chain' : anchors.pruned ? `the signed retention record of seq ${anchors.firstSeq - 1}` : "the exported range's recorded predecessor";
        report(r.seq, 'inserted', `seq ${r.seq} does not continue from ${origin}`, r.pos);
      }
      else report(r.seq, 'inserted', `seq ${r.seq} does not link to seq ${r.seq - 1} (its prev is another hash): it was forged, or seq ${r.seq - 1} was rewritten with a recomputed hash`, r.pos);
      break;
    }
    accepted.set(r.seq, r);
    prevHash = r.hash;
    expected++;
  }
  const lastGood = expected - 1;
  const maxPresent = sorted.length > 0 ? sorted.at(-1)!.seq : anchors.firstSeq - 1;

  function duplicate(r: Row, next: Row | undefined): void {
    const a = accepted.get(r.seq)!;
    let forged: Row;
    if (next && next.seq === r.seq + 1 && next.prev === a.hash && next.prev !== r.hash) forged = r;
    else if (next && next.seq === r.seq + 1 && next.prev === r.hash && next.prev !== a.hash) forged = a;
    else if (!r.ok || r.prev !== a.prev) forged = r;
    else forged = r.pos > a.pos ? r : a;
    report(r.seq, 'inserted', `two events claim seq ${r.seq}; the one at ${where(forged.pos)} is not part of the chain`, forged.pos);
  }

  function fits(seq: number, prev: string, canon: string | null, hash: string): boolean {
    return canon !== null && linkHash(chain, seq, prev, canon) === hash;
  }

  function misfit(r: Row, next: Row | undefined): void {
    // The whole record was moved: it hashes correctly at another seq.
    const candidates = new Set<number>([r.seq - 1, r.seq + 1, ...mismatched.map((m) => m.seq)]);
    candidates.delete(r.seq);
    for (const s of candidates) {
      if (s < 1 || !fits(s, r.prev, r.canon, r.hash)) continue;
      const at = accepted.get(s);
      if (s < r.seq && at && at.prev === r.prev) {
        report(s, 'inserted', `an event was spliced in at seq ${s} and the later events renumbered (the event now at seq ${r.seq} was recorded as seq ${s})`, at.pos);
      } else {
        report(r.seq, 'reordered', `the event stored as seq ${r.seq} was recorded as seq ${s}`, r.pos);
      }
      return;
    }
    // The contents of two records were swapped: another record's content belongs here.
    for (const o of mismatched) {
      if (o !== r && fits(r.seq, r.prev, o.canon, r.hash)) {
        report(r.seq, 'reordered', `the content recorded as seq ${r.seq} is stored as seq ${o.seq} (${where(o.pos)}): contents were swapped`, r.pos);
        return;
      }
    }
    // An intruder without a valid hash, with the real event pushed one place later.
    if (next && next.seq === r.seq + 1 && !next.ok && fits(r.seq, next.prev, next.canon, next.hash)) {
      report(r.seq, 'inserted', `the event at seq ${r.seq} was inserted: the chain's own seq ${r.seq} follows it, renumbered`, r.pos);
      return;
    }
    report(r.seq, 'altered', r.canon === null ? `the event at seq ${r.seq} cannot be read as JSON` : `the content of seq ${r.seq} does not match its hash`, r.pos);
  }

  // 2. Storage order must follow seq order (what `hoop sessions show` and exports present).
  let maxSeen = -1;
  let maxRow: Row | null = null;
  for (const r of all) {
    if (maxRow && r.seq <= maxSeen && counts.get(r.seq) === 1) {
      report(r.seq, 'reordered', `seq ${r.seq} is stored after seq ${maxSeen} (${where(r.pos)} comes after ${where(maxRow.pos)})`, r.pos);
      break;
    }
    if (r.seq > maxSeen) {
      maxSeen = r.seq;
      maxRow = r;
    }
  }

  // 3. Checkpoints: a valid signature, and the event they name must be the one present.
  let signedThrough: number | null = anchors.pruned ? anchors.firstSeq - 1 : null;
  let opening = false;
  let previousCheckpoint = anchors.firstSeq - 1;
  let beyond: Checkpoint | null = null;
  for (const cp of [...checkpoints].sort((a, b) => a.seq - b.seq)) {
    const key: KeyObject | undefined = keys.get(cp.keyFingerprint);
    if (!key) {
      report(cp.seq, 'bad-signature', `the checkpoint at seq ${cp.seq} is signed by key ${cp.keyFingerprint}, which is not a trusted key`);
      continue;
    }
    if (!verifySignature(key, checkpointPayload(cp), cp.signature)) {
      report(cp.seq, 'bad-signature', `the checkpoint at seq ${cp.seq} has a signature that does not verify: it was forged or altered`);
      continue;
    }
    if (cp.seq === 0) {
      if (cp.hash !== GENESIS_HASH) report(0, 'altered', 'the opening checkpoint does not name the genesis hash');
      opening = true;
      signedThrough = Math.max(signedThrough ?? 0, 0);
    } else if (cp.seq < anchors.firstSeq - 1) {
      continue; // before an exported range: nothing here to compare it with
    } else if (cp.seq === anchors.firstSeq - 1) {
      if (cp.hash !== anchors.prevOfFirst) report(anchors.firstSeq, 'altered', `the first event's prev differs from the signed checkpoint at seq ${cp.seq}`);
      else signedThrough = Math.max(signedThrough ?? 0, cp.seq);
    } else if (cp.seq > maxPresent) {
      if (!beyond || cp.seq > beyond.seq) beyond = cp;
    } else if (cp.seq <= lastGood) {
      const r = accepted.get(cp.seq)!;
      if (r.hash !== cp.hash) {
        report(
          cp.seq,
          'altered',
          `seq ${cp.seq} does not have the hash the checkpoint signed: events in seq ${previousCheckpoint + 1}–${cp.seq} were rewritten and their hashes recomputed`,
          r.pos,
        );
      } else signedThrough = Math.max(signedThrough ?? 0, cp.seq);
    }
    if (cp.seq > previousCheckpoint) previousCheckpoint = cp.seq;
  }
  const end = maxPresent < anchors.firstSeq ? '(none)' : String(maxPresent);
  const reached = anchors.reached && anchors.reached.seq >= anchors.firstSeq ? anchors.reached : null;
  if (reached && reached.seq > maxPresent && (!beyond || reached.seq > beyond.seq)) {
    report(maxPresent + 1, 'truncated', `${reached.what} records that the chain reached seq ${reached.seq}, but it ends at seq ${end}: ${reached.seq - maxPresent} event(s) removed from its end`);
  } else if (beyond) {
    report(maxPresent + 1, 'truncated', `the latest checkpoint (signed ${new Date(beyond.time).toISOString()}) covers events through seq ${beyond.seq}, but the chain ends at seq ${end}: ${beyond.seq - maxPresent} event(s) removed from its end`);
  }
  if (reached && reached.seq <= lastGood) {
    const r = accepted.get(reached.seq)!;
    if (r.hash !== reached.hash) report(reached.seq, 'altered', `seq ${reached.seq} does not have the hash ${reached.what} signed: events up to it were rewritten and their hashes recomputed`, r.pos);
    else signedThrough = Math.max(signedThrough ?? 0, reached.seq);
  }
  if (anchors.requireOpening && anchors.firstSeq === 1 && !opening && (all.length > 0 || checkpoints.length > 0)) {
    report(1, 'inserted', 'the chain has no signed opening checkpoint (seq 0): no gateway holding a trusted key started it');
  }

  // 4. An export's manifest names the range it holds.
  if (anchors.lastSeq !== undefined) {
    if (maxPresent < anchors.lastSeq) {
      report(maxPresent + 1, 'truncated', `the signed manifest lists events through seq ${anchors.lastSeq}, but the export ends at seq ${maxPresent < anchors.firstSeq ? '(none)' : maxPresent}`);
    } else if (maxPresent > anchors.lastSeq) {
      report(anchors.lastSeq + 1, 'inserted', `the export holds seq ${anchors.lastSeq + 1} and later, beyond the last seq its signed manifest lists (${anchors.lastSeq})`, bySeq.get(anchors.lastSeq + 1)?.pos);
    } else if (anchors.lastSeq <= lastGood && accepted.get(anchors.lastSeq)!.hash !== anchors.headHash) {
      report(anchors.lastSeq, 'altered', `seq ${anchors.lastSeq} does not have the head hash the signed manifest lists: the export's events were rewritten`);
    }
  }

  // The first problem in chain order; for the same seq, the earlier (more specific) check wins.
  const problem = found.reduce<Break | null>((best, b) => (best === null || (b.seq ?? -1) < (best.seq ?? -1) ? b : best), null);
  const events = all.length;
  const unsignedTail = problem ? 0 : sorted.filter((r) => r.seq > (signedThrough ?? anchors.firstSeq - 1)).length;
  let firstTime: number | null = null;
  let lastTime: number | null = null;
  for (const r of all) {
    if (r.time === null) continue;
    if (firstTime === null || r.time < firstTime) firstTime = r.time;
    if (lastTime === null || r.time > lastTime) lastTime = r.time;
  }
  return {
    chain,
    events,
    firstSeq: sorted[0]?.seq ?? null,
    lastSeq: sorted.at(-1)?.seq ?? null,
    firstTime,
    lastTime,
    checkpoints: checkpoints.length,
    signedThrough,
    unsignedTail,
    prunedThrough: anchors.pruned ? anchors.firstSeq - 1 : null,
    problem,
  };
}

export function tailWarning(c: ChainResult): string {
  const from = (c.signedThrough ?? 0) + 1;
  return `chain ${c.chain}: unsigned tail of ${c.unsignedTail} event(s) (seq ${from}–${c.lastSeq}) after the last checkpoint; they hash-link correctly but no signature covers them yet (the gateway stopped before its next checkpoint, or is still running)`;
}

/** Parses a stored body; undefined when it is not JSON (the verifier reports that row as altered). */
export function parseBody(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

/** The exact bytes a retention record's signature covers. */
export function prunePayload(r: Omit<PruneRecord, 'signature'>): Buffer {
  return Buffer.from(
    canonicalJson({
      type: 'hoop.audit.prune/1',
      chain: r.chain,
      seq: r.seq,
      hash: r.hash,
      headSeq: r.headSeq,
      headHash: r.headHash,
      cutoff: r.cutoff,
      events: r.events,
      time: r.time,
      keyFingerprint: r.keyFingerprint,
    }),
    'utf8',
  );
}

/** Whether a retention record is signed by a trusted key. */
export function validPrune(r: PruneRecord, keys: TrustedKeys): boolean {
  const key = keys.get(r.keyFingerprint);
  return key !== undefined && verifySignature(key, prunePayload(r), r.signature);
}

/**
 * Where a chain's rows must start, given its retention records: at seq 1 from the genesis hash
 * when nothing was pruned, else right after the valid record naming the seq just before the first
 * event present (or, if none names it, the latest one before it, so the gap shows as removed).
 * `after` are the records read after the events (a prune in between moved the start: an older
 * record still names it), `before` those read before them (their heads were reached by then).
 */
export function pruneAnchors(rows: ChainRows, after: readonly PruneRecord[], before: readonly PruneRecord[], keys: TrustedKeys): ChainAnchors {
  const valid = after.filter((r) => validPrune(r, keys)).sort((a, b) => a.seq - b.seq);
  const firstPresent = rows.rows.reduce<number | null>((m, r) => (m === null || r.seq < m ? r.seq : m), null);
  let anchor: PruneRecord | undefined;
  if (firstPresent === null) anchor = valid.at(-1);
  else anchor = valid.find((r) => r.seq === firstPresent - 1) ?? valid.filter((r) => r.seq < firstPresent - 1).at(-1);
  const head = before.filter((r) => validPrune(r, keys)).reduce<PruneRecord | null>((m, r) => (m === null || r.headSeq > m.headSeq ? r : m), null);
  const reached = head ? { seq: head.headSeq, hash: head.headHash, what: `the retention record signed ${new Date(head.time).toISOString()}` } : undefined;
  if (!anchor) return { firstSeq: 1, prevOfFirst: GENESIS_HASH, requireOpening: true, ...(reached ? { reached } : {}) };
  return { firstSeq: anchor.seq + 1, prevOfFirst: anchor.hash, requireOpening: false, pruned: true, ...(reached ? { reached } : {}) };
}

/** Retention records whose signature does not verify with a trusted key, as problems. */
export function badPrunes(records: readonly PruneRecord[], keys: TrustedKeys): Break[] {
  return records
    .filter((r) => !validPrune(r, keys))
    .map((r) => ({
      chain: r.chain,
      seq: r.seq,
      kind: 'bad-signature' as const,
      message: keys.has(r.keyFingerprint)
        ? `the retention record for seqs through ${r.seq} has a signature that does not verify: it was forged or altered`
        : `the retention record for seqs through ${r.seq} is signed by key ${r.keyFingerprint}, which is not a trusted key`,
    }));
}

/**
 * Verifies every chain in a store. Reads the retention records, then the checkpoints, then the
 * events, then the retention records again: a gateway writing meanwhile only adds an unsigned
 * tail, and one pruning meanwhile leaves a start that an older record still names.
 */
export async function verifyStore(store: Store, keys: TrustedKeys, source: string): Promise<VerifyResult> {
  const prunesBefore = await store.listPrunes();
  const checkpoints = await store.listCheckpoints();
  const chains = new Map<string, ChainRows>();
  let events = 0;
  let unchained = 0;
  let firstChained: number | null = null;
  let unchainedAfter: number | null = null;
  for await (const rec of store.auditRecords()) {
    events++;
    if (rec.chain === null) {
      unchained++;
      if (firstChained !== null && unchainedAfter === null) unchainedAfter = rec.storeSeq;
      continue;
    }
    firstChained ??= rec.storeSeq;
    let rows = chains.get(rec.chain);
    if (!rows) chains.set(rec.chain, (rows = new ChainRows(rec.chain)));
    rows.add(rec.storeSeq, rec.seq, rec.prev, rec.hash, rec.time, parseBody(rec.body));
  }
  const prunesAfter = await store.listPrunes();
  for (const cp of checkpoints) if (!chains.has(cp.chain)) chains.set(cp.chain, new ChainRows(cp.chain));
  for (const p of prunesAfter) if (!chains.has(p.chain)) chains.set(p.chain, new ChainRows(p.chain));
  const where = (pos: number): string => `store row ${pos}`;
  const results = [...chains.values()].map((rows): ChainResult => {
    const own = (r: PruneRecord): boolean => r.chain === rows.chain;
    const anchors = pruneAnchors(rows, prunesAfter.filter(own), prunesBefore.filter(own), keys);
    const result = checkChain(rows, checkpoints.filter((c) => c.chain === rows.chain), keys, anchors, where);
    const problem = [result.problem, ...badPrunes(prunesAfter.filter(own), keys)].reduce<Break | null>(
      (best, b) => (b === null ? best : best === null || (b.seq ?? -1) < (best.seq ?? -1) ? b : best),
      null,
    );
    return problem === result.problem ? result : { ...result, problem, unsignedTail: 0 };
  });
  const problems: Break[] = results.flatMap((r) => (r.problem ? [r.problem] : []));
  if (unchainedAfter !== null) {
    problems.push({ chain: null, seq: null, kind: 'inserted', at: where(unchainedAfter), message: `an event without a chain is stored after chained ones (${where(unchainedAfter)}): it was added outside the recorder, or its chain fields were erased` });
  }
  const warnings = results.filter((r) => !r.problem && r.unsignedTail > 0).map(tailWarning);
  if (unchained > 0) warnings.push(`${unchained} event(s) were recorded before this store had hash chains; nothing vouches for them`);
  return { ok: problems.length === 0, source, keys: [...keys.keys()], events, chains: results, problems, warnings };
}
