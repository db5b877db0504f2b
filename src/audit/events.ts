import type { Identity } from '../auth/identity.js';

/** The identity fields copied onto every event, so each record stands alone. */
export interface EventIdentity {
  readonly kind: Identity['kind'];
  readonly subject: string;
  readonly name: string;
  readonly groups: readonly string[];
}

interface EventBase {
  readonly sessionId: string;
  /** Milliseconds since the epoch. */
  readonly time: number;
  readonly identity: EventIdentity;
  readonly connection: string;
}

export interface SessionStartEvent extends EventBase {
  readonly type: 'session.start';
  readonly connectionType: string;
  readonly clientAddress: string;
  /** What the client asked for at startup (application_name, …); never credentials. */
  readonly clientInfo: Readonly<Record<string, string>>;
  /** What the agent declared about itself (model, task…): a claim recorded beside the verified identity. */
  readonly agentMeta?: Readonly<Record<string, string>>;
}

export interface StatementEvent extends EventBase {
  readonly type: 'statement';
  readonly protocol: 'simple' | 'extended' | 'function-call';
  readonly sql: string;
  /** Bind parameters as text; binary ones as `\x…` hex. `null` is SQL NULL. */
  readonly params?: readonly (string | null)[];
  readonly durationMs: number;
  /** Rows returned (DataRow count) or affected (from the command tag). */
  readonly rows: number;
  readonly commandTag?: string;
  readonly error?: { readonly code: string; readonly message: string };
  /** The policy decision that let it run (or refused it), with the rule that made it. */
  readonly decision?: RecordedDecision;
  /** The first rows it returned (masked as the client saw them), for replay. */
  readonly result?: { readonly columns: readonly string[]; readonly rows: readonly (readonly (string | null)[])[]; readonly truncated: boolean };
  /** Values masked in what it returned, by `column:detector` (or `error:`, `copy:`, `notify:`). */
  readonly masked?: Readonly<Record<string, number>>;
  /** Set when it ran after a human approval or inside an approval window. */
  readonly approval?: { readonly requestId: string; readonly approvedBy: readonly string[]; readonly viaWindow: boolean };
}

export interface RecordedDecision {
  readonly action: 'allow' | 'deny' | 'review';
  /** The statement class (read, write…) or access class (exec, shell, git-push, ref-delete…). */
  readonly rule: string;
  readonly class: string;
  readonly reason?: string;
}

/** A statement was held for approval. */
export interface ApprovalRequestedEvent extends EventBase {
  readonly type: 'approval.requested';
  readonly requestId: string;
  /** What is held: the SQL, the command line, or the push's ref updates as text (masked). */
  readonly sql: string;
  /** What kind of thing is held; absent means a SQL statement. */
  readonly subject?: 'sql' | 'ssh.exec' | 'git.push';
  readonly decision: RecordedDecision;
  readonly approverGroups: readonly string[];
  readonly approvalsNeeded: number;
  readonly expiresAt: number;
}

/** A held statement's request was settled. */
export interface ApprovalDecidedEvent extends EventBase {
  readonly type: 'approval.decided';
  readonly requestId: string;
  readonly status: 'approved' | 'denied' | 'expired' | 'cancelled';
  readonly approvers: readonly { readonly name: string; readonly decision: 'approve' | 'deny'; readonly reason: string | null; readonly windowMs: number | null }[];
  readonly reason: string | null;
  /** Milliseconds between the request and its decision. */
  readonly waitedMs: number;
  /** Approved without asking because an earlier approval opened a window. */
  readonly viaWindow: boolean;
}

export interface SessionEndEvent extends EventBase {
  readonly type: 'session.end';
  readonly durationMs: number;
  readonly statements: number;
  /** Why it ended: `client-closed`, `backend-closed`, `protocol-error`, `recording-failed`, … */
  readonly reason: string;
  readonly error?: string;
}

/**
 * Raw terminal traffic of an SSH shell or pty channel, masked before it is stored. Output chunks
 * are coalesced (one event per 50 ms or per 32 KiB at most), not one event per chunk.
 */
export interface TerminalEvent extends EventBase {
  readonly type: 'terminal.output' | 'terminal.input';
  /** The SSH channel it belongs to (several shells may share a session). */
  readonly channel: number;
  /** What was written to (output) or typed into (input) the terminal, as UTF-8 text. */
  readonly data: string;
}

