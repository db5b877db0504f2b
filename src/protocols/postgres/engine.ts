import { randomBytes, randomInt } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { RecordingFailedError } from '../../audit/recorder.js';
import type { SessionRecorder } from '../../audit/session.js';
import type { PostgresConnectionConfig } from '../../config/schema.js';
import { errorMessage } from '../../errors.js';
import type { EngineContext, ProtocolEngine } from '../engine.js';
import { type BackendSession, type BackendTarget, cancelBackend, connectBackend } from './backend.js';
import { PgBackendError, PgProtocolError } from './errors.js';
import { Backend, Frontend, StartupCode } from './messages.js';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  FrameReader,
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
import { StatementTracker } from './tracker.js';
import {
  SSL_REFUSED,
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

export class PostgresEngine implements ProtocolEngine {
  readonly type = 'postgres' as const;
  private readonly sessions = new Set<PgSession>();
  /** Gateway-issued (pid, key) → the backend's own: the client never learns the backend's identifiers. */
  private readonly cancelKeys = new Map<string, CancelEntry>();

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
    const session = new PgSession(client, ctx, connection, params, rest);
    this.sessions.add(session);
    try {
      await session.run((pid, key, entry) => this.cancelKeys.set(cancelKey(pid, key), entry));
    } finally {
      this.sessions.delete(session);
      if (session.cancelKey) this.cancelKeys.delete(session.cancelKey);
    }
  }

  /** Forwards a CancelRequest that arrived on the native listener (no tunnel identity: the key alone). */
  async cancelByKey(processId: number, secretKey: Buffer, log: Logger): Promise<void> {
    const entry = this.cancelKeys.get(cancelKey(processId, secretKey));
    if (!entry) return;
    await cancelBackend(entry.target, entry.processId, entry.secretKey).catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'cancel request could not be forwarded'));
  }

  closeAll(reason: string): void {
    for (const s of this.sessions) s.terminate(reason, 'hoop: the gateway is ending this session');
  }

  private async cancel(processId: number, secretKey: Buffer, ctx: EngineContext): Promise<void> {
    const entry = this.cancelKeys.get(cancelKey(processId, secretKey));
    // Unknown keys get no answer at all, as with PostgreSQL itself: nothing to learn by probing.
    if (!entry || entry.subject !== ctx.identity.subject) {
      ctx.log.warn({ identity: ctx.identity.name }, 'cancel request with an unknown key ignored');
      return;
    }
    try {
      await cancelBackend(entry.target, entry.processId, entry.secretKey);
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

/** One client session: a client stream and its own backend connection. */
class PgSession {
  cancelKey: string | null = null;
  private backend: BackendSession | null = null;
  private readonly recorder: SessionRecorder;
  private readonly log: Logger;
  private readonly tracker: StatementTracker;
  /** Prepared statements by name ('' is the unnamed one): the SQL an Execute runs. */
  private readonly statements = new Map<string, string>();
  /** Bound portals by name: statement SQL and parameters. */
  private readonly portals = new Map<string, { sql: string; params: (string | null)[] }>();
  private ending = false;
  private endReason = 'client-closed';
  private endError: string | undefined;
  private finish: () => void = () => {};

  constructor(
    private readonly client: Duplex,
    private readonly ctx: EngineContext,
    private readonly connection: PostgresConnectionConfig,
    private readonly clientParams: Record<string, string>,
    private readonly clientRest: Buffer,
  ) {
    this.recorder = ctx.recorder;
    this.log = ctx.log.child({ session: ctx.recorder.sessionId });
    this.tracker = new StatementTracker((s) => {
      try {
        this.recorder.statement(s);
      } catch (err) {
        this.recordingFailed(err);
      }
    });
  }

  async run(register: (pid: number, key: Buffer, entry: CancelEntry) => void): Promise<void> {
    const info: Record<string, string> = {};
    for (const k of RECORDED_STARTUP_PARAMS) if (this.clientParams[k] !== undefined) info[k] = this.clientParams[k]!;
    try {
      this.recorder.start(this.ctx.clientAddress, info);
    } catch (err) {
      this.client.end(encodeErrorResponse({ severity: 'FATAL', code: '58000', message: 'hoop: recording is unavailable, session refused' }));
      this.log.error({ err: errorMessage(err) }, 'session refused: recording failed');
      return;
    }
    if (this.clientParams.replication !== undefined && this.clientParams.replication !== 'false') {
      return this.refuse('replication connections are not supported through hoop', '0A000', 'replication-refused');
    }

    const startupParams: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.clientParams)) if (!RESERVED_STARTUP_PARAMS.has(k)) startupParams[k] = v;
    const maxMessageBytes = this.connection.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    const target: BackendTarget = {
      host: this.connection.host,
      port: this.connection.port,
      tls: this.connection.tls,
      ...(this.connection.ca ? { ca: this.connection.ca } : {}),
    };
    try {
      this.backend = await connectBackend({
        ...target,
        database: this.connection.database,
        user: this.connection.user,
        ...(this.connection.password !== undefined ? { password: this.connection.password } : {}),
        startupParams,
        maxMessageBytes,
      });
    } catch (err) {
      const sqlState = err instanceof PgBackendError ? err.sqlState : '08006';
      this.log.warn({ err: errorMessage(err), connection: this.connection.name }, 'backend connection failed');
      return this.refuse(`cannot connect to ${this.connection.name}: ${errorMessage(err)}`, sqlState, 'backend-connect-failed');
    }
    if (this.client.destroyed) {
      this.backend.socket.destroy();
      return this.endRecording('client-closed');
    }

    const backend = this.backend;
    const pid = randomInt(1, 0x7fffffff);
    const key = randomBytes(4);
    this.cancelKey = cancelKey(pid, key);
    register(pid, key, { subject: this.ctx.identity.subject, target, processId: backend.processId, secretKey: backend.secretKey });

    this.client.write(
      Buffer.concat([
        encodeAuthenticationOk(),
        ...backend.parameterStatus,
        encodeBackendKeyData(pid, key),
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
    const clientReader = new FrameReader({ wantsBody: CLIENT_BODIES, maxBodyBytes: maxMessageBytes, peer: 'client' });
    const serverReader = new FrameReader({ wantsBody: SERVER_BODIES, maxBodyBytes: maxMessageBytes, peer: 'server' });

    // Backpressure: a side that cannot take more pauses the other side's reads until it drains.
    let serverBlocked = false;
    let clientBlocked = false;
    const toServer = (bytes: Buffer): void => {
      if (!server.write(bytes) && !serverBlocked) {
        serverBlocked = true;
        client.pause();
      }
    };
    const toClient = (bytes: Buffer): void => {
      if (!client.write(bytes) && !clientBlocked) {
        clientBlocked = true;
        server.pause();
      }
    };
    server.on('drain', () => {
      serverBlocked = false;
      if (!this.ending) client.resume();
    });
    client.on('drain', () => {
      clientBlocked = false;
      if (!this.ending) server.resume();
    });

    const clientVisitor = {
      frame: (code: number, body: Buffer): boolean => this.onClientMessage(code, body),
      header: (): void => {},
    };
    const serverVisitor = {
      frame: (code: number, body: Buffer): boolean => {
        this.tracker.onServerMessage(code, body);
        return true;
      },
      header: (code: number): void => this.tracker.onServerMessage(code, null),
    };

    const onClientData = (chunk: Buffer): void => {
      try {
        clientReader.push(chunk, clientVisitor, toServer);
      } catch (err) {
        this.protocolFailure(err, 'client');
      }
    };
    const onServerData = (chunk: Buffer): void => {
      try {
        serverReader.push(chunk, serverVisitor, toClient);
      } catch (err) {
        this.protocolFailure(err, 'server');
      }
    };

    return new Promise<void>((resolve) => {
      this.finish = resolve;
      client.on('data', onClientData);
      server.on('data', onServerData);
      client.on('error', (err) => this.shutdown('client-error', errorMessage(err)));
      server.on('error', (err) => this.shutdown('backend-error', errorMessage(err)));
      client.on('close', () => this.shutdown(this.endReason));
      server.on('close', () => this.shutdown('backend-closed'));
      client.on('end', () => server.end());
      server.on('end', () => client.end());
      if (backend.leftover.length > 0) onServerData(backend.leftover);
      if (this.clientRest.length > 0) onClientData(this.clientRest);
      if (this.ending) return;
      client.resume();
      server.resume();
    });
  }

  /** Inspects one client message; returns true to forward it. */
  private onClientMessage(code: number, body: Buffer): boolean {
    const now = performance.now();
    switch (code) {
      case Frontend.query: {
        this.tracker.push({ kind: 'query', sql: recordedSql(decodeQuery(body)), start: now });
        return true;
      }
      case Frontend.parse: {
        const p = decodeParse(body);
        this.statements.set(p.name, p.sql);
        this.tracker.push({ kind: 'parse', sql: recordedSql(p.sql), start: now });
        return true;
      }
      case Frontend.bind: {
        const b = decodeBind(body);
        const sql = this.statements.get(b.statement) ?? '';
        this.portals.set(b.portal, { sql, params: b.values.map((v, i) => recordedParam(v, b.formats[i] ?? 0)) });
        this.tracker.push({ kind: 'bind', start: now });
        return true;
      }
      case Frontend.execute: {
        const e = decodeExecute(body);
        const portal = this.portals.get(e.portal);
        this.tracker.push({ kind: 'execute', sql: recordedSql(portal?.sql ?? ''), params: portal?.params ?? [], start: now });
        return true;
      }
      case Frontend.describe: {
        decodeTarget(body, 'Describe');
        this.tracker.push({ kind: 'describe', start: now });
        return true;
      }
      case Frontend.close: {
        const t = decodeTarget(body, 'Close');
        if (t.kind === 'S') this.statements.delete(t.name);
        else this.portals.delete(t.name);
        this.tracker.push({ kind: 'close', start: now });
        return true;
      }
      case Frontend.sync:
        this.tracker.push({ kind: 'sync', start: now });
        return true;
      case Frontend.functionCall:
        this.tracker.push({ kind: 'function-call', sql: 'function call (fastpath)', start: now });
        return true;
      case Frontend.terminate:
        this.endReason = 'client-terminated';
        return true;
      case Frontend.flush:
        return true;
      case Frontend.password:
        throw new PgProtocolError('client sent a password message after authentication');
      default:
        return true;
    }
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
    this.backend?.socket.destroy();
    if (reason !== 'recording-failed' && reason !== 'protocol-error') this.client.destroy();
    if (this.tracker.pendingStatements > 0) this.tracker.abandon(reason);
    void this.endRecording(this.endReason, this.endError).finally(this.finish);
  }
}
