import type { AuditEvent } from '../audit/events.js';

export interface ServiceAccount {
  readonly id: string;
  readonly name: string;
  readonly groups: readonly string[];
  readonly createdAt: number;
  readonly revokedAt: number | null;
}

export interface SessionSummary {
  readonly id: string;
  readonly identityKind: string;
  readonly identitySubject: string;
  readonly identityName: string;
  readonly groups: readonly string[];
  readonly connection: string;
  readonly connectionType: string;
  readonly clientAddress: string;
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly endReason: string | null;
  readonly statements: number;
  /** What the agent declared about itself, if anything. */
  readonly agentMeta: Readonly<Record<string, string>> | null;
}

export interface StoredEvent {
  /** Position in the store's append order. */
  readonly seq: number;
  readonly event: AuditEvent;
}

export interface SessionFilter {
  /** Only sessions of this identity subject. */
  readonly subject?: string;
  readonly connection?: string;
  readonly limit?: number;
}

/**
 * Everything the gateway keeps. The embedded SQLite store implements it today; a PostgreSQL
 * store (several gateway replicas) implements the same methods, which is why all of them are async.
 */
export interface Store {
  readonly kind: string;

  createServiceAccount(input: { id: string; name: string; groups: readonly string[]; tokenHash: string }): Promise<ServiceAccount>;
  /** The account owning this token hash, revoked ones included (the caller decides). */
  findServiceAccountByTokenHash(tokenHash: string): Promise<ServiceAccount | undefined>;
  listServiceAccounts(): Promise<ServiceAccount[]>;
  /** Returns false when no active account has that name. */
  revokeServiceAccount(name: string): Promise<boolean>;

  /** Appends a batch atomically: all of it is stored or none of it. */
  appendEvents(events: readonly AuditEvent[]): Promise<void>;
  listSessions(filter?: SessionFilter): Promise<SessionSummary[]>;
  getSession(id: string): Promise<SessionSummary | undefined>;
  sessionEvents(id: string): Promise<StoredEvent[]>;

  close(): Promise<void>;
}
