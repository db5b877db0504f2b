import { EventEmitter } from 'node:events';
import { ConfigError } from '../errors.js';
import type { Store } from '../store/store.js';
import { chainEvents, GENESIS_HASH, checkpointPayload, newChainId, type ChainHead, type ChainedEvent, type Checkpoint } from './chain.js';
import type { AuditEvent } from './events.js';
import type { AuditSigner } from './keys.js';
import type { RecordingJournal } from './journal.js';

export interface RecorderOptions {
  /** Events written per store transaction at most (the recorder yields to socket I/O between transactions). */
  readonly batchSize: number;
  /** Longest an event waits in memory before its batch is written. */
  readonly flushIntervalMs: number;
  /**
   * Events allowed to wait at once. Above it the recorder refuses new events (and the sessions
   * producing them end): unrecorded traffic is never let through.
   */
  readonly maxPending?: number;
  /**
   * `batched` (default): `record` only queues, batches are written off the relay's path; the relay
   * holds each statement's acknowledgment (ReadyForQuery) until its batch is stored (group commit).
   * `async`: the same batches, without holding acknowledgments: fastest, but a crash may lose the
   * last unwritten batch of statements clients saw acknowledged.
   * `strict`: `record` commits the event before it returns, so whatever the relay does next (send
   * the client the statement's result) happens only once the event is stored; a failed write
   * throws, and the session producing the event ends.
   */
  readonly mode?: 'batched' | 'async' | 'strict';
  /** Signs checkpoints. Without it the chain is still built, but nothing vouches for it. */
  readonly signer?: AuditSigner;
  /** Sign a checkpoint at least every this many events. */
  readonly checkpointEvery?: number;
  /** …and this often while new events arrive (0: only by count and at close). */
  readonly checkpointIntervalMs?: number;
  /** The chain this recorder writes; a fresh one by default (one per gateway process). */
  readonly chain?: string;
  /**
   * Batched mode: acknowledgments wait for the journal (one file append per group) instead of a
   * store commit; the store takes the events in large batches after (see journal.ts).
   */
  readonly journal?: RecordingJournal;
}

/**
 * Store transactions run back to back for at most this long, then the sessions' socket I/O runs:
 * SQLite commits on the event loop, and a backlog written in one go (a busy 50 ms of 16 clients)
 * stalled every session for its whole length. Not after every transaction: each pause costs the
 * statement that arrives in it a wait, so slices that are too short raise the latency of many.
 */
const STORE_SLICE_MS = 2;

/**
 * Called between two store transactions: returns a promise that lets socket I/O run once
 * STORE_SLICE_MS have gone by without it, and nothing before.
 */
function storePacer(): () => Promise<void> | undefined {
  let since = performance.now();
  return () => {
    if (performance.now() - since <= STORE_SLICE_MS) return undefined;
    return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      since = performance.now();
    });
  };
}

export class RecordingFailedError extends Error {
  readonly code = 'HOOP_RECORDING_FAILED';
}

/**
 * Buffers audit events and writes them in batches, off the relay's critical path: the relay
 * only pushes into an array. A failed write is fatal for recording: the recorder emits
 * `failed`, refuses further events, and the gateway ends every session (fail closed).
 *
 * Every write also extends this recorder's hash chain: events get their seq, prev and hash when
 * their batch is written (in order, as writes never overlap), and signed checkpoints of the chain
 * head go into the same transaction as the events they cover.
 */
export class Recorder extends EventEmitter<{ failed: [Error] }> {
  readonly chain: string;
  readonly mode: 'batched' | 'async' | 'strict';
  private queue: AuditEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private checkpointTimer: NodeJS.Timeout | null = null;
  /** The end of the write queue: writes (batches, checkpoints) run one after another. */
  private writes: Promise<void> = Promise.resolve();
  private failure: Error | null = null;
  private closed = false;
  private readonly maxPending: number;
  private readonly checkpointEvery: number;
  /** The last event chained: stored, or (with a journal) journaled and on its way to the store. */
  private head: ChainHead = { seq: 0, hash: GENESIS_HASH };
  /** The last event stored on the chain: checkpoints never sign past it. */
  private storedHead: ChainHead = { seq: 0, hash: GENESIS_HASH };
  /** Journaled, not yet stored, in chain order. */
  private journaled: ChainedEvent[] = [];
  /** The highest seq a stored checkpoint covers; -1 until the chain's opening checkpoint is stored. */
  private signedSeq = -1;

