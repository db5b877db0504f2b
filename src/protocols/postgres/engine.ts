import { randomBytes, randomInt } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { RecordingFailedError } from '../../audit/recorder.js';
import type { RecordedDecision, StatementEvent } from '../../audit/events.js';
import type { SessionRecorder } from '../../audit/session.js';
import type { Decision } from '../../policy/policy.js';
import { awaitApproval, recordedDecision, type ReviewDecision } from '../../policy/review.js';
import type { PostgresConnectionConfig } from '../../config/schema.js';
import { errorMessage } from '../../errors.js';
import type { EngineContext, ProtocolEngine } from '../engine.js';
import { type BackendConnectOptions, type BackendSession, type BackendTarget, cancelBackend, connectBackend } from './backend.js';
import { type BackendLease, BackendPool, closeBackend, poolKey, poolSettings } from './pool.js';
import { PgBackendError, PgProtocolError } from './errors.js';
import { Backend, Frontend, StartupCode } from './messages.js';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  FrameReader,
  type FrameVerdict,
  HOLD,
  StartupReader,
  decodeBind,
  decodeCancelRequest,
  decodeExecute,
  decodeParse,
  decodeQuery,
  decodeStartup,
  decodeTarget,
  wantBodies,
} from './reader.js';
import { checkStartupParams } from './startup-params.js';
import { type OpState, StatementTracker } from './tracker.js';
import { type ColumnShape, type ResultShape, copyOutIsBinary, decodeRowDescription, decodeRowValues, maskCopyData, maskDataRow, maskErrorFields, maskNotification, shapeFor, unknownShape } from './masking.js';
import type { Masker } from '../../mask/index.js';
import { relayed } from '../read-buffers.js';
import {
  SSL_REFUSED,
  encodeNoticeResponse,
  encodeTyped,
  encodeAuthenticationOk,
  encodeBackendKeyData,
  encodeErrorResponse,
  encodeNegotiateProtocolVersion,
  encodeReadyForQuery,
} from './writer.js';

/** Client messages whose body the gateway reads: statements, binds and the message that ends a session. */
const CLIENT_BODIES = wantBodies([
  Frontend.query,
  Frontend.parse,
  Frontend.bind,
  Frontend.execute,
  Frontend.close,
  Frontend.describe,
  Frontend.sync,
  Frontend.flush,
  Frontend.functionCall,
  Frontend.terminate,
  Frontend.password,
]);

/** Server messages whose body the gateway reads: results and errors. Everything else streams through. */
const SERVER_BODIES = wantBodies([Backend.commandComplete, Backend.errorResponse, Backend.readyForQuery]);

/** With result capture on: row descriptions and rows, to record the first rows of each result. */
const SERVER_BODIES_CAPTURE = wantBodies([Backend.commandComplete, Backend.errorResponse, Backend.readyForQuery, Backend.rowDescription, Backend.dataRow]);

/** With masking on, also every message that can carry data: rows, COPY data, notices, notifications. */
const SERVER_BODIES_MASKING = wantBodies([
  Backend.commandComplete,
  Backend.errorResponse,
  Backend.readyForQuery,
  Backend.rowDescription,
  Backend.dataRow,
  Backend.copyData,
  Backend.copyOutResponse,
  Backend.noticeResponse,
  Backend.notificationResponse,
]);

/** Startup parameters that are the gateway's to set, never the client's. */
const RESERVED_STARTUP_PARAMS = new Set(['user', 'database', 'replication']);

/** Startup parameters recorded with the session (never credentials). */
const RECORDED_STARTUP_PARAMS = ['user', 'database', 'application_name', 'client_encoding'];

/** A live session, reachable by the gateway-issued cancel key. */
interface CancelEntry {
  readonly subject: string;
  readonly target: BackendTarget;
  readonly processId: number;
  readonly secretKey: Buffer;
}

/** The engine's cancel keys, as a session sees them. */
interface CancelRegistry {
  register(pid: number, key: Buffer, entry: CancelEntry): void;
  unregister(cancelKey: string): void;
  /** A CancelRequest for this backend is on its way: it could still hit whoever uses the backend next. */
  inFlight(entry: CancelEntry): boolean;
}

/** Extended-protocol messages: after one, the backend is inside a pipeline until the next Sync. */
const EXTENDED_MESSAGES = wantBodies([Frontend.parse, Frontend.bind, Frontend.execute, Frontend.describe, Frontend.close]);

export class PostgresEngine implements ProtocolEngine {
  readonly type = 'postgres' as const;
  private readonly sessions = new Set<PgSession>();
  /** Gateway-issued (pid, key) → the backend's own: the client never learns the backend's identifiers. */
  private readonly cancelKeys = new Map<string, CancelEntry>();
  /** Idle backend connections kept between client sessions. */
  readonly pool = new BackendPool();
  /** CancelRequests being forwarded, by the backend's own (pid, key). */
  private readonly cancelsInFlight = new Map<string, number>();
  private readonly cancelRegistry: CancelRegistry = {
    register: (pid, key, entry) => this.cancelKeys.set(cancelKey(pid, key), entry),
    unregister: (k) => this.cancelKeys.delete(k),
    inFlight: (entry) => this.cancelsInFlight.has(cancelKey(entry.processId, entry.secretKey)),
  };

  async serve(client: Duplex, ctx: EngineContext): Promise<void> {
    const startup = await readStartup(client, ctx.log);
    if (startup === null || startup.kind === 'tls') return;
    if (startup.kind === 'cancel') {
      await this.cancel(startup.processId, startup.secretKey, ctx);
      client.destroy();
      return;
    }
    return this.serveSession(client, ctx, startup.params, startup.rest);
  }

