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
}

export interface SessionEndEvent extends EventBase {
  readonly type: 'session.end';
  readonly durationMs: number;
  readonly statements: number;
  /** Why it ended: `client-closed`, `backend-closed`, `protocol-error`, `recording-failed`, … */
  readonly reason: string;
  readonly error?: string;
}

export type AuditEvent = SessionStartEvent | StatementEvent | SessionEndEvent;

export function eventIdentity(identity: Identity): EventIdentity {
  return { kind: identity.kind, subject: identity.subject, name: identity.name, groups: [...identity.groups] };
}
