import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { AuditEvent } from '../audit/events.js';
import { HoopError } from '../errors.js';
import type { ServiceAccount, SessionFilter, SessionSummary, Store, StoredEvent } from './store.js';

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
];

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

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  private readonly db: Database.Database;
  private readonly insertEvent: Database.Statement;
  private readonly insertSession: Database.Statement;
  private readonly endSession: Database.Statement;
  private readonly countStatement: Database.Statement;
  private readonly appendBatch: (events: readonly AuditEvent[]) => void;

  constructor(readonly path: string) {
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
    this.insertEvent = this.db.prepare(
      'INSERT INTO events (session_id, type, time, identity_subject, identity_name, connection, body) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.insertSession = this.db.prepare(
      `INSERT INTO sessions (id, identity_kind, identity_subject, identity_name, groups, connection, connection_type, client_address, started_at, agent_meta)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.endSession = this.db.prepare('UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ?');
    this.countStatement = this.db.prepare('UPDATE sessions SET statements = statements + 1 WHERE id = ?');
    this.appendBatch = this.db.transaction((events: readonly AuditEvent[]) => {
      for (const e of events) {
        this.insertEvent.run(e.sessionId, e.type, e.time, e.identity.subject, e.identity.name, e.connection, JSON.stringify(e));
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
        } else {
          this.countStatement.run(e.sessionId);
        }
      }
    });
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
      })();
    }
  }

  async createServiceAccount(input: { id: string; name: string; groups: readonly string[]; tokenHash: string }): Promise<ServiceAccount> {
    const now = Date.now();
    try {
      this.db
        .prepare('INSERT INTO service_accounts (id, name, groups, token_hash, created_at) VALUES (?, ?, ?, ?, ?)')
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
    const row = this.db.prepare('SELECT * FROM service_accounts WHERE token_hash = ?').get(tokenHash) as AccountRow | undefined;
    return row ? toAccount(row) : undefined;
  }

  async listServiceAccounts(): Promise<ServiceAccount[]> {
    return (this.db.prepare('SELECT * FROM service_accounts ORDER BY created_at').all() as AccountRow[]).map(toAccount);
  }

  async revokeServiceAccount(name: string): Promise<boolean> {
    const r = this.db.prepare('UPDATE service_accounts SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL').run(Date.now(), name);
    return r.changes > 0;
  }

  async appendEvents(events: readonly AuditEvent[]): Promise<void> {
    if (events.length > 0) this.appendBatch(events);
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
    return (this.db.prepare(sql).all(...args) as SessionRow[]).map(toSession);
  }

  async getSession(id: string): Promise<SessionSummary | undefined> {
    const row = this.db.prepare('SELECT * FROM sessions WHERE id = ?').get(id) as SessionRow | undefined;
    return row ? toSession(row) : undefined;
  }

  async sessionEvents(id: string): Promise<StoredEvent[]> {
    const rows = this.db.prepare('SELECT seq, body FROM events WHERE session_id = ? ORDER BY seq').all(id) as { seq: number; body: string }[];
    return rows.map((r) => ({ seq: r.seq, event: JSON.parse(r.body) as AuditEvent }));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
