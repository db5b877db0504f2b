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
  readonly rule: string;
  readonly class: string;
  readonly reason?: string;
}

/** A statement was held for approval. */
export interface ApprovalRequestedEvent extends EventBase {
  readonly type: 'approval.requested';
  readonly requestId: string;
  readonly sql: string;
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

export type AuditEvent = SessionStartEvent | StatementEvent | SessionEndEvent | ApprovalRequestedEvent | ApprovalDecidedEvent;

export function eventIdentity(identity: Identity): EventIdentity {
  return { kind: identity.kind, subject: identity.subject, name: identity.name, groups: [...identity.groups] };
}