  /**
   * Serves a client whose StartupMessage was already read (and who was authenticated by other
   * means, e.g. the native listener's password exchange). `rest` holds bytes read after it.
   */
  async serveSession(client: Duplex, ctx: EngineContext, params: Record<string, string>, rest: Buffer): Promise<void> {
    const connection = ctx.connection as PostgresConnectionConfig;
    const session = new PgSession(client, ctx, connection, params, rest, this.pool);
    this.sessions.add(session);
    try {
      await session.run(this.cancelRegistry);
    } finally {
      this.sessions.delete(session);
      if (session.cancelKey) this.cancelKeys.delete(session.cancelKey);
    }
  }

  /** Forwards a CancelRequest that arrived on the native listener (no tunnel identity: the key alone). */
  async cancelByKey(processId: number, secretKey: Buffer, log: Logger): Promise<void> {
    const entry = this.cancelKeys.get(cancelKey(processId, secretKey));
    if (!entry) return;
    await this.forwardCancel(entry).catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'cancel request could not be forwarded'));
  }

  closeAll(reason: string): void {
    for (const s of this.sessions) s.terminate(reason, 'hoop: the gateway is ending this session');
    if (reason === 'gateway-shutdown') this.pool.close();
    else this.pool.drain();
  }

  /** Sends a CancelRequest to the backend; while it travels, the backend is not returned to the pool. */
  private async forwardCancel(entry: CancelEntry): Promise<void> {
    const k = cancelKey(entry.processId, entry.secretKey);
    this.cancelsInFlight.set(k, (this.cancelsInFlight.get(k) ?? 0) + 1);
    try {
      await cancelBackend(entry.target, entry.processId, entry.secretKey);
    } finally {
      const left = this.cancelsInFlight.get(k)! - 1;
      if (left === 0) this.cancelsInFlight.delete(k);
      else this.cancelsInFlight.set(k, left);
    }
  }

  private async cancel(processId: number, secretKey: Buffer, ctx: EngineContext): Promise<void> {
    const entry = this.cancelKeys.get(cancelKey(processId, secretKey));
    // Unknown keys get no answer at all, as with PostgreSQL itself: nothing to learn by probing.
    if (!entry || entry.subject !== ctx.identity.subject) {
      ctx.log.warn({ identity: ctx.identity.name }, 'cancel request with an unknown key ignored');
      return;
    }
    try {
      await this.forwardCancel(entry);
      ctx.log.info({ identity: ctx.identity.name, connection: ctx.connection.name }, 'cancel request forwarded');
    } catch (err) {
      ctx.log.warn({ err: errorMessage(err) }, 'cancel request could not be forwarded');
    }
  }
}

const cancelKey = (pid: number, key: Buffer): string => `${pid}:${key.toString('hex')}`;

export type StartupResult =
  | { kind: 'startup'; params: Record<string, string>; rest: Buffer }
  | { kind: 'cancel'; processId: number; secretKey: Buffer }
  /** The client asked for TLS and `acceptTls` was set: the caller answers 'S' and starts TLS. */
  | { kind: 'tls' };

/**
 * Reads the untyped startup phase: SSLRequest and GSSENCRequest are refused with 'N' (the tunnel
 * is already encrypted), CancelRequest ends it, StartupMessage hands over to the relay.
 * Resolves null when the client went away or sent garbage (it has been told why).
 */
export function readStartup(client: Duplex, log: Logger, opts: { acceptTls?: boolean } = {}): Promise<StartupResult | null> {
  return new Promise((resolve) => {
    const reader = new StartupReader();
    const done = (result: StartupResult | null): void => {
      client.off('data', onData);
      client.off('close', onClose);
      client.off('error', onClose);
      client.pause();
      resolve(result);
    };
    const onClose = (): void => done(null);
    const onData = (chunk: Buffer): void => {
      try {
        reader.append(chunk);
        for (let packet = reader.next(); packet !== null; packet = reader.next()) {
          const code = packet.readInt32BE(0);
          if (code === StartupCode.sslRequest && opts.acceptTls) {
            if (reader.takeRest().length > 0) throw new PgProtocolError('client sent data after SSLRequest before the TLS handshake');
            return done({ kind: 'tls' });
          }
          if (code === StartupCode.sslRequest || code === StartupCode.gssEncRequest) {
            client.write(SSL_REFUSED);
            continue;
          }
          if (code === StartupCode.cancelRequest) {
            const { processId, secretKey } = decodeCancelRequest(packet);
            return done({ kind: 'cancel', processId, secretKey });
          }
          const major = code >>> 16;
          if (major !== 3) {
            throw new PgProtocolError(`unsupported frontend protocol ${major}.${code & 0xffff}: hoop speaks 3.0`);
          }
          const params = { ...decodeStartup(packet).params };
          const unrecognised = Object.keys(params).filter((k) => k.startsWith('_pq_.'));
          // A newer client may ask for 3.2 or protocol extensions: tell it we speak 3.0, as PostgreSQL does.
          if ((code & 0xffff) !== 0 || unrecognised.length > 0) {
            client.write(encodeNegotiateProtocolVersion(0, unrecognised));
          }
          for (const k of unrecognised) delete params[k];
          return done({ kind: 'startup', params, rest: reader.takeRest() });
        }
      } catch (err) {
        const message = err instanceof PgProtocolError ? err.message : `bad startup packet: ${errorMessage(err)}`;
        log.warn({ err: message }, 'client startup refused');
        client.end(encodeErrorResponse({ severity: 'FATAL', code: '08P01', message: `hoop: ${message}` }));
        done(null);
      }
    };
    client.on('data', onData);
    client.once('close', onClose);
    client.once('error', onClose);
    client.resume();
  });
}

