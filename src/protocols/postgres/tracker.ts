import type { RecordedDecision, StatementEvent } from '../../audit/events.js';
import type { ColumnShape, ResultShape } from './masking.js';
import { encodeReadyForQuery } from './writer.js';
import { Backend, ErrorField } from './messages.js';
import { decodeCommandComplete, decodeErrorFields, rowsFromTag } from './reader.js';

type StatementFields = Omit<StatementEvent, 'type' | 'sessionId' | 'identity' | 'connection'>;

type OpKind = 'query' | 'parse' | 'bind' | 'execute' | 'describe' | 'close' | 'sync' | 'function-call' | 'refusal';

/** A client message that is still waiting for the server's answer. */
export interface PendingOp {
  readonly kind: OpKind;
  /** performance.now() when the client sent it. */
  readonly start: number;
  readonly sql?: string;
  readonly params?: readonly (string | null)[];
  readonly decision?: RecordedDecision;
  readonly approval?: StatementEvent['approval'];
  /** Sync after a refused Parse: the error the client sees just before this Sync's ReadyForQuery. */
  readonly injectBeforeReady?: Buffer;
  /** Execute: the portal it runs. Describe: what it describes. */
  readonly portal?: string;
  readonly describe?: { readonly kind: 'S' | 'P'; readonly name: string };
  /** A refused simple query, answered (ErrorResponse + ReadyForQuery) when its turn comes. */
  readonly refusal?: Buffer;
}

export interface OpState extends PendingOp {
  rows: number;
  dataRows: number;
  tag: string | undefined;
  error: { code: string; message: string } | undefined;
  /** Columns of the rows this op returns, once known. */
  columns?: readonly ColumnShape[];
  /** The masking plan for those columns. */
  shape?: ResultShape | undefined;
  /** The first rows returned (already masked), for the record. */
  capturedRows?: (string | null)[][];
  capturedColumns?: string[] | undefined;
  captureTruncated?: boolean;
  /** Values masked in its results, by `column:detector`. */
  masked?: Record<string, number>;
}

function errorSummary(body: Buffer): { code: string; message: string } {
  const f = decodeErrorFields(body);
  return { code: f.get(ErrorField.code) ?? 'XX000', message: f.get(ErrorField.message) ?? '' };
}

/**
 * Pairs server answers with the client messages that caused them, relying on the protocol's
 * ordering: every Parse/Bind/Close/Describe/Execute gets exactly one completion, a Query or
 * Sync ends at ReadyForQuery, and after an error the server skips everything up to the next Sync.
 * Each completed Query or Execute (and a failed Parse) becomes one statement record.
 */
export class StatementTracker {
  private ops: OpState[] = [];
  private first = 0;

  constructor(private readonly emit: (statement: StatementFields) => void) {}

  push(op: PendingOp): void {
    this.ops.push({ ...op, rows: 0, dataRows: 0, tag: undefined, error: undefined });
  }

  /** Statements sent and not yet answered. */
  get pendingStatements(): number {
    let n = 0;
    for (let i = this.first; i < this.ops.length; i++) {
      const k = this.ops[i]!.kind;
      if (k === 'query' || k === 'execute' || k === 'function-call') n++;
    }
    return n;
  }

  /** `body` is given for CommandComplete, ErrorResponse and ReadyForQuery; null for streamed messages. */
  onServerMessage(code: number, body: Buffer | null): void {
    const op = this.ops[this.first];
    switch (code) {
      case Backend.dataRow:
        if (op) op.dataRows++;
        return;
      case Backend.commandComplete: {
        if (!op || body === null) return;
        const tag = decodeCommandComplete(body);
        op.tag = tag;
        op.rows += rowsFromTag(tag);
        if (op.kind === 'execute') this.complete();
        return;
      }
      case Backend.emptyQueryResponse:
      case Backend.portalSuspended:
        if (op?.kind === 'execute') {
          if (code === Backend.portalSuspended) op.rows = op.dataRows;
          this.complete();
        }
        return;
      case Backend.errorResponse: {
        if (!op || body === null) return;
        const err = errorSummary(body);
        if (op.kind === 'query' || op.kind === 'function-call') {
          op.error ??= err;
          return;
        }
        if (op.kind === 'sync') return;
        op.error = err;
        if (op.kind === 'execute' || op.kind === 'parse') this.complete();
        else this.drop();
        // The server ignores everything up to the next Sync.
        while (this.first < this.ops.length && this.ops[this.first]!.kind !== 'sync') this.drop();
        return;
      }
      case Backend.readyForQuery:
        this.onReadyForQuery();
        return;
      case Backend.parseComplete:
        if (op?.kind === 'parse') this.drop();
        return;
      case Backend.bindComplete:
        if (op?.kind === 'bind') this.drop();
        return;
      case Backend.closeComplete:
        if (op?.kind === 'close') this.drop();
        return;
      case Backend.rowDescription:
      case Backend.noData:
        if (op?.kind === 'describe') this.drop();
        return;
      default:
        return;
    }
  }

