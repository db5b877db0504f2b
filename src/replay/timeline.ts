import type {
  ApprovalDecidedEvent,
  ApprovalRequestedEvent,
  AuditEvent,
  EventIdentity,
  GitEvent,
  RecordedDecision,
  SessionEndEvent,
  SessionStartEvent,
  SftpEvent,
  ShellCommandEvent,
  SshChannelEvent,
  SshExecEvent,
  SshRequestEvent,
  StatementEvent,
  TerminalEvent,
} from '../audit/events.js';
import type { SessionSummary } from '../store/store.js';

/**
 * A recorded session as a timeline of frames: the pure model behind `hoop replay`. No I/O, no
 * React, no clock: the player, the formatters and the tests all work from this.
 *
 * A frame is one thing that appeared at one moment: a SQL statement (with its decision, approval,
 * outcome and result), an SSH command run with exec, a git fetch or push, an SFTP operation, an
 * SSH channel opened or a request refused, a line typed into a shell, a chunk of terminal traffic,
 * or the session's end. Seeking is always "render the screen from the start up to frame k" (see
 * `ScreenRenderer` in render.ts), which is what a terminal needs: raw output cannot be un-drawn,
 * only replayed.
 *
 * Terminal traffic belongs to an SSH channel, and a session may open several shells. A timeline
 * shows one channel's terminal (the first shell's unless asked for another): interleaving two
 * screens' raw output would draw neither correctly.
 */

/** The first rows a statement returned, already masked (absent in records of older gateways, or with `recording.resultRows: 0`). */
export type StatementResult = NonNullable<StatementEvent['result']>;

/** A statement event as stored. */
export type RecordedStatement = StatementEvent;

export type { TerminalEvent };

/** Any event a session may hold; types this version does not know are skipped. */
export type ReplayEvent = AuditEvent;

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

/** Who let a held statement, command or push run, or why it did not. */
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
  readonly channel: number;
  readonly data: string;
  readonly event: TerminalEvent;
}

/** A command run with `ssh host CMD`. */
export interface ExecFrame extends FrameBase {
  readonly kind: 'ssh.exec';
  /** 1, 2, 3… among the session's commands (execs and shell lines together). */
  readonly number: number;
  readonly event: SshExecEvent;
  readonly approval: ApprovalInfo | null;
}

/** A line typed into an interactive shell: recorded, not enforced. */
export interface ShellCommandFrame extends FrameBase {
  readonly kind: 'shell.command';
  readonly number: number;
  readonly event: ShellCommandEvent;
}

export interface GitFrame extends FrameBase {
  readonly kind: 'git';
  readonly operation: 'fetch' | 'push';
  readonly event: GitEvent;
  readonly approval: ApprovalInfo | null;
}

export interface SftpFrame extends FrameBase {
  readonly kind: 'sftp';
  readonly event: SftpEvent;
}

export interface SshRequestFrame extends FrameBase {
  readonly kind: 'ssh.request';
  readonly event: SshRequestEvent;
}

export interface SshChannelFrame extends FrameBase {
  readonly kind: 'ssh.channel';
  readonly event: SshChannelEvent;
  /** A held shell's approval (a held command's is on its exec frame). */
  readonly approval: ApprovalInfo | null;
  /** An exec channel whose command was recorded: the exec frame says what it would, so it is not drawn. */
  readonly foldedIntoExec: boolean;
}

export interface EndFrame extends FrameBase {
  readonly kind: 'end';
  readonly reason: string;
  readonly error: string | null;
  /** As the session.end event counted them (for SSH sessions the gateway counts execs and git operations there). */
  readonly statements: number;
  /** Commands in the timeline: execs and shell lines. */
  readonly commands: number;
  readonly gitOperations: number;
  readonly sftpOperations: number;
  /** An SSH or git session: its end counts commands, not statements. */
  readonly ssh: boolean;
  readonly durationMs: number;
}

export type Frame = StatementFrame | TerminalFrame | ExecFrame | ShellCommandFrame | GitFrame | SftpFrame | SshRequestFrame | SshChannelFrame | EndFrame;

