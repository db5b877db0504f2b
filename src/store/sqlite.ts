import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { ChainedEvent, Checkpoint } from '../audit/chain.js';
import { HoopError } from '../errors.js';
import { randomUUID } from 'node:crypto';
import type {
  AuditRecordFilter,
  ApprovalChange,
  ApprovalRequest,
  ApprovalStatus,
  ApprovalWindow,
  NewApprovalRequest,
  ServiceAccount,
  ChainSpan,
  SessionFilter,
  PruneRecord,
  SessionSummary,
  Store,
  StoredAuditRecord,
  StoredEvent,
  VoteInput,
} from './store.js';
import type { AuditEvent } from '../audit/events.js';

/**
 * Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
 * Append only: never edit a migration that has shipped.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE service_accounts (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     groups TEXT NOT NULL,
     token_hash TEXT NOT NULL UNIQUE,
     created_at INTEGER NOT NULL,
     revoked_at INTEGER
   );
   CREATE UNIQUE INDEX service_accounts_active_name ON service_accounts(name) WHERE revoked_at IS NULL;
   CREATE TABLE sessions (
     id TEXT PRIMARY KEY,
     identity_kind TEXT NOT NULL,
     identity_subject TEXT NOT NULL,
     identity_name TEXT NOT NULL,
     groups TEXT NOT NULL,
     connection TEXT NOT NULL,
     connection_type TEXT NOT NULL,
     client_address TEXT NOT NULL,
     started_at INTEGER NOT NULL,
     ended_at INTEGER,
     end_reason TEXT,
     statements INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX sessions_started ON sessions(started_at);
   CREATE INDEX sessions_subject ON sessions(identity_subject, started_at);
   CREATE TABLE events (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     session_id TEXT NOT NULL,
     type TEXT NOT NULL,
     time INTEGER NOT NULL,
     identity_subject TEXT NOT NULL,
     identity_name TEXT NOT NULL,
     connection TEXT NOT NULL,
     body TEXT NOT NULL
   );
   CREATE INDEX events_session ON events(session_id, seq);`,
  `ALTER TABLE sessions ADD COLUMN agent_meta TEXT;`,
  `CREATE TABLE approval_requests (
     id TEXT PRIMARY KEY,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     session_id TEXT NOT NULL,
     identity_subject TEXT NOT NULL,
     identity_name TEXT NOT NULL,
     groups TEXT NOT NULL,
     agent_meta TEXT,
     connection TEXT NOT NULL,
     statement TEXT NOT NULL,
     class TEXT NOT NULL,
     rule TEXT NOT NULL,
     approver_groups TEXT NOT NULL,
     approvals_needed INTEGER NOT NULL,
     status TEXT NOT NULL DEFAULT 'pending',
     decided_at INTEGER,
     reason TEXT
   );
   CREATE INDEX approval_requests_status ON approval_requests(status, created_at);
   CREATE TABLE approval_votes (
     request_id TEXT NOT NULL REFERENCES approval_requests(id),
     approver_subject TEXT NOT NULL,
     approver_name TEXT NOT NULL,
     decision TEXT NOT NULL,
     reason TEXT,
     window_ms INTEGER,
     time INTEGER NOT NULL,
     PRIMARY KEY (request_id, approver_subject)
   );
   CREATE TABLE approval_windows (
     id TEXT PRIMARY KEY,
     identity_subject TEXT NOT NULL,
     connection TEXT NOT NULL,
     class TEXT NOT NULL,
     expires_at INTEGER NOT NULL,
     request_id TEXT NOT NULL
   );
   CREATE INDEX approval_windows_lookup ON approval_windows(identity_subject, connection, class, expires_at);
   CREATE TABLE approval_changes (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     request_id TEXT NOT NULL,
     status TEXT NOT NULL,
     time INTEGER NOT NULL
   );`,
  // The tamper-evident trail: each event's place in its gateway's hash chain, and signed checkpoints.
  // Rows from before this migration keep NULL chain fields; the verifier reports them as unchained.
  `ALTER TABLE events ADD COLUMN chain TEXT;
   ALTER TABLE events ADD COLUMN chain_seq INTEGER;
   ALTER TABLE events ADD COLUMN prev_hash TEXT;
   ALTER TABLE events ADD COLUMN hash TEXT;
   CREATE INDEX events_chain ON events(chain, chain_seq);
   CREATE TABLE checkpoints (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     chain TEXT NOT NULL,
     seq INTEGER NOT NULL,
     hash TEXT NOT NULL,
     time INTEGER NOT NULL,
     key_fingerprint TEXT NOT NULL,
     signature TEXT NOT NULL
   );
   CREATE INDEX checkpoints_chain ON checkpoints(chain, seq);`,
  // Retention: signed records of the chain prefixes deleted as too old.
  `CREATE TABLE audit_prunes (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     chain TEXT NOT NULL,
     seq INTEGER NOT NULL,
     hash TEXT NOT NULL,
     head_seq INTEGER NOT NULL,
     head_hash TEXT NOT NULL,
     cutoff INTEGER NOT NULL,
     events INTEGER NOT NULL,
     time INTEGER NOT NULL,
     key_fingerprint TEXT NOT NULL,
     signature TEXT NOT NULL
   );
   CREATE INDEX audit_prunes_chain ON audit_prunes(chain, seq);`,
  // Keys the gateway generates once and every replica shares (the SSH host key).
  `CREATE TABLE gateway_keys (
     name TEXT PRIMARY KEY,
     value TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );`,
];

const AUDIT_PAGE = 2000;

interface AuditRow {
  seq: number;
  chain: string | null;
  chain_seq: number | null;
  prev_hash: string | null;
  hash: string | null;
  time: number;
  type: string;
  body: string;
}

interface AccountRow {
  id: string;
  name: string;
  groups: string;
  created_at: number;
  revoked_at: number | null;
}

interface SessionRow {
  id: string;
  identity_kind: string;
  identity_subject: string;
  identity_name: string;
  groups: string;
  connection: string;
  connection_type: string;
  client_address: string;
  started_at: number;
  ended_at: number | null;
  end_reason: string | null;
  statements: number;
  agent_meta: string | null;
}

interface ApprovalRow {
  id: string;
  created_at: number;
  expires_at: number;
  session_id: string;
  identity_subject: string;
  identity_name: string;
  groups: string;
  agent_meta: string | null;
  connection: string;
  statement: string;
  class: string;
  rule: string;
  approver_groups: string;
  approvals_needed: number;
  status: ApprovalStatus;
  decided_at: number | null;
  reason: string | null;
}

interface VoteRow {
  approver_subject: string;
  approver_name: string;
  decision: 'approve' | 'deny';
  reason: string | null;
  window_ms: number | null;
  time: number;
}

const toAccount = (r: AccountRow): ServiceAccount => ({
  id: r.id,
  name: r.name,
  groups: JSON.parse(r.groups) as string[],
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

const toSession = (r: SessionRow): SessionSummary => ({
  id: r.id,
  identityKind: r.identity_kind,
  identitySubject: r.identity_subject,
  identityName: r.identity_name,
  groups: JSON.parse(r.groups) as string[],
  connection: r.connection,
  connectionType: r.connection_type,
  clientAddress: r.client_address,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  endReason: r.end_reason,
  statements: r.statements,
  agentMeta: r.agent_meta === null ? null : (JSON.parse(r.agent_meta) as Record<string, string>),
});

/** How often the checkpointer thread folds the WAL into the database file. */
const CHECKPOINT_INTERVAL_MS = 1000;
/** SQLite's default, restored when the checkpointer thread is gone. */
const SQLITE_AUTOCHECKPOINT_PAGES = 1000;

