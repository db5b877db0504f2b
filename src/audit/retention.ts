import type { Logger } from 'pino';
import type { Checkpoint } from './chain.js';
import { checkpointPayload } from './chain.js';
import { trustedKeys, verifySignature, type AuditSigner } from './keys.js';
import type { PruneRecord, Store } from '../store/store.js';
import { ChainRows, badPrunes, checkChain, parseBody, pruneAnchors, prunePayload, validPrune } from './verify.js';

/**
 * Retention (`audit.retention`): deletes events older than the retention while the rest of each
 * chain keeps verifying.
 *
 * Only a chain's prefix can go (a chain must stay contiguous), so a chain is pruned through the
 * seq just before its first event that is still within the retention. Before deleting anything
 * the pruner verifies that prefix (hash links, signed checkpoints, with the gateway's own key):
 * pruning a tampered prefix would destroy the evidence, so such a chain is left alone and logged.
 * Each deletion stores, in the same transaction, a signed retention record naming the last pruned
 * seq and its hash; `hoop audit verify` accepts a chain starting after seq 1 only when such a
 * record names exactly the seq and hash before its first event. The record also carries the
 * chain's signed head at the time, so cutting the chain's end after pruning is still detected.
 */

/** How often a running gateway applies the retention. */
export const RETENTION_INTERVAL_MS = 3_600_000;
/** Events read and checked per step. */
const WINDOW = 20_000;
/** Events deleted per transaction (with a record each), yielding to the event loop between them. */
const BATCH = 5_000;

export interface PruneOptions {
  readonly retentionMs: number;
  /** Now, ms since the epoch (tests pin it). */
  readonly now?: number;
  readonly window?: number;
  readonly batch?: number;
  /** Checked between batches: stop early when it returns true (the gateway is stopping). */
  readonly stopping?: () => boolean;
}

export interface PruneSummary {
  /** Events older than this were due. */
  readonly cutoff: number;
  /** Chains pruned, and through which seq. */
  readonly chains: { readonly chain: string; readonly throughSeq: number; readonly events: number }[];
  /** Chained events deleted. */
  readonly events: number;
  /** Events from before the store had chains deleted. */
  readonly unchained: number;
  /** Session rows deleted (all their events were pruned). */
  readonly sessions: number;
  /** Chains with old events that were not pruned, and why. */
  readonly skipped: { readonly chain: string; readonly reason: string }[];
}

const nextTick = (): Promise<void> => new Promise((r) => setImmediate(r));

function sign(signer: AuditSigner, unsigned: Omit<PruneRecord, 'signature'>): PruneRecord {
  return { ...unsigned, signature: signer.sign(prunePayload(unsigned)) };
}