  constructor(
    private readonly store: Store,
    private readonly opts: RecorderOptions,
  ) {
    super();
    this.chain = opts.chain ?? newChainId();
    this.mode = opts.mode ?? 'batched';
    this.maxPending = opts.maxPending ?? 100_000;
    this.checkpointEvery = opts.checkpointEvery ?? 1000;
    if (this.mode === 'strict' && !store.appendEventsSync) {
      throw new ConfigError(`recording.mode: strict needs a store that commits synchronously; the ${store.kind} store does not`, 'use recording.mode: batched');
    }
    const interval = opts.checkpointIntervalMs ?? 5000;
    if (opts.signer && interval > 0) {
      this.checkpointTimer = setInterval(() => this.checkpointIfBehind(), interval);
      this.checkpointTimer.unref();
    }
  }

  /** The key checkpoints are signed with (retention signs its records with it too). */
  get signer(): AuditSigner | undefined {
    return this.opts.signer;
  }

  /** Events waiting in memory that acknowledgments must wait for (batched mode only). */
  get hasQueued(): boolean {
    return this.mode === 'batched' && this.queue.length > 0;
  }

  get failed(): Error | null {
    return this.failure;
  }

  /** The last stored event's place in this recorder's chain. */
  get chainHead(): { chain: string; seq: number; hash: string } {
    return { chain: this.chain, ...this.storedHead };
  }

  /** Queues an event (strict mode: stores it). Throws RecordingFailedError when recording is impossible; the caller must end its session. */
  record(event: AuditEvent): void {
    if (this.failure) throw new RecordingFailedError(`recording failed: ${this.failure.message}`);
    if (this.mode === 'strict') return this.storeNow([event]);
    if (this.queue.length >= this.maxPending) {
      this.fail(new Error(`the store is not keeping up: ${this.queue.length} events waiting`));
      throw new RecordingFailedError('recording backlog is full');
    }
    this.queue.push(event);
    if (this.queue.length >= this.opts.batchSize) this.schedule(0);
    else if (this.timer === null) this.schedule(this.opts.flushIntervalMs);
  }

  /** Strict mode: chain, sign when due, and commit on the caller's stack. */
  private storeNow(events: readonly AuditEvent[], forceCheckpoint = false): void {
    const records = chainEvents(this.chain, this.head, events);
    const checkpoints = this.checkpointsFor(records, forceCheckpoint);
    if (records.length === 0 && checkpoints.length === 0) return;
    try {
      this.store.appendEventsSync!(records, checkpoints);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      throw new RecordingFailedError(`recording failed: ${this.failure!.message}`);
    }
    this.advance(records, checkpoints);
  }

  private schedule(delay: number): void {
    if (this.timer !== null) {
      if (delay > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush().catch(() => {});
    }, delay);
  }

  /** Runs writes one at a time, in the order they were asked for. */
  private serial(write: () => Promise<void>): Promise<void> {
    const run = this.writes.then(write);
    this.writes = run.catch(() => {});
    return run;
  }

  private groupCommit: Promise<void> | null = null;

