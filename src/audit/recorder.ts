import { EventEmitter } from 'node:events';
import type { Store } from '../store/store.js';
import type { AuditEvent } from './events.js';

export interface RecorderOptions {
  /** Events written per store transaction at most. */
  readonly batchSize: number;
  /** Longest an event waits in memory before its batch is written. */
  readonly flushIntervalMs: number;
  /**
   * Events allowed to wait at once. Above it the recorder refuses new events (and the sessions
   * producing them end): unrecorded traffic is never let through.
   */
  readonly maxPending?: number;
}

export class RecordingFailedError extends Error {
  readonly code = 'HOOP_RECORDING_FAILED';
}

/**
 * Buffers audit events and writes them in batches, off the relay's critical path: the relay
 * only pushes into an array. A failed write is fatal for recording: the recorder emits
 * `failed`, refuses further events, and the gateway ends every session (fail closed).
 */
export class Recorder extends EventEmitter<{ failed: [Error] }> {
  private queue: AuditEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> | null = null;
  private failure: Error | null = null;
  private readonly maxPending: number;

  constructor(
    private readonly store: Store,
    private readonly opts: RecorderOptions,
  ) {
    super();
    this.maxPending = opts.maxPending ?? 100_000;
  }

  get failed(): Error | null {
    return this.failure;
  }

  /** Queues an event. Throws RecordingFailedError when recording is impossible; the caller must end its session. */
  record(event: AuditEvent): void {
    if (this.failure) throw new RecordingFailedError(`recording failed: ${this.failure.message}`);
    if (this.queue.length >= this.maxPending) {
      this.fail(new Error(`the store is not keeping up: ${this.queue.length} events waiting`));
      throw new RecordingFailedError('recording backlog is full');
    }
    this.queue.push(event);
    if (this.queue.length >= this.opts.batchSize) this.schedule(0);
    else if (this.timer === null) this.schedule(this.opts.flushIntervalMs);
  }

  private schedule(delay: number): void {
    if (this.timer !== null) {
      if (delay > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, delay);
  }

  /** Writes everything queued so far; resolves when it is stored (or rejects when it cannot be). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.failure) throw new RecordingFailedError(`recording failed: ${this.failure.message}`);
    if (this.queue.length === 0) return;
    const batch = this.queue.length <= this.opts.batchSize ? this.queue : this.queue.slice(0, this.opts.batchSize);
    this.queue = batch === this.queue ? [] : this.queue.slice(batch.length);
    this.writing = this.store.appendEvents(batch).then(
      () => {
        this.writing = null;
      },
      (err: unknown) => {
        this.writing = null;
        this.fail(err instanceof Error ? err : new Error(String(err)));
      },
    );
    await this.writing;
    const failure = this.failure as Error | null; // set by the write's rejection handler
    if (failure) throw new RecordingFailedError(`recording failed: ${failure.message}`);
    if (this.queue.length > 0) await this.flush();
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.emit('failed', err);
  }

  /** Flushes and stops the timer: call at shutdown. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.failure) await this.flush().catch(() => {});
  }
}