/** An SSH channel of the session, from its `ssh.channel` event and its terminal traffic. */
export interface ChannelInfo {
  readonly channel: number;
  /** `unknown` when terminal traffic was recorded without the channel's opening. */
  readonly kind: SshChannelEvent['kind'] | 'unknown';
  readonly pty: SshChannelEvent['pty'] | null;
  /** Terminal events recorded on it. */
  readonly terminalEvents: number;
}

/** The terminal a timeline shows. */
export interface TerminalInfo {
  readonly channel: number;
  readonly cols: number;
  readonly rows: number;
  /** The TERM the client asked for, when it asked for a pty. */
  readonly term: string | null;
}

/** A terminal without a recorded pty size is assumed to be the classic one. */
export const DEFAULT_TERMINAL = { cols: 80, rows: 24 } as const;

export interface Timeline {
  readonly header: SessionHeader;
  readonly frames: readonly Frame[];
  readonly statements: number;
  /** Commands: `ssh.exec` and `shell.command` frames. */
  readonly commands: number;
  readonly gitOperations: number;
  readonly sftpOperations: number;
  /** An SSH or git session (by its connection type, or because it holds SSH events). */
  readonly ssh: boolean;
  /** Every SSH channel the session opened or sent terminal traffic on, in order of appearance. */
  readonly channels: readonly ChannelInfo[];
  /** The channel whose terminal the frames carry; null when there is no terminal traffic to show. */
  readonly terminal: TerminalInfo | null;
}

export interface TimelineOptions {
  /** Show this channel's terminal instead of the first shell's. */
  readonly channel?: number;
}

/** Events as the API and `sessionEvents` hand them over: the store's `seq` spread into the event. */
export type SourceEvent = ReplayEvent & { readonly seq?: number };

/** The recorded event without the store position the sources add (`seq`), i.e. exactly what was recorded. */
export function recordedEvent<E extends SourceEvent>(e: E): Omit<E, 'seq'> {
  const { seq: _seq, ...event } = e;
  return event;
}

/** The channels of a session and the one whose terminal to show. */
function channelsOf(recorded: readonly ReplayEvent[], wanted: number | undefined): { channels: ChannelInfo[]; shown: ChannelInfo | null } {
  const byId = new Map<number, { channel: number; kind: ChannelInfo['kind']; pty: SshChannelEvent['pty'] | null; terminalEvents: number }>();
  const get = (channel: number) => {
    let c = byId.get(channel);
    if (!c) byId.set(channel, (c = { channel, kind: 'unknown', pty: null, terminalEvents: 0 }));
    return c;
  };
  for (const e of recorded) {
    if (e.type === 'ssh.channel') {
      const c = get(e.channel);
      c.kind = e.kind;
      c.pty = e.pty ?? null;
    } else if (e.type === 'terminal.output' || e.type === 'terminal.input') {
      get(terminalChannel(e)).terminalEvents++;
    }
  }
  const channels = [...byId.values()];
  const withTerminal = channels.filter((c) => c.terminalEvents > 0);
  const shown =
    wanted !== undefined ? (withTerminal.find((c) => c.channel === wanted) ?? null) : (withTerminal.find((c) => c.kind === 'shell') ?? withTerminal[0] ?? null);
  return { channels, shown };
}

/** Records of an early gateway carry no channel: they were the session's one terminal. */
function terminalChannel(e: TerminalEvent): number {
  return typeof e.channel === 'number' ? e.channel : 0;
}

/**
 * Builds the timeline of one session. `session` (the sessions index row) fills in what a missing
 * `session.start` event would have said; the events are the session's, in recording order.
 */