  /**
   * Group commit: resolves once everything queued so far is stored, like `flush`, but the write
   * starts only after the current round of I/O callbacks. Sessions whose acknowledgments arrive in
   * the same round (several clients under load) share one transaction instead of paying one each.
   */
  flushSoon(): Promise<void> {
    if (this.failure) return Promise.reject(new RecordingFailedError(`recording failed: ${this.failure.message}`));
    this.groupCommit ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      this.groupCommit = null;
      if (!this.opts.journal || this.mode !== 'batched') return this.flush();
      this.journalQueued();
    });
    return this.groupCommit;
  }

  /** Chains what is queued and appends it to the journal; the store gets it with the next batch. */
  private journalQueued(): void {
    if (this.failure) throw new RecordingFailedError(`recording failed: ${this.failure.message}`);
    if (this.queue.length === 0) return;
    const records = chainEvents(this.chain, this.head, this.queue);
    this.queue = [];
    try {
      this.opts.journal!.append(records);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      throw new RecordingFailedError(`recording failed: ${this.failure!.message}`);
    }
    const last = records.at(-1)!;
    this.head = { seq: last.seq, hash: last.hash };
    for (const r of records) this.journaled.push(r);
    if (this.timer === null) this.schedule(this.opts.flushIntervalMs);
  }

  /** Writes everything queued so far; resolves when it is stored (or rejects when it cannot be). */
  async flush(): Promise<void> {
    if (this.failure) throw new RecordingFailedError(`recording failed: ${this.failure.message}`);
    if (this.mode === 'strict') return;
    await this.serial(async () => {
      if (this.opts.journal && this.mode === 'batched') {
        this.journalQueued();
        const pace = storePacer();
        while (this.journaled.length > 0 && !this.failure) {
          const batch = this.journaled.splice(0, this.opts.batchSize);
          await this.write(batch);
          if (this.journaled.length > 0) await pace();
        }
        // Everything journaled is stored (journaling is synchronous, so nothing slipped in between).
        if (this.journaled.length === 0 && !this.failure) this.opts.journal.reset();
        return;
      }
      const pace = storePacer();
      while (this.queue.length > 0 && !this.failure) {
        const batch = this.queue.length <= this.opts.batchSize ? this.queue : this.queue.slice(0, this.opts.batchSize);
        this.queue = batch === this.queue ? [] : this.queue.slice(batch.length);
        await this.write(chainEvents(this.chain, this.head, batch));
        if (this.queue.length > 0) await pace();
      }
    });
    const failure = this.failure as Error | null; // set by a write that failed
    if (failure) throw new RecordingFailedError(`recording failed: ${failure.message}`);
  }

  private async write(records: readonly ChainedEvent[], forceCheckpoint = false): Promise<void> {
    const checkpoints = this.checkpointsFor(records, forceCheckpoint);
    if (records.length === 0 && checkpoints.length === 0) return;
    try {
      await this.store.appendEvents(records, checkpoints);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    this.advance(records, checkpoints);
  }

  /**
   * The checkpoints to store with these records: the chain's opening one before its first write,
   * one at every `checkpointEvery`-th event, and (forced) one at the new head.
   */
  private checkpointsFor(records: readonly ChainedEvent[], force: boolean): Checkpoint[] {
    const signer = this.opts.signer;
    if (!signer) return [];
    const out: Checkpoint[] = [];
    let signed = this.signedSeq;
    if (signed < 0) {
      out.push(this.sign(signer, 0, GENESIS_HASH));
      signed = 0;
    }
    for (const r of records) {
      if (r.seq - signed >= this.checkpointEvery) {
        out.push(this.sign(signer, r.seq, r.hash));
        signed = r.seq;
      }
    }
    const head = records.at(-1) ?? this.storedHead;
    if (force && head.seq > signed) out.push(this.sign(signer, head.seq, head.hash));
    return out;
  }

  private sign(signer: AuditSigner, seq: number, hash: string): Checkpoint {
    const unsigned = { chain: this.chain, seq, hash, time: Date.now(), keyFingerprint: signer.fingerprint };
    return { ...unsigned, signature: signer.sign(checkpointPayload(unsigned)) };
  }

  private advance(records: readonly ChainedEvent[], checkpoints: readonly Checkpoint[]): void {
    const last = records.at(-1);
    if (last) {
      this.storedHead = { seq: last.seq, hash: last.hash };
      if (last.seq > this.head.seq) this.head = this.storedHead;
    }
    for (const cp of checkpoints) if (cp.seq > this.signedSeq) this.signedSeq = cp.seq;
  }

  /** Signs the head when events arrived since the last checkpoint (the interval timer, and close). */
  private checkpointIfBehind(): Promise<void> {
    if (this.failure || !this.opts.signer) return Promise.resolve();
    if (this.mode === 'strict') {
      if (this.storedHead.seq > Math.max(this.signedSeq, 0)) {
        try {
          this.storeNow([], true);
        } catch {
          // fail() has already told the gateway
        }
      }
      return Promise.resolve();
    }
    return this.serial(async () => {
      if (this.storedHead.seq > Math.max(this.signedSeq, 0) && !this.failure) await this.write([], true);
    });
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    this.checkpointTimer = null;
    this.emit('failed', err);
  }

  /** Flushes, signs the final head and stops the timers: call at shutdown. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    this.checkpointTimer = null;
    if (this.failure) return;
    await this.flush().catch(() => {});
    await this.checkpointIfBehind();
    // Only a journal whose every event is stored goes; otherwise the next start recovers it.
    if (!this.failure && this.journaled.length === 0 && this.queue.length === 0) this.opts.journal?.close();
  }
}