/** An SSH channel opened: a shell, an exec, a subsystem (sftp). */
export interface SshChannelEvent extends EventBase {
  readonly type: 'ssh.channel';
  readonly channel: number;
  readonly kind: 'shell' | 'exec' | 'subsystem';
  /** The pty asked for, when there is one. */
  readonly pty?: { readonly term: string; readonly cols: number; readonly rows: number };
  /** Environment variables passed on (allow-listed), names only. */
  readonly env?: readonly string[];
  readonly subsystem?: string;
  readonly decision: RecordedDecision;
}

/** A command run with `ssh host CMD` (an SSH exec request), held, refused or run. */
export interface SshExecEvent extends EventBase {
  readonly type: 'ssh.exec';
  readonly channel: number;
  /** The command line as sent (masked). */
  readonly command: string;
  readonly decision: RecordedDecision;
  readonly approval?: { readonly requestId: string; readonly approvedBy: readonly string[]; readonly viaWindow: boolean };
  /** Absent when it never ran (denied) or the channel closed before the host said. */
  readonly exitStatus?: number;
  readonly exitSignal?: string;
  readonly durationMs: number;
  /** The first bytes of stdout and stderr as text (masked), and whether there was more. */
  readonly stdout: string;
  readonly stderr: string;
  readonly outputTruncated: boolean;
  readonly bytesOut: number;
  readonly bytesIn: number;
}

/** A line typed into an interactive shell, detected for the audit trail; not enforced. */
export interface ShellCommandEvent extends EventBase {
  readonly type: 'shell.command';
  readonly channel: number;
  readonly command: string;
  /** What the policy would have said, had it been an exec (recorded, not enforced). */
  readonly decision: RecordedDecision;
}

/** An SSH request hoop refused or let through that is not a channel: forwarding, agent, X11, env. */
export interface SshRequestEvent extends EventBase {
  readonly type: 'ssh.request';
  /** `direct-tcpip`, `tcpip-forward`, `auth-agent`, `x11`, `env`, `subsystem`… */
  readonly request: string;
  /** What it asked for, e.g. `127.0.0.1:5432` or the variable name. */
  readonly detail: string;
  readonly decision: RecordedDecision;
}

/** One SFTP operation (reads and writes summed per open file). */
export interface SftpEvent extends EventBase {
  readonly type: 'sftp.op';
  readonly channel: number;
  /**
   * `read`, `write` (bytes summed per open file), `open`, `remove`, `rename`, `mkdir`, `rmdir`,
   * `list`, `setstat`, `symlink`, `readlink`, `link`, `copy`, `extended`, or `protocol-error`
   * when the stream could not be followed (the channel is then closed).
   */
  readonly op: string;
  readonly path: string;
  readonly target?: string;
  readonly bytes?: number;
  /** `ok`, or the SFTP status name of the failure (`no-such-file`, `permission-denied`, …); `unknown` when no reply was seen. */
  readonly status: string;
  /** What was wrong with a stream that could not be followed. */
  readonly detail?: string;
}

/** One ref a push asked to change, with what policy said of it. */
export interface RecordedRefUpdate {
  readonly ref: string;
  readonly oldId: string;
  readonly newId: string;
  /** create, update, delete */
  readonly kind: 'create' | 'update' | 'delete';
  readonly decision: RecordedDecision;
  /** What the server reported for it (`ok`, or its reason), when it got that far. */
  readonly result?: string;
}

/** A clone, fetch or push through a git connection. */
export interface GitEvent extends EventBase {
  readonly type: 'git.fetch' | 'git.push';
  readonly channel: number;
  readonly repository: string;
  /** Push: each ref update. Fetch: the refs advertised or asked for are not listed, only `wants`. */
  readonly refs: readonly RecordedRefUpdate[];
  /** Fetch: object ids asked for. */
  readonly wants?: readonly string[];
  readonly decision: RecordedDecision;
  readonly approval?: { readonly requestId: string; readonly approvedBy: readonly string[]; readonly viaWindow: boolean };
  readonly exitStatus?: number;
  readonly durationMs: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** What the client saw on stderr from hoop or the server (masked, capped). */
  readonly message?: string;
}

export type AuditEvent =
  | SessionStartEvent
  | StatementEvent
  | SessionEndEvent
  | ApprovalRequestedEvent
  | ApprovalDecidedEvent
  | TerminalEvent
  | SshChannelEvent
  | SshExecEvent
  | ShellCommandEvent
  | SshRequestEvent
  | SftpEvent
  | GitEvent;

export function eventIdentity(identity: Identity): EventIdentity {
  // Keys in canonical order: every event carries it (see canonical.ts).
  return { groups: [...identity.groups], kind: identity.kind, name: identity.name, subject: identity.subject };
}