/** Applies the retention once: every chain's prefix older than the cutoff, then unchained events. */
export async function pruneStore(store: Store, signer: AuditSigner, opts: PruneOptions): Promise<PruneSummary> {
  const now = opts.now ?? Date.now();
  const cutoff = now - opts.retentionMs;
  const window = opts.window ?? WINDOW;
  const batch = opts.batch ?? BATCH;
  const keys = trustedKeys([signer.publicKey]);
  const where = (pos: number): string => `store row ${pos}`;
  const chainIds = new Set<string>([...(await store.listCheckpoints()).map((c) => c.chain), ...(await store.listPrunes()).map((p) => p.chain)]);
  const chains: PruneSummary['chains'][number][] = [];
  const skipped: PruneSummary['skipped'][number][] = [];
  let events = 0;
  let sessions = 0;

  chainLoop: for (const chain of chainIds) {
    let prunedHere = 0;
    let through = 0;
    for (;;) {
      if (opts.stopping?.()) break chainLoop;
      const prunes = await store.listPrunes({ chain });
      const checkpoints = await store.listCheckpoints({ chain });
      if (badPrunes(prunes, keys).length > 0) {
        skipped.push({ chain, reason: 'a retention record does not verify with the gateway key' });
        break;
      }
      const anchorSeq = prunes.filter((p) => validPrune(p, keys)).reduce((m, p) => Math.max(m, p.seq), 0);
      // Most runs find the chain's oldest event still young: look at that one before reading a window.
      let oldest: number | null = null;
      for await (const rec of store.auditRecords({ chain, fromSeq: anchorSeq + 1, toSeq: anchorSeq + 1 })) oldest = rec.time;
      if (oldest === null || oldest >= cutoff) break;
      const rows = new ChainRows(chain);
      const times = new Map<number, number>();
      const read = async (fromSeq: number, toSeq?: number): Promise<number> => {
        let n = 0;
        for await (const rec of store.auditRecords({ chain, fromSeq, ...(toSeq !== undefined ? { toSeq } : {}) })) {
          rows.add(rec.storeSeq, rec.seq, rec.prev, rec.hash, rec.time, parseBody(rec.body));
          if (rec.seq !== null) times.set(rec.seq, rec.time);
          n++;
        }
        return n;
      };
      const first = await read(anchorSeq + 1, anchorSeq + window);
      if (first === 0) break;
      const seqs = [...times.keys()].sort((a, b) => a - b);
      const recent = seqs.find((s) => times.get(s)! >= cutoff);
      const windowFull = first >= window;
      const prunable = recent !== undefined ? recent - 1 : seqs.at(-1)!;
      if (prunable <= anchorSeq) break;
      // Verify through the first checkpoint that covers the prune point (or the chain's end).
      const cover = checkpoints.filter((c) => c.seq >= prunable).reduce<Checkpoint | null>((m, c) => (m === null || c.seq < m.seq ? c : m), null);
      const lastRead = seqs.at(-1)!;
      if (windowFull && (cover === null || cover.seq > lastRead)) await read(lastRead + 1, cover?.seq);
      const { reached: _ignored, ...anchors } = pruneAnchors(rows, prunes, [], keys);
      const upTo = cover?.seq ?? Number.MAX_SAFE_INTEGER;
      const result = checkChain(rows, checkpoints.filter((c) => c.seq <= upTo), keys, anchors, where);
      if (result.problem) {
        skipped.push({ chain, reason: `${result.problem.kind} at seq ${result.problem.seq ?? '-'}: ${result.problem.message}` });
        break;
      }
      const hashes = new Map(rows.rows.map((r) => [r.seq, r.hash]));
      // The chain's signed head: its latest checkpoint (when it verifies), else the prune point.
      const latest = checkpoints.reduce<Checkpoint | null>((m, c) => (m === null || c.seq > m.seq ? c : m), null);
      const latestValid = latest && keys.get(latest.keyFingerprint) && verifySignature(keys.get(latest.keyFingerprint)!, checkpointPayload(latest), latest.signature) ? latest : null;
      const head = latestValid && latestValid.seq > prunable ? { seq: latestValid.seq, hash: latestValid.hash } : { seq: prunable, hash: hashes.get(prunable)! };
      let from = anchorSeq;
      while (from < prunable) {
        const to = Math.min(from + batch, prunable);
        const count = rows.rows.filter((r) => r.seq > from && r.seq <= to).length;
        const record = sign(signer, {
          chain,
          seq: to,
          hash: hashes.get(to)!,
          headSeq: head.seq,
          headHash: head.hash,
          cutoff,
          events: count,
          time: Date.now(),
          keyFingerprint: signer.fingerprint,
        });
        const done = await store.pruneChain(record);
        prunedHere += done.events;
        sessions += done.sessions;
        through = to;
        from = to;
        await nextTick();
        if (opts.stopping?.()) break chainLoop;
      }
      // Another window only when this one was all old.
      if (recent !== undefined || !windowFull) break;
    }
    if (through > 0) {
      chains.push({ chain, throughSeq: through, events: prunedHere });
      events += prunedHere;
    }
  }
  const unchained = opts.stopping?.() ? 0 : await store.pruneUnchained(cutoff);
  return { cutoff, chains, events, unchained, sessions, skipped };
}

export interface RetentionTask {
  /** Applies the retention now (waits for a run already going). */
  run(): Promise<PruneSummary | null>;
  /** Stops the timer and waits for a run in progress to stop at its next batch. */
  stop(): Promise<void>;
}

/** The gateway's retention: once at start, then every `intervalMs`. */
export function startRetention(store: Store, signer: AuditSigner, retentionMs: number, log: Logger, intervalMs = RETENTION_INTERVAL_MS): RetentionTask {
  let stopped = false;
  let running: Promise<PruneSummary | null> | null = null;
  const run = (): Promise<PruneSummary | null> => {
    if (stopped) return Promise.resolve(null);
    running ??= pruneStore(store, signer, { retentionMs, stopping: () => stopped })
      .then((s) => {
        for (const k of s.skipped) log.error({ chain: k.chain, reason: k.reason }, 'audit: retention left a chain alone: its old events do not verify, and pruning them would destroy the evidence');
        log.info(
          { cutoff: new Date(s.cutoff).toISOString(), events: s.events, unchained: s.unchained, sessions: s.sessions, chains: s.chains },
          'audit: retention applied',
        );
        return s;
      })
      .catch((err: unknown) => {
        log.error({ err: err instanceof Error ? err.message : String(err) }, 'audit: retention failed; retrying at the next interval');
        return null;
      })
      .finally(() => {
        running = null;
      });
    return running;
  };
  const timer = setInterval(() => void run(), intervalMs);
  timer.unref();
  void run();
  return {
    run,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