const MAX_RECORDED_PARAM_CHARS = 4096;
const MAX_RECORDED_SQL_CHARS = 256 * 1024;

function recordedParam(value: Buffer | null, format: number): string | null {
  if (value === null) return null;
  const limit = MAX_RECORDED_PARAM_CHARS;
  if (format === 1) {
    const hex = value.subarray(0, limit / 2).toString('hex');
    return value.length * 2 > limit ? `\\x${hex}…(${value.length} bytes)` : `\\x${hex}`;
  }
  const text = value.toString('utf8', 0, Math.min(value.length, limit));
  return value.length > limit ? `${text}…(${value.length} bytes)` : text;
}

function recordedSql(sql: string): string {
  return sql.length > MAX_RECORDED_SQL_CHARS ? `${sql.slice(0, MAX_RECORDED_SQL_CHARS)}…(${sql.length} chars)` : sql;
}

/** Longest value kept in a captured result row; the rest is cut with a note. */
const MAX_CAPTURED_VALUE_CHARS = 256;

/**
 * Why a session's pending approval waits stop. One shared value: a DOMException made per session
 * (what `abort()` without a reason does) costs a stack trace on every connection's end.
 */
const SESSION_ENDED = new DOMException('the session ended', 'AbortError');

/** A server message the session will not forward at all (it is ending). */
const DROPPED = Buffer.alloc(0);

/** Beyond this, a client writing behind a held statement is paused until the hold is settled. */
const MAX_PENDING_INPUT_BYTES = 4 * 1024 * 1024;

interface HeldStatement {
  readonly kind: 'query' | 'parse';
  /** The whole message, to forward unchanged if approved. */
  readonly frame: Buffer;
  readonly sql: string;
  /** Prepared statement name (Parse). */
  readonly name?: string;
  readonly decision: Decision;
  readonly start: number;
}

interface StatementDecision {
  readonly decision: RecordedDecision;
  readonly approval?: NonNullable<StatementEvent['approval']>;
}

function denialMessage(d: Decision): string {
  return `hoop: ${d.action === 'deny' ? d.reason : 'not allowed'} (rule ${d.rule})`;
}

/** SQLSTATE 42501 (insufficient_privilege): what a driver shows for a refused statement. */
function denialError(message: string): Buffer {
  return encodeErrorResponse({ severity: 'ERROR', code: '42501', message });
}

/** One client session: a client stream and its own backend connection. */
class PgSession {
  cancelKey: string | null = null;
  private cancelEntry: CancelEntry | null = null;
  private backend: BackendSession | null = null;
  private readonly recorder: SessionRecorder;
  private readonly log: Logger;
  private readonly tracker: StatementTracker;
  /** Prepared statements by name ('' is the unnamed one): the SQL an Execute runs. */
  private readonly statements = new Map<string, string>();
  /** Bound portals by name: statement SQL, parameters, and the decision that let the statement in. */
  private readonly portals = new Map<string, { sql: string; params: (string | null)[]; decision: StatementDecision | undefined }>();
  /** Decisions of prepared statements that were held and approved, for their Executes' records. */
  private readonly statementDecisions = new Map<string, StatementDecision>();
  private ending = false;
  private endReason = 'client-closed';
  private endError: string | undefined;
  private finish: () => void = () => {};
  /** Set when the backend connection may go back to the pool once the session ends. */
  private lease: BackendLease | null = null;
  private cancels: CancelRegistry | null = null;
  /** The client's Terminate was kept from a poolable backend: it is sent if the backend is closed after all. */
  private terminateWithheld = false;
  /** Extended-protocol messages were sent since the last Sync (an implicit transaction may be open). */
  private unsynced = false;

  constructor(
    private readonly client: Duplex,
    private readonly ctx: EngineContext,
    private readonly connection: PostgresConnectionConfig,
    private readonly clientParams: Record<string, string>,
    private readonly clientRest: Buffer,
    private readonly pool: BackendPool,
  ) {
    this.recorder = ctx.recorder;
    this.log = ctx.log.child({ session: ctx.recorder.sessionId });
    this.masker = ctx.masker;
    this.captureRows = ctx.captureRows;
    this.tracker = new StatementTracker((s) => {
      try {
        this.recorder.statement(this.maskRecord(s));
      } catch (err) {
        this.recordingFailed(err);
      }
    });
  }