export function buildTimeline(session: SessionSummary | undefined, events: readonly SourceEvent[], opts: TimelineOptions = {}): Timeline {
  const recorded = events.map((e) => recordedEvent(e) as ReplayEvent);
  const start = recorded.find((e): e is SessionStartEvent => e.type === 'session.start');
  const end = recorded.find((e): e is SessionEndEvent => e.type === 'session.end');
  const firstTime = recorded.reduce<number | null>((m, e) => (typeof e.time === 'number' && (m === null || e.time < m) ? e.time : m), null);
  const anyWithIdentity = recorded.find((e) => 'identity' in e && e.identity !== undefined);
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

  const { channels, shown } = channelsOf(recorded, opts.channel);
  const terminal: TerminalInfo | null = shown
    ? { channel: shown.channel, cols: shown.pty?.cols || DEFAULT_TERMINAL.cols, rows: shown.pty?.rows || DEFAULT_TERMINAL.rows, term: shown.pty?.term ?? null }
    : null;

  const ssh =
    header.connectionType === 'ssh' ||
    header.connectionType === 'git' ||
    recorded.some((e) => e.type.startsWith('ssh.') || e.type.startsWith('git.') || e.type.startsWith('terminal.') || e.type === 'sftp.op' || e.type === 'shell.command');
  const approvals = new ApprovalJoin(recorded);
  const execChannels = new Set(recorded.flatMap((e) => (e.type === 'ssh.exec' ? [e.channel] : [])));
  type Pending = { order: number; time: number; make: (index: number, offsetMs: number) => Frame };
  const pending: Pending[] = [];
  let statements = 0;
  let commands = 0;
  let gitOperations = 0;
  let sftpOperations = 0;
  const push = (order: number, time: number, make: Pending['make']): void => void pending.push({ order, time, make });
  recorded.forEach((e, order) => {
    switch (e.type) {
      case 'statement': {
        const number = ++statements;
        const approval = approvals.join(e, e.sql, 'sql');
        push(order, e.time, (index, offsetMs) => ({ kind: 'statement', index, time: e.time, offsetMs, number, event: e, approval }));
        return;
      }
      case 'terminal.output':
      case 'terminal.input': {
        const channel = terminalChannel(e);
        if (terminal === null || channel !== terminal.channel) return;
        const stream = e.type === 'terminal.output' ? 'output' : 'input';
        push(order, e.time, (index, offsetMs) => ({ kind: 'terminal', index, time: e.time, offsetMs, stream, channel, data: e.data, event: e }));
        return;
      }
      case 'ssh.exec': {
        const number = ++commands;
        const approval = approvals.join(e, e.command, 'ssh.exec');
        push(order, e.time, (index, offsetMs) => ({ kind: 'ssh.exec', index, time: e.time, offsetMs, number, event: e, approval }));
        return;
      }
      case 'shell.command': {
        const number = ++commands;
        push(order, e.time, (index, offsetMs) => ({ kind: 'shell.command', index, time: e.time, offsetMs, number, event: e }));
        return;
      }
      case 'git.fetch':
      case 'git.push': {
        gitOperations++;
        const operation = e.type === 'git.push' ? 'push' : 'fetch';
        // A held push's request holds a summary of its ref updates, not a text the event repeats.
        const approval = operation === 'push' ? approvals.join(e, null, 'git.push') : null;
        push(order, e.time, (index, offsetMs) => ({ kind: 'git', index, time: e.time, offsetMs, operation, event: e, approval }));
        return;
      }
      case 'sftp.op':
        sftpOperations++;
        push(order, e.time, (index, offsetMs) => ({ kind: 'sftp', index, time: e.time, offsetMs, event: e }));
        return;
      case 'ssh.request':
        push(order, e.time, (index, offsetMs) => ({ kind: 'ssh.request', index, time: e.time, offsetMs, event: e }));
        return;
      case 'ssh.channel': {
        // The gateway holds a shell as a whole, under the text `(interactive shell)`.
        const approval = e.kind === 'shell' ? approvals.join(e, '(interactive shell)', 'ssh.exec') : null;
        const foldedIntoExec = e.kind === 'exec' && execChannels.has(e.channel);
        push(order, e.time, (index, offsetMs) => ({ kind: 'ssh.channel', index, time: e.time, offsetMs, event: e, approval, foldedIntoExec }));
        return;
      }
      case 'session.end':
        push(order, e.time, (index, offsetMs) => ({
          kind: 'end',
          index,
          time: e.time,
          offsetMs,
          reason: e.reason,
          error: e.error ?? null,
          statements: e.statements,
          commands,
          gitOperations,
          sftpOperations,
          ssh,
          durationMs: e.durationMs,
        }));
        return;
      default:
        return; // session.start is the header; approval events are joined to what they held
    }
  });
  // By time, then recording order: a statement carries its start time but is recorded when it completes.
  pending.sort((a, b) => a.time - b.time || a.order - b.order);
  const frames = pending.map((p, index) => p.make(index, Math.max(0, p.time - header.startedAt)));
  return { header, frames, statements, commands, gitOperations, sftpOperations, ssh, channels, terminal };
}