/**
 * Transactions that read before they write begin IMMEDIATE: other connections write to the same
 * file (admin commands, the checkpointer, another gateway), and a deferred transaction that has
 * read cannot take the write lock after one of them committed (SQLITE_BUSY, without waiting).
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  private readonly db: Database.Database;
  private checkpointer: Worker | null = null;
  private readonly insertEvent: Database.Statement;
  private readonly insertSession: Database.Statement;
  private readonly endSession: Database.Statement;
  private readonly countStatement: Database.Statement;
  private readonly insertCheckpoint: Database.Statement;
  private readonly appendBatch: (events: readonly ChainedEvent[], checkpoints: readonly Checkpoint[]) => void;

  /**
   * `backgroundCheckpoints`: the long-running gateway folds the WAL into the database on its own
   * thread; short-lived commands (admin, verify) keep SQLite's inline checkpoints.
   */
  constructor(
    readonly path: string,
    opts: { readonly backgroundCheckpoints?: boolean } = {},
  ) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    try {
      this.db = new Database(path);
    } catch (err) {
      throw new HoopError('HOOP_STORE_OPEN', `cannot open store ${path}: ${(err as Error).message}`, { cause: err });
    }
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode keeps every committed batch across a process crash; only an OS crash can lose the last one.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.migrate();
    if (path !== ':memory:' && opts.backgroundCheckpoints) this.startCheckpointer();
    this.insertEvent = this.prepared(
      'INSERT INTO events (session_id, type, time, identity_subject, identity_name, connection, body, chain, chain_seq, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.insertCheckpoint = this.prepared('INSERT INTO checkpoints (chain, seq, hash, time, key_fingerprint, signature) VALUES (?, ?, ?, ?, ?, ?)');
    this.insertSession = this.prepared(
      `INSERT INTO sessions (id, identity_kind, identity_subject, identity_name, groups, connection, connection_type, client_address, started_at, agent_meta)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.endSession = this.prepared('UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ?');
    this.countStatement = this.prepared('UPDATE sessions SET statements = statements + ? WHERE id = ?');
    this.appendBatch = this.db.transaction((events: readonly ChainedEvent[], checkpoints: readonly Checkpoint[]) => {
      // One counter update per session per batch, not one per statement: the batch is the unit of cost.
      let counts: Map<string, number> | null = null;
      for (const c of events) {
        const e = c.event;
        this.insertEvent.run(e.sessionId, e.type, e.time, e.identity.subject, e.identity.name, e.connection, c.body, c.chain, c.seq, c.prev, c.hash);
        if (e.type === 'session.start') {
          this.insertSession.run(
            e.sessionId,
            e.identity.kind,
            e.identity.subject,
            e.identity.name,
            JSON.stringify(e.identity.groups),
            e.connection,
            e.connectionType,
            e.clientAddress,
            e.time,
            e.agentMeta ? JSON.stringify(e.agentMeta) : null,
          );
        } else if (e.type === 'session.end') {
          this.endSession.run(e.time, e.reason, e.sessionId);
        } else if (e.type === 'statement' || e.type === 'ssh.exec' || e.type === 'git.push' || e.type === 'git.fetch') {
          counts ??= new Map();
          counts.set(e.sessionId, (counts.get(e.sessionId) ?? 0) + 1);
        }
      }
      if (counts) for (const [session, n] of counts) this.countStatement.run(n, session);
      for (const cp of checkpoints) this.insertCheckpoint.run(cp.chain, cp.seq, cp.hash, cp.time, cp.keyFingerprint, cp.signature);
    });
  }

  private readonly statements = new Map<string, Database.Statement>();

  /**
   * A statement compiled once and kept: compiling costs more than running most of them, and some
   * run for every new session (the token lookup, the session row).
   */
  private prepared(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (st === undefined) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  /** Checkpoints the WAL off the event loop (see checkpointer.ts); SQLite's own, inline ones resume if that thread is gone. */
  private startCheckpointer(): void {
    const url = new URL('./checkpointer.js', import.meta.url);
    // Running from sources (tests import src/), there is no compiled worker: SQLite checkpoints inline.
    if (!existsSync(fileURLToPath(url))) return;
    const worker = new Worker(url, { workerData: { path: this.path, intervalMs: CHECKPOINT_INTERVAL_MS } });
    worker.unref();
    this.db.pragma('wal_autocheckpoint = 0');
    worker.once('exit', () => {
      this.checkpointer = null;
      if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT_PAGES}`);
    });
    worker.on('error', () => {});
    this.checkpointer = worker;
  }

  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    if (current > MIGRATIONS.length) {
      throw new HoopError(
        'HOOP_STORE_TOO_NEW',
        `store ${this.path} was written by a newer hoop (schema ${current}, this one knows ${MIGRATIONS.length})`,
        { hint: 'upgrade hoop' },
      );
    }
    for (let v = current; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      }).immediate();
    }
  }

  async createServiceAccount(input: { id: string; name: string; groups: readonly string[]; tokenHash: string }): Promise<ServiceAccount> {
    const now = Date.now();
    try {
      this.prepared('INSERT INTO service_accounts (id, name, groups, token_hash, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(input.id, input.name, JSON.stringify(input.groups), input.tokenHash, now);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new HoopError('HOOP_ACCOUNT_EXISTS', `a service account named ${input.name} already exists`, {
          exitCode: 2,
          hint: `revoke it first: hoop admin service-account revoke ${input.name}`,
        });
      }
      throw err;
    }
    return { id: input.id, name: input.name, groups: [...input.groups], createdAt: now, revokedAt: null };
  }

  async findServiceAccountByTokenHash(tokenHash: string): Promise<ServiceAccount | undefined> {
    const row = this.prepared('SELECT * FROM service_accounts WHERE token_hash = ?').get(tokenHash) as AccountRow | undefined;
    return row ? toAccount(row) : undefined;
  }

  async listServiceAccounts(): Promise<ServiceAccount[]> {
    return (this.prepared('SELECT * FROM service_accounts ORDER BY created_at').all() as AccountRow[]).map(toAccount);
  }

  async revokeServiceAccount(name: string): Promise<boolean> {
    const r = this.prepared('UPDATE service_accounts SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL').run(Date.now(), name);
    return r.changes > 0;
  }

  async appendEvents(events: readonly ChainedEvent[], checkpoints: readonly Checkpoint[] = []): Promise<void> {
    this.appendEventsSync(events, checkpoints);
  }

  appendEventsSync(events: readonly ChainedEvent[], checkpoints: readonly Checkpoint[] = []): void {
    if (events.length > 0 || checkpoints.length > 0) this.appendBatch(events, checkpoints);
  }

  setDurableCommits(durable: boolean): void {
    // FULL fsyncs the WAL at every commit; NORMAL already survives a process crash, not a power loss.
    this.db.pragma(`synchronous = ${durable ? 'FULL' : 'NORMAL'}`);
  }

  async *auditRecords(filter: AuditRecordFilter = {}): AsyncGenerator<StoredAuditRecord> {
    const where: string[] = ['seq > ?'];
    const args: unknown[] = [];
    if (filter.chain !== undefined) {
      where.push('chain = ?');
      args.push(filter.chain);
    }
    if (filter.fromSeq !== undefined) {
      where.push('chain_seq >= ?');
      args.push(filter.fromSeq);
    }
    if (filter.toSeq !== undefined) {
      where.push('chain_seq <= ?');
      args.push(filter.toSeq);
    }
    if (filter.since !== undefined) {
      where.push('time >= ?');
      args.push(filter.since);
    }
    if (filter.until !== undefined) {
      where.push('time < ?');
      args.push(filter.until);
    }
    const page = this.prepared(
      `SELECT seq, chain, chain_seq, prev_hash, hash, time, type, body FROM events WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ${AUDIT_PAGE}`,
    );
    let after = Number.MIN_SAFE_INTEGER;
    for (;;) {
      const rows = page.all(after, ...args) as AuditRow[];
      for (const r of rows) yield { storeSeq: r.seq, chain: r.chain, seq: r.chain_seq, prev: r.prev_hash, hash: r.hash, time: r.time, type: r.type, body: r.body };
      if (rows.length < AUDIT_PAGE) return;
      after = rows.at(-1)!.seq;
    }
  }

  async listCheckpoints(filter: { chain?: string } = {}): Promise<Checkpoint[]> {
    const rows = (
      filter.chain === undefined
        ? this.prepared('SELECT * FROM checkpoints ORDER BY chain, seq, id').all()
        : this.prepared('SELECT * FROM checkpoints WHERE chain = ? ORDER BY seq, id').all(filter.chain)
    ) as { chain: string; seq: number; hash: string; time: number; key_fingerprint: string; signature: string }[];
    return rows.map((r) => ({ chain: r.chain, seq: r.seq, hash: r.hash, time: r.time, keyFingerprint: r.key_fingerprint, signature: r.signature }));
  }

  async chainSpans(range: { since?: number; until?: number }): Promise<ChainSpan[]> {
    const rows = this.prepared(
      `SELECT chain, min(chain_seq) AS first, max(chain_seq) AS last, count(*) AS n FROM events
       WHERE chain IS NOT NULL AND time >= ? AND time < ? GROUP BY chain ORDER BY min(seq)`,
    ).all(range.since ?? -Number.MAX_SAFE_INTEGER, range.until ?? Number.MAX_SAFE_INTEGER) as { chain: string; first: number; last: number; n: number }[];
    return rows.map((r) => ({ chain: r.chain, firstSeq: r.first, lastSeq: r.last, events: r.n }));
  }

  async pruneChain(r: PruneRecord): Promise<{ events: number; sessions: number }> {
    return this.db.transaction(() => {
      const events = this.prepared('DELETE FROM events WHERE chain = ? AND chain_seq <= ?').run(r.chain, r.seq).changes;
      this.prepared('DELETE FROM checkpoints WHERE chain = ? AND seq <= ?').run(r.chain, r.seq);
      this.prepared('INSERT INTO audit_prunes (chain, seq, hash, head_seq, head_hash, cutoff, events, time, key_fingerprint, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(r.chain, r.seq, r.hash, r.headSeq, r.headHash, r.cutoff, r.events, r.time, r.keyFingerprint, r.signature);
      const sessions = this.prepared('DELETE FROM sessions WHERE started_at < ? AND NOT EXISTS (SELECT 1 FROM events WHERE events.session_id = sessions.id)')
        .run(r.cutoff).changes;
      return { events, sessions };
    }).immediate();
  }

  async pruneUnchained(before: number): Promise<number> {
    return this.db.transaction(() => {
      const n = this.prepared('DELETE FROM events WHERE chain IS NULL AND time < ?').run(before).changes;
      if (n > 0) this.prepared('DELETE FROM sessions WHERE started_at < ? AND NOT EXISTS (SELECT 1 FROM events WHERE events.session_id = sessions.id)').run(before);
      return n;
    }).immediate();
  }

  async listPrunes(filter: { chain?: string } = {}): Promise<PruneRecord[]> {
    const rows = (
      filter.chain === undefined
        ? this.prepared('SELECT * FROM audit_prunes ORDER BY chain, seq, id').all()
        : this.prepared('SELECT * FROM audit_prunes WHERE chain = ? ORDER BY seq, id').all(filter.chain)
    ) as { chain: string; seq: number; hash: string; head_seq: number; head_hash: string; cutoff: number; events: number; time: number; key_fingerprint: string; signature: string }[];
    return rows.map((r) => ({
      chain: r.chain,
      seq: r.seq,
      hash: r.hash,
      headSeq: r.head_seq,
      headHash: r.head_hash,
      cutoff: r.cutoff,
      events: r.events,
      time: r.time,
      keyFingerprint: r.key_fingerprint,
      signature: r.signature,
    }));
  }

  async listSessions(filter: SessionFilter = {}): Promise<SessionSummary[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.subject !== undefined) {
      where.push('identity_subject = ?');
      args.push(filter.subject);
    }
    if (filter.connection !== undefined) {
      where.push('connection = ?');
      args.push(filter.connection);
    }
    const sql = `SELECT * FROM sessions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC, id LIMIT ?`;
    args.push(filter.limit ?? 100);
    return (this.prepared(sql).all(...args) as SessionRow[]).map(toSession);
  }

  async getSession(id: string): Promise<SessionSummary | undefined> {
    const row = this.prepared('SELECT * FROM sessions WHERE id = ?').get(id) as SessionRow | undefined;
    return row ? toSession(row) : undefined;
  }

  async sessionEvents(id: string): Promise<StoredEvent[]> {
    const rows = this.prepared('SELECT seq, body FROM events WHERE session_id = ? ORDER BY seq').all(id) as { seq: number; body: string }[];
    return rows.map((r) => ({ seq: r.seq, event: JSON.parse(r.body) as AuditEvent }));
  }

  private approval(row: ApprovalRow): ApprovalRequest {
    const votes = (this.prepared('SELECT * FROM approval_votes WHERE request_id = ? ORDER BY time').all(row.id) as VoteRow[]).map((v) => ({
      approverSubject: v.approver_subject,
      approverName: v.approver_name,
      decision: v.decision,
      reason: v.reason,
      windowMs: v.window_ms,
      time: v.time,
    }));
    return {
      id: row.id,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      sessionId: row.session_id,
      identitySubject: row.identity_subject,
      identityName: row.identity_name,
      groups: JSON.parse(row.groups) as string[],
      agentMeta: row.agent_meta === null ? null : (JSON.parse(row.agent_meta) as Record<string, string>),
      connection: row.connection,
      statement: row.statement,
      class: row.class,
      rule: row.rule,
      approverGroups: JSON.parse(row.approver_groups) as string[],
      approvalsNeeded: row.approvals_needed,
      status: row.status,
      decidedAt: row.decided_at,
      reason: row.reason,
      votes,
    };
  }

  private change(requestId: string, status: ApprovalStatus, time: number): void {
    this.prepared('INSERT INTO approval_changes (request_id, status, time) VALUES (?, ?, ?)').run(requestId, status, time);
  }

  async createApprovalRequest(r: NewApprovalRequest): Promise<ApprovalRequest> {
    this.db.transaction(() => {
      this.prepared(
        `INSERT INTO approval_requests (id, created_at, expires_at, session_id, identity_subject, identity_name, groups, agent_meta, connection, statement, class, rule, approver_groups, approvals_needed)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        r.id,
        r.createdAt,
        r.expiresAt,
        r.sessionId,
        r.identitySubject,
        r.identityName,
        JSON.stringify(r.groups),
        r.agentMeta ? JSON.stringify(r.agentMeta) : null,
        r.connection,
        r.statement,
        r.class,
        r.rule,
        JSON.stringify(r.approverGroups),
        r.approvalsNeeded,
      );
      this.change(r.id, 'pending', r.createdAt);
    }).immediate();
    return (await this.getApprovalRequest(r.id))!;
  }

  async getApprovalRequest(id: string): Promise<ApprovalRequest | undefined> {
    const row = this.prepared('SELECT * FROM approval_requests WHERE id = ?').get(id) as ApprovalRow | undefined;
    return row ? this.approval(row) : undefined;
  }

  async listApprovalRequests(filter: { status?: ApprovalStatus; limit?: number } = {}): Promise<ApprovalRequest[]> {
    const rows = (
      filter.status
        ? this.prepared('SELECT * FROM approval_requests WHERE status = ? ORDER BY created_at DESC LIMIT ?').all(filter.status, filter.limit ?? 100)
        : this.prepared('SELECT * FROM approval_requests ORDER BY created_at DESC LIMIT ?').all(filter.limit ?? 100)
    ) as ApprovalRow[];
    return rows.map((r) => this.approval(r));
  }

  async voteApproval(v: VoteInput): Promise<ApprovalRequest> {
    this.db.transaction(() => {
      const row = this.prepared('SELECT * FROM approval_requests WHERE id = ?').get(v.requestId) as ApprovalRow | undefined;
      if (!row) throw new HoopError('HOOP_NOT_FOUND', `no approval request ${v.requestId}`, { exitCode: 4 });
      if (row.status === 'pending' && row.expires_at <= v.now) {
        this.prepared("UPDATE approval_requests SET status = 'expired', decided_at = ?, reason = ? WHERE id = ?").run(v.now, 'expired before a decision', row.id);
        this.change(row.id, 'expired', v.now);
        return;
      }
      if (row.status !== 'pending') return;
      this.prepared('INSERT OR REPLACE INTO approval_votes (request_id, approver_subject, approver_name, decision, reason, window_ms, time) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(v.requestId, v.approverSubject, v.approverName, v.decision, v.reason ?? null, v.windowMs ?? null, v.now);
      if (v.decision === 'deny') {
        this.prepared("UPDATE approval_requests SET status = 'denied', decided_at = ?, reason = ? WHERE id = ?").run(v.now, v.reason ?? 'denied', row.id);
        this.change(row.id, 'denied', v.now);
        return;
      }
      const approvals = (this.prepared("SELECT count(*) AS n FROM approval_votes WHERE request_id = ? AND decision = 'approve'").get(row.id) as { n: number }).n;
      if (approvals < row.approvals_needed) {
        this.change(row.id, 'pending', v.now);
        return;
      }
      this.prepared("UPDATE approval_requests SET status = 'approved', decided_at = ? WHERE id = ?").run(v.now, row.id);
      // The window is the shortest any approver agreed to: nobody grants more than they said.
      const w = this.prepared("SELECT min(window_ms) AS w, count(window_ms) AS n, count(*) AS total FROM approval_votes WHERE request_id = ? AND decision = 'approve'").get(row.id) as {
        w: number | null;
        n: number;
        total: number;
      };
      if (w.w !== null && w.n === w.total) {
        this.prepared('INSERT INTO approval_windows (id, identity_subject, connection, class, expires_at, request_id) VALUES (?, ?, ?, ?, ?, ?)')
          .run(`w_${randomUUID()}`, row.identity_subject, row.connection, row.class, v.now + w.w, row.id);
      }
      this.change(row.id, 'approved', v.now);
    }).immediate();
    return (await this.getApprovalRequest(v.requestId))!;
  }

  async expireApprovals(now: number): Promise<number> {
    return this.db.transaction(() => {
      const rows = this.prepared("SELECT id FROM approval_requests WHERE status = 'pending' AND expires_at <= ?").all(now) as { id: string }[];
      for (const r of rows) {
        this.prepared("UPDATE approval_requests SET status = 'expired', decided_at = ?, reason = ? WHERE id = ?").run(now, 'expired before a decision', r.id);
        this.change(r.id, 'expired', now);
      }
      return rows.length;
    }).immediate();
  }

  async cancelApproval(id: string, now: number): Promise<void> {
    this.db.transaction(() => {
      const r = this.prepared("UPDATE approval_requests SET status = 'cancelled', decided_at = ?, reason = ? WHERE id = ? AND status = 'pending'").run(now, 'the session ended', id);
      if (r.changes > 0) this.change(id, 'cancelled', now);
    }).immediate();
  }

  async findApprovalWindow(identitySubject: string, connection: string, cls: string, now: number): Promise<ApprovalWindow | undefined> {
    const row = this.prepared('SELECT * FROM approval_windows WHERE identity_subject = ? AND connection = ? AND class = ? AND expires_at > ? ORDER BY expires_at DESC LIMIT 1')
      .get(identitySubject, connection, cls, now) as
      | { id: string; identity_subject: string; connection: string; class: string; expires_at: number; request_id: string }
      | undefined;
    return row
      ? { id: row.id, identitySubject: row.identity_subject, connection: row.connection, class: row.class, expiresAt: row.expires_at, requestId: row.request_id }
      : undefined;
  }

  async approvalChangesSince(seq: number, limit = 500): Promise<ApprovalChange[]> {
    return (this.prepared('SELECT seq, request_id, status, time FROM approval_changes WHERE seq > ? ORDER BY seq LIMIT ?').all(seq, limit) as {
      seq: number;
      request_id: string;
      status: ApprovalStatus;
      time: number;
    }[]).map((r) => ({ seq: r.seq, requestId: r.request_id, status: r.status, time: r.time }));
  }

  async approvalChangeHead(): Promise<number> {
    return (this.prepared('SELECT coalesce(max(seq), 0) AS s FROM approval_changes').get() as { s: number }).s;
  }

  async gatewayKey(name: string, create: () => string): Promise<string> {
    const stored = this.prepared('SELECT value FROM gateway_keys WHERE name = ?').get(name) as { value: string } | undefined;
    if (stored) return stored.value;
    // INSERT OR IGNORE then read: two replicas starting at once agree on whichever key landed first.
    this.prepared('INSERT OR IGNORE INTO gateway_keys (name, value, created_at) VALUES (?, ?, ?)').run(name, create(), Date.now());
    return (this.prepared('SELECT value FROM gateway_keys WHERE name = ?').get(name) as { value: string }).value;
  }

  async close(): Promise<void> {
    const worker = this.checkpointer;
    if (worker) {
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage('stop');
      await exited;
    }
    if (this.db.open) this.db.close();
  }
}