  async run(cancels: CancelRegistry): Promise<void> {
    this.cancels = cancels;
    const info: Record<string, string> = {};
    for (const k of RECORDED_STARTUP_PARAMS) if (this.clientParams[k] !== undefined) info[k] = this.clientParams[k]!;
    const replication = this.clientParams.replication !== undefined && this.clientParams.replication !== 'false';
    const refusal = replication ? null : checkStartupParams(this.clientParams);

    const startupParams: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.clientParams)) if (!RESERVED_STARTUP_PARAMS.has(k)) startupParams[k] = v;
    const maxMessageBytes = this.connection.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    const target: BackendTarget = {
      host: this.connection.host,
      port: this.connection.port,
      tls: this.connection.tls,
      ...(this.connection.ca ? { ca: this.connection.ca } : {}),
    };
    const options: BackendConnectOptions = {
      ...target,
      database: this.connection.database,
      user: this.connection.user,
      ...(this.connection.password !== undefined ? { password: this.connection.password } : {}),
      startupParams,
      maxMessageBytes,
    };
    // Taken before the session's start is recorded, so the record can say whether it was reused.
    const settings = replication || refusal ? null : poolSettings(this.connection.pool);
    const key = settings ? poolKey(this.connection.name, options) : null;
    this.lease = settings && key ? this.pool.take(this.connection.name, key, settings) : null;
    if (settings) info.backend = this.lease ? 'reused' : 'new';
    try {
      this.recorder.start(this.ctx.clientAddress, info);
    } catch (err) {
      if (this.lease) closeBackend(this.lease.socket);
      this.client.end(encodeErrorResponse({ severity: 'FATAL', code: '58000', message: 'hoop: recording is unavailable, session refused' }));
      this.log.error({ err: errorMessage(err) }, 'session refused: recording failed');
      return;
    }
    if (replication) return this.refuse('replication connections are not supported through hoop', '0A000', 'replication-refused');
    if (refusal) return this.refuse(refusal, '42501', 'startup-refused');

    if (this.lease) {
      this.backend = this.lease.session;
      this.log.debug({ connection: this.connection.name }, 'backend connection reused from the pool');
    } else {
      try {
        this.backend = await connectBackend(options);
      } catch (err) {
        const sqlState = err instanceof PgBackendError ? err.sqlState : '08006';
        this.log.warn({ err: errorMessage(err), connection: this.connection.name }, 'backend connection failed');
        return this.refuse(`cannot connect to ${this.connection.name}: ${errorMessage(err)}`, sqlState, 'backend-connect-failed');
      }
      if (settings && key) this.lease = this.pool.adopt(this.connection.name, key, settings, this.backend);
    }
    if (this.client.destroyed) {
      this.backend.socket.destroy();
      return this.endRecording('client-closed');
    }

    const backend = this.backend;
    const pid = randomInt(1, 0x7fffffff);
    const cancelSecret = randomBytes(4);
    this.cancelKey = cancelKey(pid, cancelSecret);
    this.cancelEntry = { subject: this.ctx.identity.subject, target, processId: backend.processId, secretKey: backend.secretKey };
    cancels.register(pid, cancelSecret, this.cancelEntry);

    this.client.write(
      Buffer.concat([
        encodeAuthenticationOk(),
        ...backend.parameterStatus,
        encodeBackendKeyData(pid, cancelSecret),
        ...backend.notices,
        encodeReadyForQuery(backend.transactionStatus),
      ]),
    );
    return this.relay(backend, maxMessageBytes);
  }

  /** Ends a session that never reached the relay: a FATAL error the client's driver will show. */
  private async refuse(message: string, code: string, reason: string): Promise<void> {
    this.client.end(encodeErrorResponse({ severity: 'FATAL', code, message: `hoop: ${message}` }));
    await this.endRecording(reason, message);
  }

  private async endRecording(reason: string, error?: string): Promise<void> {
    await this.recorder.end(reason, error);
  }

  private relay(backend: BackendSession, maxMessageBytes: number): Promise<void> {
    const client = this.client;
    const server = backend.socket;
    this.server = server;
    this.txStatus = backend.transactionStatus;
    this.clientReader = new FrameReader({ wantsBody: CLIENT_BODIES, maxBodyBytes: maxMessageBytes, peer: 'client' });
    const wants = this.masker ? SERVER_BODIES_MASKING : this.captureRows > 0 ? SERVER_BODIES_CAPTURE : SERVER_BODIES;
    this.serverReader = new FrameReader({ wantsBody: wants, maxBodyBytes: maxMessageBytes, peer: 'server' });

    server.on('drain', () => {
      this.serverBlocked = false;
      if (!this.ending && !this.holding) client.resume();
    });
    client.on('drain', () => {
      this.clientBlocked = false;
      if (!this.ending && !this.awaitingStore) server.resume();
    });

    return new Promise<void>((resolve) => {
      this.finish = resolve;
      client.on('data', this.onClientData);
      server.on('data', this.onServerData);
      client.on('error', (err) => this.shutdown('client-error', errorMessage(err)));
      server.on('error', (err) => this.shutdown('backend-error', errorMessage(err)));
      client.on('close', () => this.shutdown(this.endReason));
      server.on('close', () => this.shutdown('backend-closed'));
      // A poolable backend is not told the client left: the session's end decides whether it is kept.
      client.on('end', () => (this.lease === null ? server.end() : client.end()));
      server.on('end', () => client.end());
      if (backend.leftover.length > 0) this.onServerData(backend.leftover);
      if (this.clientRest.length > 0) this.onClientData(this.clientRest);
      if (this.ending) return;
      client.resume();
      server.resume();
    });
  }

  // ---- The relay's plumbing. Arrow functions: they are passed as callbacks on the hot path. ----

  private server!: Duplex;
  private clientReader!: FrameReader;
  private serverReader!: FrameReader;
  private serverBlocked = false;
  private clientBlocked = false;
  /** Transaction status from the server's latest ReadyForQuery. */
  private txStatus: 'I' | 'T' | 'E' = 'I';
  /** A statement waiting for approval: nothing the client sent after it moves until it is settled. */
  private holding: HeldStatement | null = null;
  /** Client bytes that arrived behind a held statement, unread. */
  private pendingInput: Buffer[] = [];
  private pendingInputBytes = 0;
  /** After a refused Parse: drop the client's messages up to its Sync, as the server would after an error. */
  private discardError: Buffer | null = null;
  /** Messages for the client that must wait until the server's stream is between messages. */
  private clientOutbox: Buffer[] = [];
  private readonly abort = new AbortController();

  private readonly toServer = (bytes: Buffer): void => {
    if (this.discardError !== null) return;
    if (!this.server.write(bytes) && !this.serverBlocked) {
      this.serverBlocked = true;
      this.client.pause();
    }
  };

  private readonly toClient = (bytes: Buffer): void => {
    if (!this.client.write(bytes) && !this.clientBlocked) {
      this.clientBlocked = true;
      this.server.pause();
    }
  };

  /**
   * Sends the gateway's own messages (notices, refusals) to the client, never in the middle of a
   * server message that is streaming through.
   */
  private sendToClient(bytes: Buffer): void {
    if (this.serverReader.atBoundary && this.clientOutbox.length === 0) this.toClient(bytes);
    else this.clientOutbox.push(bytes);
  }

  private readonly clientVisitor = {
    frame: (code: number, body: Buffer): FrameVerdict => this.onClientMessage(code, body),
    header: (): void => {},
  };

  private readonly serverVisitor = {
    frame: (code: number, body: Buffer): FrameVerdict => {
      if (code === Backend.readyForQuery) {
        this.txStatus = (String.fromCharCode(body[0] ?? 0x49) as 'I' | 'T' | 'E');
        const extra = this.tracker.onReadyForQuery();
        // Refusals that were queued behind statements still running go out at their turn.
        const replacement = extra ? Buffer.concat([extra.before, encodeTyped(code, body), extra.after(this.txStatus)]) : null;
        if (this.recorder.unstored) {
          // Group commit: the client learns a statement finished only once its record is stored,
          // so a crash never loses what a client saw acknowledged. Sessions waiting at the same
          // time share one store transaction.
          this.ackWhenStored(replacement ?? encodeTyped(code, body));
          return HOLD;
        }
        if (replacement) {
          this.serverReader.inject(replacement);
          return false;
        }
        return true;
      }
      if (code === Backend.rowDescription) this.onRowDescription(body);
      if (this.masker !== null) {
        const masked = this.maskServerMessage(code, body, this.masker);
        if (masked === DROPPED) return false;
        if (masked !== null) {
          const maskedBody = masked.subarray(5);
          if (code === Backend.dataRow) this.captureRow(maskedBody);
          this.tracker.onServerMessage(code, maskedBody);
          this.serverReader.inject(masked);
          return false;
        }
      }
      if (code === Backend.dataRow) this.captureRow(body);
      this.tracker.onServerMessage(code, body);
      return true;
    },
    header: (code: number): void => this.tracker.onServerMessage(code, null),
  };

  // ---- Masking: what reaches the client. Column plans are made once per RowDescription. ----

  private readonly masker: Masker | null;
  /** How many rows of each result to record (0: none). */
  private readonly captureRows: number;
  /** Columns of prepared statements (from Describe S), to mask Executes that were not described. */
  private readonly statementColumns = new Map<string, ColumnShape[]>();
  /** Columns of portals described with Describe P (formats included). */
  private readonly portalColumns = new Map<string, ColumnShape[]>();
  /** What each portal runs and its result formats (from Bind). */
  private readonly portalInfo = new Map<string, { statement: string; formats: readonly number[] }>();

  /** The masked message to send instead of this one, or null to forward it as it is. */
  private maskServerMessage(code: number, body: Buffer, m: Masker): Buffer | null {
    const op = this.tracker.head;
    switch (code) {
      case Backend.dataRow: {
        const shape = this.rowShape(op, body, m);
        if (shape.allPass) return null;
        const counts = op ? (op.masked ??= {}) : {};
        return maskDataRow(body, shape, m, counts);
      }
      case Backend.copyData:
        return maskCopyData(body, m, op ? (op.masked ??= {}) : {});
      case Backend.copyOutResponse:
        if (copyOutIsBinary(body)) {
          this.terminate('masking-refused', 'hoop: binary COPY output cannot be masked; use COPY … TO STDOUT in text or CSV format');
          return DROPPED;
        }
        return null;
      case Backend.errorResponse:
      case Backend.noticeResponse:
        return maskErrorFields(code, body, m, op ? (op.masked ??= {}) : {});
      case Backend.notificationResponse:
        return maskNotification(body, m, {});
      default:
        return null;
    }
  }

  /** The columns of a DataRow: from its query's RowDescription, its portal's, or its statement's. */
  private rowShape(op: OpState | undefined, body: Buffer, m: Masker): ResultShape {
    if (op?.shape) return op.shape;
    const count = body.length >= 2 ? body.readInt16BE(0) : 0;
    const columns = this.columnsOf(op);
    const shape = columns ? shapeFor(columns, m) : unknownShape(count, op?.kind === 'execute' && op.portal !== undefined ? (this.portalInfo.get(op.portal)?.formats ?? []) : []);
    if (op) op.shape = shape;
    return shape;
  }

  /** RowDescription: the columns of a described statement or portal, or of the running query. */
  private onRowDescription(body: Buffer): void {
    const columns = decodeRowDescription(body);
    const op = this.tracker.head;
    if (op?.kind === 'describe' && op.describe) {
      if (op.describe.kind === 'S') this.statementColumns.set(op.describe.name, columns);
      else this.portalColumns.set(op.describe.name, columns);
    } else if (op) {
      op.columns = columns;
      op.shape = undefined;
    }
  }

  /** The columns of the rows an op returns: its own RowDescription, its portal's, or its statement's. */
  private columnsOf(op: OpState | undefined): readonly ColumnShape[] | undefined {
    if (!op) return undefined;
    if (op.columns) return op.columns;
    if (op.kind !== 'execute' || op.portal === undefined) return undefined;
    const described = this.portalColumns.get(op.portal);
    if (described) return (op.columns = described);
    const info = this.portalInfo.get(op.portal);
    const columns = info ? this.statementColumns.get(info.statement) : undefined;
    if (!columns || !info) return undefined;
    const f = info.formats;
    return (op.columns = columns.map((c, i) => ({ ...c, format: f.length === 0 ? 0 : f.length === 1 ? f[0]! : (f[i] ?? 0) })));
  }

  /** Keeps the first rows of each result (already masked) for the statement's record and replay. */
  private captureRow(body: Buffer): void {
    const op = this.tracker.head;
    if (!op || this.captureRows === 0 || (op.kind !== 'query' && op.kind !== 'execute')) return;
    const rows = (op.capturedRows ??= []);
    if (rows.length >= this.captureRows) {
      op.captureTruncated = true;
      return;
    }
    try {
      const columns = this.columnsOf(op);
      let values = decodeRowValues(body, columns, MAX_CAPTURED_VALUE_CHARS);
      // An identity that sees clear values still gets a masked record.
      const rm = this.ctx.recordMasker;
      if (this.masker === null && rm) {
        const plan = columns ? shapeFor(columns, rm).plan : undefined;
        values = values.map((v, i) => rm.maskValue(v, plan?.[i] ?? 'detect'));
      }
      rows.push(values);
      op.capturedColumns ??= columns ? columns.map((c) => c.name) : undefined;
    } catch {
      // A row that does not decode is the relay's problem to report, not the recorder's.
    }
  }

  /** What is recorded never holds a raw sensitive value, whoever the client is. */
  private maskRecord<T extends { sql: string; params?: readonly (string | null)[]; error?: { code: string; message: string } }>(s: T): T {
    const m = this.ctx.recordMasker;
    if (!m) return s;
    return {
      ...s,
      sql: m.maskText(s.sql).text,
      ...(s.params ? { params: s.params.map((p) => (p === null ? null : m.maskText(p).text)) } : {}),
      ...(s.error ? { error: { code: s.error.code, message: m.maskText(s.error.message).text } } : {}),
    };
  }

  private readonly onClientData = (chunk: Buffer): void => {
    relayed(chunk.length);
    if (this.holding || this.pendingInput.length > 0) {
      this.queueInput(chunk);
      return;
    }
    this.readClient(chunk);
  };

  /** Server bytes that arrived while a ReadyForQuery waits for its records to be stored. */
  private pendingServerInput: Buffer[] = [];
  private awaitingStore = false;

  /** Sends `ready` (a ReadyForQuery, with anything around it) once the records before it are stored. */
  private ackWhenStored(ready: Buffer): void {
    this.awaitingStore = true;
    this.server.pause();
    this.recorder.stored().then(
      () => {
        if (this.ending) return;
        this.awaitingStore = false;
        this.flushClientOutbox();
        this.toClient(ready);
        while (!this.awaitingStore && !this.ending && this.pendingServerInput.length > 0) this.onServerData(this.pendingServerInput.shift()!);
        if (!this.awaitingStore) this.uncorkClient();
        if (!this.awaitingStore && !this.clientBlocked && !this.ending) this.server.resume();
      },
      (err: unknown) => this.recordingFailed(err),
    );
  }

  private flushClientOutbox(): void {
    if (this.clientOutbox.length === 0) return;
    const out = this.clientOutbox;
    this.clientOutbox = [];
    for (const b of out) this.toClient(b);
  }

  /**
   * The client socket is corked while a server chunk is relayed, and stays corked while its
   * ReadyForQuery waits for the store: a response leaves in one write, not one per piece.
   */
  private clientCorked = false;

  private corkClient(): void {
    if (this.clientCorked) return;
    this.clientCorked = true;
    this.client.cork();
  }

  private uncorkClient(): void {
    if (!this.clientCorked) return;
    this.clientCorked = false;
    this.client.uncork();
  }

  private readonly onServerData = (chunk: Buffer): void => {
    relayed(chunk.length);
    if (this.awaitingStore) {
      this.pendingServerInput.push(chunk);
      return;
    }
    this.corkClient();
    try {
      const rest = this.serverReader.push(chunk, this.serverVisitor, this.toClient);
      if (rest) this.pendingServerInput.unshift(rest);
    } catch (err) {
      this.uncorkClient();
      this.protocolFailure(err, 'server');
      return;
    }
    if (this.serverReader.atBoundary && !this.awaitingStore) this.flushClientOutbox();
    if (!this.awaitingStore) this.uncorkClient();
  };

  private readClient(chunk: Buffer): void {
    try {
      const rest = this.clientReader.push(chunk, this.clientVisitor, this.toServer);
      if (rest) {
        this.pendingInput.unshift(rest);
        this.pendingInputBytes += rest.length;
      }
    } catch (err) {
      this.protocolFailure(err, 'client');
    }
  }

  /** While a statement is held, what the client sends next waits; past a bound, reading stops too. */
  private queueInput(chunk: Buffer): void {
    this.pendingInput.push(chunk);
    this.pendingInputBytes += chunk.length;
    if (this.pendingInputBytes > MAX_PENDING_INPUT_BYTES) this.client.pause();
  }

  /** Reads what queued up behind a released statement, until it is all read or another hold begins. */
  private drainPendingInput(): void {
    while (!this.holding && !this.ending && this.pendingInput.length > 0) {
      const chunk = this.pendingInput.shift()!;
      this.pendingInputBytes -= chunk.length;
      this.readClient(chunk);
    }
    if (!this.holding && !this.serverBlocked && !this.ending) this.client.resume();
  }

  /** Inspects one client message and decides what happens to it. */
  private onClientMessage(code: number, body: Buffer): FrameVerdict {
    const now = performance.now();
    if (EXTENDED_MESSAGES[code] === 1) this.unsynced = true;
    else if (code === Frontend.sync) this.unsynced = false;
    if (this.discardError !== null) {
      if (code !== Frontend.sync) return false;
      // The Sync goes through so the server closes the pipeline; the refusal is shown just before its ReadyForQuery.
      const error = this.discardError;
      this.discardError = null;
      this.tracker.push({ kind: 'sync', start: now, injectBeforeReady: error });
      return true;
    }
    switch (code) {
      case Frontend.query: {
        const sql = decodeQuery(body);
        const decision = this.ctx.policy.check(sql);
        if (decision.action === 'allow') {
          this.tracker.push({ kind: 'query', sql: recordedSql(sql), start: now, decision: recordedDecision(decision) });
          return true;
        }
        if (decision.action === 'deny') {
          this.recordRefusal(sql, 'simple', now, denialMessage(decision), recordedDecision(decision));
          this.refuseSimple(denialMessage(decision));
          return false;
        }
        this.hold({ kind: 'query', frame: encodeTyped(code, body), sql, decision, start: now });
        return HOLD;
      }
      case Frontend.parse: {
        const p = decodeParse(body);
        const decision = this.ctx.policy.check(p.sql);
        if (decision.action === 'allow') {
          this.statements.set(p.name, p.sql);
          this.statementColumns.delete(p.name);
          this.tracker.push({ kind: 'parse', sql: recordedSql(p.sql), start: now, decision: recordedDecision(decision) });
          return true;
        }
        if (decision.action === 'deny') {
          this.recordRefusal(p.sql, 'extended', now, denialMessage(decision), recordedDecision(decision));
          this.clientReader.flushBefore();
          this.discardError = denialError(denialMessage(decision));
          return false;
        }
        this.hold({ kind: 'parse', frame: encodeTyped(code, body), sql: p.sql, name: p.name, decision, start: now });
        return HOLD;
      }
      case Frontend.bind: {
        const b = decodeBind(body);
        const prepared = this.statements.get(b.statement);
        this.portalInfo.set(b.portal, { statement: b.statement, formats: b.resultFormats });
        this.portalColumns.delete(b.portal);
        this.portals.set(b.portal, { sql: prepared ?? '', params: b.values.map((v, i) => recordedParam(v, b.formats[i] ?? 0)), decision: this.statementDecisions.get(b.statement) });
        this.tracker.push({ kind: 'bind', start: now });
        return true;
      }
      case Frontend.execute: {
        const e = decodeExecute(body);
        const portal = this.portals.get(e.portal);
        this.tracker.push({
          portal: e.portal,
          kind: 'execute',
          sql: recordedSql(portal?.sql ?? ''),
          params: portal?.params ?? [],
          start: now,
          ...(portal?.decision ? { decision: portal.decision.decision, ...(portal.decision.approval ? { approval: portal.decision.approval } : {}) } : {}),
        });
        return true;
      }
      case Frontend.describe: {
        const target = decodeTarget(body, 'Describe');
        this.tracker.push({ kind: 'describe', start: now, describe: target });
        return true;
      }
      case Frontend.close: {
        const t = decodeTarget(body, 'Close');
        if (t.kind === 'S') {
          this.statements.delete(t.name);
          this.statementDecisions.delete(t.name);
        } else this.portals.delete(t.name);
        this.tracker.push({ kind: 'close', start: now });
        return true;
      }
      case Frontend.sync:
        this.tracker.push({ kind: 'sync', start: now });
        return true;
      case Frontend.functionCall: {
        // The fastpath calls a function by OID with no SQL to inspect: refused, fail closed.
        const decision = { action: 'deny' as const, rule: 'hoop:fastpath', class: 'procedural' as const, reason: 'fastpath function calls cannot be inspected' };
        this.recordRefusal('function call (fastpath)', 'function-call', now, denialMessage(decision), recordedDecision(decision));
        this.refuseSimple(denialMessage(decision));
        return false;
      }
      case Frontend.terminate:
        this.endReason = 'client-terminated';
        if (this.lease === null) return true;
        // Kept from the backend, which may serve another client; the session ends once this read is done.
        this.terminateWithheld = true;
        queueMicrotask(() => this.shutdown('client-terminated'));
        return false;
      case Frontend.flush:
        return true;
      case Frontend.password:
        throw new PgProtocolError('client sent a password message after authentication');
      default:
        return true;
    }
  }

  /** A refused simple query: the error and ReadyForQuery the server would have sent, in their turn. */
  private refuseSimple(message: string): void {
    const error = denialError(message);
    if (this.tracker.isIdle) this.sendToClient(Buffer.concat([error, encodeReadyForQuery(this.txStatus)]));
    else this.tracker.push({ kind: 'refusal', start: performance.now(), refusal: error });
  }

  /** Records a statement that did not run; false when recording failed (the session is ending). */
  private recordRefusal(
    sql: string,
    protocol: 'simple' | 'extended' | 'function-call',
    start: number,
    message: string,
    decision: RecordedDecision,
    durationMs = 0,
  ): boolean {
    try {
      this.recorder.statement(
        this.maskRecord({
          protocol,
          sql: recordedSql(sql),
          time: Math.round(performance.timeOrigin + start),
          durationMs,
          rows: 0,
          error: { code: '42501', message },
          decision,
        }),
      );
      return true;
    } catch (err) {
      this.recordingFailed(err);
      return false;
    }
  }

  private hold(h: HeldStatement): void {
    this.holding = h;
    void this.review(h).catch((err: unknown) => {
      if (this.ending) return;
      this.log.error({ err: errorMessage(err) }, 'approval flow failed; refusing the held statement');
      this.settle(h, { approved: false, message: 'hoop: the approval could not be processed, so the statement is refused' });
    });
  }

  /** Asks for approval (or finds an open window), waits, and settles the held statement. */
  private async review(h: HeldStatement): Promise<void> {
    const decision = h.decision as ReviewDecision;
    const sql = recordedSql(h.sql);
    const outcome = await awaitApproval(
      { identity: this.ctx.identity, connection: this.connection.name, approvals: this.ctx.approvals, agentMeta: this.ctx.agentMeta, recorder: this.recorder },
      {
        decision,
        text: h.sql,
        recordedText: this.ctx.recordMasker ? this.ctx.recordMasker.maskText(sql).text : sql,
        subject: 'sql',
        what: 'statement',
        recordedDecision: recordedDecision(decision),
        signal: this.abort.signal,
        notify: (request) =>
          this.sendToClient(
            encodeNoticeResponse({
              severity: 'NOTICE',
              code: '01000',
              message: `hoop: approval required, request ${request.id}; waiting…`,
              detail: `${decision.class} statement held by rule ${decision.rule}; ${decision.approvals} approval(s) from ${decision.approvers.join(', ')} needed within ${Math.round(decision.timeoutMs / 60000)} min`,
              hint: `an approver runs: hoop approve ${request.id}`,
            }),
          ),
      },
    );
    if (this.ending) return;
    this.settle(h, outcome);
  }

  /** Releases a held statement: forwards exactly it, or refuses it, then reads what queued behind it. */
  private settle(h: HeldStatement, outcome: { approved: true; approval: NonNullable<StatementEvent['approval']> } | { approved: false; message: string }): void {
    if (this.holding !== h || this.ending) return;
    this.holding = null;
    try {
      const reviewed = recordedDecision(h.decision);
      if (outcome.approved) {
        if (h.kind === 'query') {
          this.tracker.push({ kind: 'query', sql: recordedSql(h.sql), start: h.start, decision: reviewed, approval: outcome.approval });
        } else {
          this.statements.set(h.name!, h.sql);
          this.statementDecisions.set(h.name!, { decision: reviewed, approval: outcome.approval });
          this.tracker.push({ kind: 'parse', sql: recordedSql(h.sql), start: h.start, decision: reviewed });
        }
        this.toServer(h.frame);
      } else {
        const waitedMs = Math.round((performance.now() - h.start) * 1000) / 1000;
        if (!this.recordRefusal(h.sql, h.kind === 'query' ? 'simple' : 'extended', h.start, outcome.message, reviewed, waitedMs)) return;
        if (h.kind === 'query') this.refuseSimple(outcome.message);
        else this.discardError = denialError(outcome.message);
      }
    } catch (err) {
      this.recordingFailed(err);
      return;
    }
    this.drainPendingInput();
  }

  private protocolFailure(err: unknown, side: 'client' | 'server'): void {
    const message = errorMessage(err);
    this.log.warn({ side, err: message }, 'protocol error, closing session');
    const text = side === 'client' ? `hoop: protocol violation: ${message}` : `hoop: the server sent an invalid message: ${message}`;
    this.terminate('protocol-error', text, message);
  }

  private recordingFailed(err: unknown): void {
    const message = err instanceof RecordingFailedError ? err.message : `recording failed: ${errorMessage(err)}`;
    this.log.error({ err: message }, 'recording failed, closing session');
    this.terminate('recording-failed', 'hoop: recording failed, so this session cannot continue', message);
  }

  /** Ends the session now, telling the client why with a FATAL error. */
  terminate(reason: string, clientMessage: string, error?: string): void {
    if (this.ending) return;
    if (!this.client.destroyed) {
      this.client.end(encodeErrorResponse({ severity: 'FATAL', code: reason === 'protocol-error' ? '08P01' : '57P01', message: clientMessage }));
    }
    this.shutdown(reason, error ?? clientMessage);
    // Give the error a moment to leave before the stream is torn down.
    setTimeout(() => this.client.destroy(), 100).unref();
  }

  private shutdown(reason: string, error?: string): void {
    if (this.ending) return;
    this.ending = true;
    this.endReason = reason;
    this.endError = error;
    this.abort.abort(SESSION_ENDED);
    this.releaseBackend(reason);
    if (reason !== 'recording-failed' && reason !== 'protocol-error') this.client.destroy();
    if (this.tracker.pendingStatements > 0) this.tracker.abandon(reason);
    void this.endRecording(this.endReason, this.endError).finally(this.finish);
  }

  /** Returns the backend to the pool when its state is known to be clean; otherwise closes it. */
  private releaseBackend(reason: string): void {
    const backend = this.backend;
    if (backend === null) return;
    if (this.lease !== null && this.backendReusable(reason)) {
      // From here neither the client's bytes nor a CancelRequest through this session's key reach the backend.
      this.client.off('data', this.onClientData);
      if (this.cancelKey !== null) this.cancels?.unregister(this.cancelKey);
      this.pool.release(this.lease, this.log);
    } else if (this.terminateWithheld && this.lease !== null) {
      // What the backend still sends has nowhere to go: the relay lets go of it before it is closed.
      this.lease.detach();
      closeBackend(backend.socket);
    } else backend.socket.destroy();
  }

  /**
   * The client left cleanly and the backend is idle outside any transaction or pipeline, with no
   * byte sent or received beyond the last complete message: nothing about its state is unknown.
   */
  private backendReusable(reason: string): boolean {
    if (reason !== 'client-terminated' && reason !== 'client-closed') return false;
    // The relay never started (the client left during the backend's login).
    if (this.serverReader === undefined) return false;
    const socket = this.server;
    return (
      this.txStatus === 'I' &&
      !this.unsynced &&
      this.tracker.isIdle &&
      this.holding === null &&
      this.discardError === null &&
      this.pendingInput.length === 0 &&
      this.clientReader.atBoundary &&
      this.serverReader.atBoundary &&
      this.pendingServerInput.length === 0 &&
      !this.awaitingStore &&
      !socket.destroyed &&
      !socket.readableEnded &&
      !socket.writableEnded &&
      socket.readableLength === 0 &&
      socket.writableLength === 0 &&
      (this.cancelEntry === null || !this.cancels!.inFlight(this.cancelEntry))
    );
  }
}
