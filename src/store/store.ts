import type { ChainedEvent, Checkpoint } from '../audit/chain.js';
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

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled';

export interface ApprovalVote {
  readonly approverSubject: string;
  readonly approverName: string;
  readonly decision: 'approve' | 'deny';
  readonly reason: string | null;
  /** Just-in-time window granted with the approval, in ms. */
  readonly windowMs: number | null;
  readonly time: number;
}

/** A statement (or command) held until enough approvers say yes. */
export interface ApprovalRequest {
  readonly id: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly sessionId: string;
  readonly identitySubject: string;
  readonly identityName: string;
  readonly groups: readonly string[];
  readonly agentMeta: Readonly<Record<string, string>> | null;
  readonly connection: string;
  /** The exact text that will run if approved. */
  readonly statement: string;
  readonly class: string;
  readonly rule: string;
  /** Groups whose members may decide. */
  readonly approverGroups: readonly string[];
  readonly approvalsNeeded: number;
  readonly status: ApprovalStatus;
  readonly decidedAt: number | null;
  /** The deciding approver's reason (deny) or the expiry note. */
  readonly reason: string | null;
  readonly votes: readonly ApprovalVote[];
}

export type NewApprovalRequest = Omit<ApprovalRequest, 'status' | 'decidedAt' | 'reason' | 'votes'>;

/** A just-in-time grant: this identity may run this class on this connection until `expiresAt`. */
export interface ApprovalWindow {
  readonly id: string;
  readonly identitySubject: string;
  readonly connection: string;
  readonly class: string;
  readonly expiresAt: number;
  readonly requestId: string;
}

/** One change to an approval request, in the store's order: the feed behind live streams. */
export interface ApprovalChange {
  readonly seq: number;
  readonly requestId: string;
  readonly status: ApprovalStatus;
  readonly time: number;
}

export interface VoteInput {
  readonly requestId: string;
  readonly approverSubject: string;
  readonly approverName: string;
  readonly decision: 'approve' | 'deny';
  readonly reason?: string;
  readonly windowMs?: number;
  readonly now: number;
}

export interface StoredEvent {
  /** Position in the store's append order. */
  readonly seq: number;
  readonly event: AuditEvent;
}

/** One stored event as the audit trail sees it: the chain fields and the body exactly as stored. */
export interface StoredAuditRecord {
  /** Position in the store's append order. */
  readonly storeSeq: number;
  /** Null for events recorded before the store had hash chains. */
  readonly chain: string | null;
  readonly seq: number | null;
  readonly prev: string | null;
  readonly hash: string | null;
  readonly time: number;
  readonly type: string;
  /** The stored JSON, unparsed: verification must judge what is stored, not a cleaned-up copy. */
  readonly body: string;
}

export interface AuditRecordFilter {
  readonly chain?: string;
  /** Chain seq range, inclusive (with `chain`). */
  readonly fromSeq?: number;
  readonly toSeq?: number;
  /** Event time range: `since` inclusive, `until` exclusive (ms since the epoch). */
  readonly since?: number;
  readonly until?: number;
}

/**
 * A signed record that retention deleted a chain's events through `seq` (docs/audit.md,
 * Retention). The first remaining event must be seq + 1 and name `hash` as its prev.
 */
export interface PruneRecord {
  readonly chain: string;
  /** The last pruned seq, and that event's hash. */
  readonly seq: number;
  readonly hash: string;
  /** The highest seq the chain had signed (or pruned) when this was written, and its hash: the chain reached at least that far. */
  readonly headSeq: number;
  readonly headHash: string;
  /** The retention cutoff: events older than this were due (ms since the epoch). */
  readonly cutoff: number;
  /** How many events this prune deleted. */
  readonly events: number;
  readonly time: number;
  readonly keyFingerprint: string;
  /** Ed25519 signature of prunePayload(…), base64. */
  readonly signature: string;
}

/** The seq span of a chain's events inside a time range. */
export interface ChainSpan {
  readonly chain: string;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly events: number;
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

  /**
   * Appends a batch atomically: all of it is stored or none of it. Checkpoints given with it are
   * committed in the same transaction, after the events they may cover.
   */
  appendEvents(events: readonly ChainedEvent[], checkpoints?: readonly Checkpoint[]): Promise<void>;
  /**
   * The same, committed before it returns. Stores that can (SQLite) offer it; strict recording
   * (`recording.mode: strict`) needs it, so the relay never gets ahead of the store.
   */
  appendEventsSync?(events: readonly ChainedEvent[], checkpoints?: readonly Checkpoint[]): void;
  /** Makes each commit survive an OS crash or power loss, not only a process crash (strict recording). */
  setDurableCommits?(durable: boolean): void;
  /** Stored events in append order, in pages (large stores never sit in memory at once). */
  auditRecords(filter?: AuditRecordFilter): AsyncIterable<StoredAuditRecord>;
  /** Checkpoints, by chain then seq. */
  listCheckpoints(filter?: { chain?: string }): Promise<Checkpoint[]>;
  /** Per chain, the first and last seq of its events whose time is in [since, until). */
  chainSpans(range: { since?: number; until?: number }): Promise<ChainSpan[]>;
  /**
   * Retention, in one transaction: deletes the chain's events through `record.seq` and its
   * checkpoints at or below it, stores the record, and deletes sessions started before the cutoff
   * that have no events left.
   */
  pruneChain(record: PruneRecord): Promise<{ events: number; sessions: number }>;
  /** Retention for events recorded before the store had chains: deletes those older than `before`. */
  pruneUnchained(before: number): Promise<number>;
  /** Retention records, by chain then seq. */
  listPrunes(filter?: { chain?: string }): Promise<PruneRecord[]>;
  listSessions(filter?: SessionFilter): Promise<SessionSummary[]>;
  getSession(id: string): Promise<SessionSummary | undefined>;
  sessionEvents(id: string): Promise<StoredEvent[]>;

  createApprovalRequest(request: NewApprovalRequest): Promise<ApprovalRequest>;
  getApprovalRequest(id: string): Promise<ApprovalRequest | undefined>;
  listApprovalRequests(filter?: { status?: ApprovalStatus; limit?: number }): Promise<ApprovalRequest[]>;
  /**
   * Adds one approver's vote atomically and settles the request when it is decided: a deny ends it,
   * enough distinct approvals approve it (and open the window asked for). Returns the request after
   * the vote; the caller checks who may vote before calling.
   */
  voteApproval(vote: VoteInput): Promise<ApprovalRequest>;
  /** Marks pending requests past their expiry as expired; returns how many. */
  expireApprovals(now: number): Promise<number>;
  /** Withdraws a pending request (its session ended). */
  cancelApproval(id: string, now: number): Promise<void>;
  findApprovalWindow(identitySubject: string, connection: string, cls: string, now: number): Promise<ApprovalWindow | undefined>;
  /** Changes after `seq`, oldest first. */
  approvalChangesSince(seq: number, limit?: number): Promise<ApprovalChange[]>;
  /** The newest change's seq (0 when none). */
  approvalChangeHead(): Promise<number>;

  /**
   * A key the gateway generates once and keeps (the SSH host key): the stored one, or `create()`'s
   * result stored now. Replicas sharing the store get the same key.
   */
  gatewayKey(name: string, create: () => string): Promise<string>;

  close(): Promise<void>;
}
