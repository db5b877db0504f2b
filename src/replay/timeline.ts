import type {
  ApprovalDecidedEvent,
  ApprovalRequestedEvent,
  AuditEvent,
  EventIdentity,
  SessionEndEvent,
  SessionStartEvent,
  StatementEvent,
} from '../audit/events.js';
import type { SessionSummary } from '../store/store.js';

/**
 * A recorded session as a timeline of frames: the pure model behind `hoop replay`. No I/O, no
 * React, no clock: the player, the formatters and the tests all work from this.
 *
 * A frame is one thing that appeared at one moment. Today sessions are SQL sessions, so a frame
 * is a statement (with its decision, approval, outcome and result) or the session's end. SSH
 * terminal sessions will record `terminal.output` / `terminal.input` events; they become
 * `terminal` frames in the same list, so playing, pausing and seeking work the same way. Seeking
 * is always "render the screen from the start up to frame k" (see `screenAt` in render.ts),
 * which is what a terminal emulator needs: raw output cannot be un-drawn, only replayed.
 */

/** The first rows a statement returned, already masked (absent in records of older gateways, or with `recording.resultRows: 0`). */
export type StatementResult = NonNullable<StatementEvent['result']>;

/** A statement event as stored. */
export type RecordedStatement = StatementEvent;

/** Raw terminal traffic of an SSH session (recorded by a later version; replayed already). */
export interface TerminalEvent {
  readonly type: 'terminal.output' | 'terminal.input';
  readonly sessionId: string;
  readonly time: number;
  /** What was written to (output) or typed into (input) the terminal, as text. */
  readonly data: string;
}

/** Any event a session may hold; types this version does not know are skipped. */
export type ReplayEvent = AuditEvent | TerminalEvent;

export interface SessionHeader {
  readonly sessionId: string;
  readonly identity: EventIdentity;
  readonly agentMeta: Readonly<Record<string, string>> | null;
  readonly connection: string;
  readonly connectionType: string | null;
  readonly clientAddress: string | null;
  readonly clientInfo: Readonly<Record<string, string>>;
  /** Milliseconds since the epoch: offsets and playback start here. */
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly endReason: string | null;
}

/** Who let a reviewed statement run, or why it did not. */
export interface ApprovalInfo {
  readonly requestId: string | null;
  readonly status: 'approved' | 'denied' | 'expired' | 'cancelled' | 'pending';
  readonly approvedBy: readonly string[];
  readonly deniedBy: readonly string[];
  /** Ran inside a window an earlier approval opened. */
  readonly viaWindow: boolean;
  readonly reason: string | null;
  readonly waitedMs: number | null;
}

interface FrameBase {
  /** Position in the timeline. */
  readonly index: number;
  /** When it happened, ms since the epoch. */
  readonly time: number;
  /** When it happened, ms after the session started (never negative). */
  readonly offsetMs: number;
}

export interface StatementFrame extends FrameBase {
  readonly kind: 'statement';
  /** 1, 2, 3… among the session's statements. */
  readonly number: number;
  readonly event: RecordedStatement;
  readonly approval: ApprovalInfo | null;
}

export interface TerminalFrame extends FrameBase {
  readonly kind: 'terminal';
  readonly stream: 'output' | 'input';
  readonly data: string;
}

export interface EndFrame extends FrameBase {
  readonly kind: 'end';
  readonly reason: string;
  readonly error: string | null;
  readonly statements: number;
  readonly durationMs: number;
}

export type Frame = StatementFrame | TerminalFrame | EndFrame;

export interface Timeline {
  readonly header: SessionHeader;
  readonly frames: readonly Frame[];
  readonly statements: number;
}

/** Events as the API and `sessionEvents` hand them over: the store's `seq` spread into the event. */
export type SourceEvent = ReplayEvent & { readonly seq?: number };

/** The recorded event without the store position the sources add (`seq`), i.e. exactly what was recorded. */
export function recordedEvent<E extends SourceEvent>(e: E): Omit<E, 'seq'> {
  const { seq: _seq, ...event } = e;
  return event;
}

/**
 * Builds the timeline of one session. `session` (the sessions index row) fills in what a missing
 * `session.start` event would have said; the events are the session's, in recording order.
 */