type Subject = NonNullable<ApprovalRequestedEvent['subject']>;

/** Joins held statements, commands and pushes to their approval requests and decisions. */
class ApprovalJoin {
  private readonly requests: readonly ApprovalRequestedEvent[];
  private readonly decisions = new Map<string, ApprovalDecidedEvent>();
  private readonly used = new Set<string>();

  constructor(recorded: readonly ReplayEvent[]) {
    this.requests = recorded.filter((e): e is ApprovalRequestedEvent => e.type === 'approval.requested');
    for (const e of recorded) if (e.type === 'approval.decided') this.decisions.set(e.requestId, e);
  }

  /**
   * The approval behind something held: its own `approval` field, else the request of the same
   * subject held for the same text (or, without a text to compare, the first unclaimed one).
   */
  join(
    e: { readonly time: number; readonly decision?: RecordedDecision; readonly approval?: { readonly requestId: string; readonly approvedBy: readonly string[]; readonly viaWindow: boolean } },
    text: string | null,
    subject: Subject,
  ): ApprovalInfo | null {
    let requestId: string | null = e.approval?.requestId ?? null;
    if (requestId === null && e.decision?.action === 'review') {
      // Held things are recorded with their start time; the request follows it.
      const candidates = this.requests.filter((r) => (r.subject ?? 'sql') === subject && !this.used.has(r.requestId) && r.time >= e.time - 1000);
      const match = (text === null ? undefined : candidates.find((r) => r.sql === text)) ?? candidates[0];
      if (match) requestId = match.requestId;
    }
    if (requestId !== null) this.used.add(requestId);
    const decided = requestId === null ? undefined : this.decisions.get(requestId);
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

/** SFTP operations worth stopping at: transfers and changes, not the stats and listings around them. */
const SFTP_SEEK_OPS = new Set(['read', 'write', 'remove', 'rename', 'mkdir', 'rmdir', 'setstat', 'symlink']);

/**
 * Whether → and ← stop at a frame on its own: statements, commands, git operations, SFTP
 * transfers and changes, and (for terminal sessions) input that ends a line, i.e. a command entered.
 */
export function isSeekPoint(frame: Frame): boolean {
  switch (frame.kind) {
    case 'statement':
    case 'ssh.exec':
    case 'shell.command':
    case 'git':
      return true;
    case 'sftp':
      return SFTP_SEEK_OPS.has(frame.event.op);
    case 'terminal':
      return frame.stream === 'input' && /[\r\n]/.test(frame.data);
    default:
      return false;
  }
}

/**
 * The indexes of the frames → and ← move between. Where the gateway detected the shell's command
 * lines on the terminal shown, those are the stops and the raw Enter keystrokes are not, so one
 * command is one stop. The end of the session is where → stops after the last one.
 */
export function seekPoints(timeline: Timeline): number[] {
  const channel = timeline.terminal?.channel;
  const detected = channel !== undefined && timeline.frames.some((f) => f.kind === 'shell.command' && f.event.channel === channel);
  return timeline.frames.flatMap((f, i) => (isSeekPoint(f) && !(detected && f.kind === 'terminal') ? [i] : []));
}

/** What → and ← step through, for the status line: statements for SQL sessions, commands for SSH ones. */
export function seekUnit(timeline: Timeline): 'statement' | 'command' | 'step' {
  const kinds = new Set(seekPoints(timeline).map((i) => timeline.frames[i]!.kind));
  if (kinds.size === 0) return timeline.terminal !== null || timeline.commands > 0 ? 'command' : 'statement';
  if ([...kinds].every((k) => k === 'statement')) return 'statement';
  if ([...kinds].every((k) => k === 'ssh.exec' || k === 'shell.command' || k === 'terminal')) return 'command';
  return 'step';
}