  /** The oldest op still waiting: the one the server is answering now. */
  get head(): OpState | undefined {
    return this.ops[this.first];
  }

  /** Nothing sent is waiting for an answer. */
  get isIdle(): boolean {
    return this.first === this.ops.length;
  }

  /**
   * ReadyForQuery ends a Query or a Sync. Returns what the gateway must add around it: the
   * refusal of a Parse in this Sync's pipeline (before), and refused queries whose turn has now
   * come (after, each with its own ReadyForQuery carrying the server's status).
   */
  onReadyForQuery(): { before: Buffer; after: (status: 'I' | 'T' | 'E') => Buffer } | null {
    let before: Buffer | undefined;
    while (this.first < this.ops.length) {
      const op = this.ops[this.first]!;
      if (op.kind === 'query' || op.kind === 'function-call') {
        this.complete();
        break;
      }
      this.drop();
      if (op.kind === 'sync') {
        before = op.injectBeforeReady;
        break;
      }
    }
    const refusals: Buffer[] = [];
    while (this.first < this.ops.length && this.ops[this.first]!.kind === 'refusal') refusals.push(this.ops[this.first++]!.refusal!);
    this.compact();
    if (before === undefined && refusals.length === 0) return null;
    return {
      before: before ?? Buffer.alloc(0),
      after: (status) => Buffer.concat(refusals.flatMap((r) => [r, encodeReadyForQuery(status)])),
    };
  }

  /** Records every unanswered statement as failed (the session ended under it). */
  abandon(reason: string): void {
    while (this.first < this.ops.length) {
      const op = this.ops[this.first]!;
      if (op.kind === 'query' || op.kind === 'execute') {
        op.error ??= { code: 'HOOP_ABANDONED', message: `session ended before the statement completed (${reason})` };
        this.complete();
      } else this.drop();
    }
  }

  private complete(): void {
    const op = this.ops[this.first++]!;
    const now = performance.now();
    this.emit({
      protocol: op.kind === 'query' ? 'simple' : op.kind === 'function-call' ? 'function-call' : 'extended',
      sql: op.sql ?? '',
      ...(op.params && op.params.length > 0 ? { params: op.params } : {}),
      time: Math.round(performance.timeOrigin + op.start),
      durationMs: Math.round((now - op.start) * 1000) / 1000,
      rows: op.rows,
      ...(op.tag !== undefined ? { commandTag: op.tag } : {}),
      ...(op.error !== undefined ? { error: op.error } : {}),
      ...(op.decision !== undefined ? { decision: op.decision } : {}),
      ...(op.approval !== undefined ? { approval: op.approval } : {}),
      ...(op.masked !== undefined ? { masked: op.masked } : {}),
      ...(op.capturedRows !== undefined
        ? { result: { columns: op.capturedColumns ?? op.capturedRows[0]!.map((_, i) => `column${i + 1}`), rows: op.capturedRows, truncated: op.captureTruncated ?? false } }
        : {}),
    });
  }

  private drop(): void {
    this.first++;
  }

  private compact(): void {
    if (this.first === this.ops.length) {
      this.ops = [];
      this.first = 0;
    } else if (this.first > 1024) {
      this.ops = this.ops.slice(this.first);
      this.first = 0;
    }
  }
}