export function buildTimeline(session: SessionSummary | undefined, events: readonly SourceEvent[]): Timeline {
  const recorded = events.map((e) => recordedEvent(e) as ReplayEvent);
  const start = recorded.find((e): e is SessionStartEvent => e.type === 'session.start');
  const end = recorded.find((e): e is SessionEndEvent => e.type === 'session.end');
  const firstTime = recorded.reduce<number | null>((m, e) => (typeof e.time === 'number' && (m === null || e.time < m) ? e.time : m), null);
  const anyWithIdentity = recorded.find((e): e is AuditEvent => 'identity' in e);
  const sessionId = start?.sessionId ?? session?.id ?? recorded[0]?.sessionId ?? '(unknown)';
  const header: SessionHeader = {
    sessionId,
    identity: start?.identity ??
      anyWithIdentity?.identity ?? {
        kind: (session?.identityKind ?? 'user') as EventIdentity['kind'],
        subject: session?.identitySubject ?? '',
        name: session?.identityName ?? '(unknown)',
        groups: session?.groups ?? [],
      },
    agentMeta: start?.agentMeta ?? session?.agentMeta ?? null,
    connection: start?.connection ?? anyWithIdentity?.connection ?? session?.connection ?? '(unknown)',
    connectionType: start?.connectionType ?? session?.connectionType ?? null,
    clientAddress: start?.clientAddress ?? session?.clientAddress ?? null,
    clientInfo: start?.clientInfo ?? {},
    startedAt: start?.time ?? session?.startedAt ?? firstTime ?? 0,
    endedAt: end?.time ?? session?.endedAt ?? null,
    endReason: end?.reason ?? session?.endReason ?? null,
  };

  const requests = recorded.filter((e): e is ApprovalRequestedEvent => e.type === 'approval.requested');
  const decisions = new Map<string, ApprovalDecidedEvent>();
  for (const e of recorded) if (e.type === 'approval.decided') decisions.set(e.requestId, e);
  const usedRequests = new Set<string>();

  type Pending = { order: number; time: number; make: (index: number, offsetMs: number) => Frame };
  const pending: Pending[] = [];
  let statements = 0;
  recorded.forEach((e, order) => {
    switch (e.type) {
      case 'statement': {
        const number = ++statements;
        const approval = approvalFor(e, requests, decisions, usedRequests);
        pending.push({ order, time: e.time, make: (index, offsetMs) => ({ kind: 'statement', index, time: e.time, offsetMs, number, event: e, approval }) });
        return;
      }
      case 'terminal.output':
      case 'terminal.input': {
        const stream = e.type === 'terminal.output' ? 'output' : 'input';
        pending.push({ order, time: e.time, make: (index, offsetMs) => ({ kind: 'terminal', index, time: e.time, offsetMs, stream, data: e.data }) });
        return;
      }
      case 'session.end':
        pending.push({
          order,
          time: e.time,
          make: (index, offsetMs) => ({ kind: 'end', index, time: e.time, offsetMs, reason: e.reason, error: e.error ?? null, statements: e.statements, durationMs: e.durationMs }),
        });
        return;
      default:
        return; // session.start is the header; approval events are joined to their statements
    }
  });
  // By time, then recording order: a statement carries its start time but is recorded when it completes.
  pending.sort((a, b) => a.time - b.time || a.order - b.order);
  const frames = pending.map((p, index) => p.make(index, Math.max(0, p.time - header.startedAt)));
  return { header, frames, statements };
}

/** The approval behind a statement: its own `approval` field, else the request held for the same SQL. */
function approvalFor(
  e: RecordedStatement,
  requests: readonly ApprovalRequestedEvent[],
  decisions: ReadonlyMap<string, ApprovalDecidedEvent>,
  used: Set<string>,
): ApprovalInfo | null {
  let requestId: string | null = e.approval?.requestId ?? null;
  if (requestId === null && e.decision?.action === 'review') {
    // Held statements are recorded with their start time; the request follows it.
    const candidates = requests.filter((r) => !used.has(r.requestId) && r.time >= e.time - 1000);
    const match = candidates.find((r) => r.sql === e.sql) ?? candidates[0];
    if (match) requestId = match.requestId;
  }
  if (requestId !== null) used.add(requestId);
  const decided = requestId === null ? undefined : decisions.get(requestId);
  if (e.approval) {
    return {
      requestId,
      status: 'approved',
      approvedBy: e.approval.approvedBy,
      deniedBy: [],
      viaWindow: e.approval.viaWindow,
      reason: decided?.reason ?? null,
      waitedMs: decided?.waitedMs ?? null,
    };
  }
  if (requestId === null) return null;
  return {
    requestId,
    status: decided?.status ?? 'pending',
    approvedBy: decided ? decided.approvers.filter((a) => a.decision === 'approve').map((a) => a.name) : [],
    deniedBy: decided ? decided.approvers.filter((a) => a.decision === 'deny').map((a) => a.name) : [],
    viaWindow: decided?.viaWindow ?? false,
    reason: decided?.reason ?? null,
    waitedMs: decided?.waitedMs ?? null,
  };
}

export interface PlaybackOptions {
  /** 2 plays twice as fast. Default 1. */
  readonly speed?: number;
  /** Cap every pause between frames at this many milliseconds (null or absent: keep them). */
  readonly skipIdleMs?: number | null;
}

/**
 * When each frame plays, in milliseconds of playback after the start (the header shows at 0): the
 * recorded gaps between frames, each capped at `skipIdleMs`, divided by `speed`. Never decreasing.
 */
export function schedule(timeline: Timeline, opts: PlaybackOptions = {}): number[] {
  const speed = opts.speed ?? 1;
  if (!(speed > 0) || !Number.isFinite(speed)) throw new RangeError(`speed must be a positive number, not ${speed}`);
  const cap = opts.skipIdleMs ?? null;
  let prev = timeline.header.startedAt;
  let at = 0;
  return timeline.frames.map((f) => {
    let gap = Math.max(0, f.time - prev);
    if (cap !== null) gap = Math.min(gap, cap);
    at += gap / speed;
    prev = Math.max(prev, f.time);
    return at;
  });
}

/**
 * The frames → and ← move between: statements, and (for terminal sessions) input that ends a
 * line, i.e. a command entered. The end of the session is where → stops after the last one.
 */
export function isSeekPoint(frame: Frame): boolean {
  if (frame.kind === 'statement') return true;
  if (frame.kind === 'terminal') return frame.stream === 'input' && /[\r\n]/.test(frame.data);
  return false;
}
