import { createHash } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { POOL_DEFAULTS, type PostgresConnectionConfig } from '../../config/schema.js';
import { errorMessage } from '../../errors.js';
import type { BackendConnectOptions, BackendSession } from './backend.js';
import { Backend, ErrorField, codeName } from './messages.js';
import { Cursor, decodeCommandComplete, decodeErrorFields } from './reader.js';
import { encodeParameterStatus, encodeQuery, encodeTerminate } from './writer.js';

/**
 * Session pooling: a backend connection whose client left cleanly (idle, between messages) is
 * reset with DISCARD ALL and kept for the next client that would open an identical session, so a
 * client that connects per transaction does not pay PostgreSQL's process start each time.
 * Whenever the state of a connection is not known for certain it is closed, never reused.
 */

export interface PoolSettings {
  /** Idle connections kept per key (one kind of session); a connection returned beyond this is closed. */
  readonly maxIdle: number;
  /**
   * Idle connections kept for the whole connection, over all keys: clients that vary their startup
   * parameters must not pile up idle backends until the server has no connection left to give.
   */
  readonly maxIdleTotal: number;
  /** An idle connection unused this long is closed. */
  readonly idleTimeoutMs: number;
}

/** A reset that has not finished by then is abandoned and its connection closed. */
const RESET_TIMEOUT_MS = 5_000;
/** The reset's answer is a few small messages; anything larger is not what was asked for. */
const MAX_RESET_REPLY_BYTES = 256 * 1024;
/** Parameter names the reset may quote into its query (PostgreSQL's own names are all like this). */
const PLAIN_NAME = /^[A-Za-z_][A-Za-z0-9_.]*$/;
/** Socket events whose listeners the relay adds and a returned connection must lose. */
const RELAY_EVENTS = ['data', 'end', 'close', 'error', 'drain'] as const;
const TERMINATE = encodeTerminate();
const EMPTY = Buffer.alloc(0);

/** The connection's pool settings, or null when pooling is off for it. */
export function poolSettings(pool: PostgresConnectionConfig['pool']): PoolSettings | null {
  if (pool === false) return null;
  if (pool === undefined || pool === true) return POOL_DEFAULTS;
  if (!pool.enabled) return null;
  return { maxIdle: pool.maxIdle, maxIdleTotal: pool.maxIdleTotal, idleTimeoutMs: pool.idleTimeoutMs };
}

/**
 * Everything that makes one backend session differ from another: where it goes, how, as whom, and
 * the startup parameters the client passed on. Hashed, so the password is not kept in another string.
 */
export function poolKey(connection: string, opts: BackendConnectOptions): string {
  // The connection's name is part of it: two names for one server keep their own settings and caps.
  const params = Object.entries(opts.startupParams).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const parts = [connection, opts.host, opts.port, opts.tls, opts.ca ?? null, opts.database, opts.user, opts.password ?? null, params];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/** Closes a backend connection politely: Terminate, then the socket, whatever the server does. */
export function closeBackend(socket: Duplex): void {
  if (socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(TERMINATE);
  // Read (and drop) whatever still comes, so the server's close is seen and the socket let go.
  socket.resume();
  setTimeout(() => socket.destroy(), 1000).unref();
}

/** A backend connection handed to a session, which gives it back with `BackendPool.release`. */
export class BackendLease {
  /** Listeners the socket had when handed out: those added since are the relay's, removed on return. */
  private readonly baseline: Map<string, ReadonlySet<unknown>>;

  constructor(
    /** The connection's name: its pooled backends share `maxIdleTotal`. */
    readonly group: string,
    readonly key: string,
    readonly settings: PoolSettings,
    readonly session: BackendSession,
    /** Current server parameters (ParameterStatus), by name, in the order the server first sent them. */
    readonly params: Map<string, string>,
  ) {
    this.baseline = new Map(RELAY_EVENTS.map((e) => [e, new Set(session.socket.listeners(e))]));
  }

  get socket(): Duplex {
    return this.session.socket;
  }

  /** Removes every listener added to the socket since it was handed out. */
  detach(): void {
    const socket = this.session.socket;
    for (const event of RELAY_EVENTS) {
      const keep = this.baseline.get(event)!;
      for (const listener of socket.listeners(event)) if (!keep.has(listener)) socket.off(event, listener as (...args: unknown[]) => void);
    }
  }
}

interface IdleBackend {
  readonly lease: BackendLease;
  readonly timer: NodeJS.Timeout;
  readonly onIdleEvent: () => void;
  readonly parkedAt: number;
}

/** One connection's pooled backends: idle ones by key (oldest first), and how many are being reset. */
interface Group {
  readonly idle: Map<string, IdleBackend[]>;
  readonly resetting: Map<string, number>;
  /** Idle and resetting, over every key. */
  size: number;
}

export class BackendPool {
  /** By connection name; kept once made (there are as many as configured connections). */
  private readonly groups = new Map<string, Group>();
  private closed = false;

  /** Wraps a freshly connected backend so it can come back here when its session ends. */
  adopt(group: string, key: string, settings: PoolSettings, session: BackendSession): BackendLease {
    return new BackendLease(group, key, settings, session, parseParameterStatus(session.parameterStatus));
  }

  /** An idle connection for `key`, ready for a new session, or null. Connections found dead are dropped. */
  take(group: string, key: string, settings: PoolSettings): BackendLease | null {
    const g = this.groups.get(group);
    const list = g?.idle.get(key);
    while (g !== undefined && list !== undefined && list.length > 0) {
      const entry = list.at(-1)!;
      this.remove(entry);
      const socket = entry.lease.socket;
      if (socket.destroyed || !socket.readable || !socket.writable || socket.readableEnded || socket.writableEnded || socket.readableLength > 0) {
        socket.destroy();
        continue;
      }
      const old = entry.lease.session;
      const session: BackendSession = {
        socket,
        parameterStatus: [...entry.lease.params].map(([name, value]) => encodeParameterStatus(name, value)),
        processId: old.processId,
        secretKey: old.secretKey,
        transactionStatus: 'I',
        leftover: EMPTY,
        notices: [],
      };
      return new BackendLease(group, key, settings, session, entry.lease.params);
    }
    return null;
  }

  /**
   * Takes back a connection whose session ended with the backend idle and between messages:
   * resets it (DISCARD ALL) and keeps it, or closes it if the pool is full or the reset fails.
   * When the connection's total is reached, its longest-idle backend (of any key) makes room.
   */
  release(lease: BackendLease, log: Logger): void {
    const socket = lease.socket;
    lease.detach();
    const g = this.group(lease.group);
    const forKey = (g.idle.get(lease.key)?.length ?? 0) + (g.resetting.get(lease.key) ?? 0);
    if (this.closed || forKey >= lease.settings.maxIdle || socket.destroyed || !socket.writable) {
      closeBackend(socket);
      return;
    }
    if (g.size >= lease.settings.maxIdleTotal) {
      const oldest = this.oldestIdle(g);
      if (!oldest) {
        closeBackend(socket);
        return;
      }
      this.remove(oldest);
      closeBackend(oldest.lease.socket);
    }
    g.resetting.set(lease.key, (g.resetting.get(lease.key) ?? 0) + 1);
    g.size++;
    resetBackend(lease, (err) => {
      const left = g.resetting.get(lease.key)! - 1;
      if (left === 0) g.resetting.delete(lease.key);
      else g.resetting.set(lease.key, left);
      g.size--;
      if (err !== null) {
        log.debug({ err }, 'backend connection not pooled: its reset failed');
        socket.destroy();
      } else if (this.closed) closeBackend(socket);
      else this.park(g, lease);
    });
  }

  /** Idle connections of one connection (of every connection without one). */
  idleCount(group?: string): number {
    let n = 0;
    for (const [name, g] of this.groups) {
      if (group !== undefined && name !== group) continue;
      for (const list of g.idle.values()) n += list.length;
    }
    return n;
  }

  /** Closes every idle connection; the pool keeps working. */
  drain(): void {
    for (const g of this.groups.values()) {
      for (const list of [...g.idle.values()]) {
        for (const entry of [...list]) {
          this.remove(entry);
          closeBackend(entry.lease.socket);
        }
      }
    }
  }

  /** Closes every idle connection, and every one returned from now on. */
  close(): void {
    this.closed = true;
    this.drain();
  }

  private group(name: string): Group {
    let g = this.groups.get(name);
    if (!g) this.groups.set(name, (g = { idle: new Map(), resetting: new Map(), size: 0 }));
    return g;
  }

  private oldestIdle(g: Group): IdleBackend | undefined {
    let oldest: IdleBackend | undefined;
    for (const list of g.idle.values()) if (list[0] && (!oldest || list[0].parkedAt < oldest.parkedAt)) oldest = list[0];
    return oldest;
  }

  private park(g: Group, lease: BackendLease): void {
    const socket = lease.socket;
    let entry: IdleBackend | undefined;
    // Anything from an idle backend (a FATAL before it exits, a notification) or its end: dropped.
    const onIdleEvent = (): void => {
      if (entry) this.remove(entry);
      socket.destroy();
    };
    const timer = setTimeout(() => {
      if (!entry) return;
      this.remove(entry);
      closeBackend(socket);
    }, lease.settings.idleTimeoutMs).unref();
    entry = { lease, timer, onIdleEvent, parkedAt: performance.now() };
    socket.on('data', onIdleEvent);
    socket.on('end', onIdleEvent);
    socket.on('close', onIdleEvent);
    socket.on('error', onIdleEvent);
    socket.resume();
    const list = g.idle.get(lease.key);
    if (list) list.push(entry);
    else g.idle.set(lease.key, [entry]);
    g.size++;
  }

  /** Takes an idle connection out of the pool (to use it or to close it); the caller owns its socket. */
  private remove(entry: IdleBackend): void {
    const socket = entry.lease.socket;
    clearTimeout(entry.timer);
    socket.pause();
    socket.off('data', entry.onIdleEvent);
    socket.off('end', entry.onIdleEvent);
    socket.off('close', entry.onIdleEvent);
    socket.off('error', entry.onIdleEvent);
    const g = this.groups.get(entry.lease.group);
    const list = g?.idle.get(entry.lease.key);
    const i = list ? list.indexOf(entry) : -1;
    if (!g || !list || i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) g.idle.delete(entry.lease.key);
    g.size--;
  }
}

/** name → value from encoded ParameterStatus messages ('S', Int32 length, CString name, CString value). */
function parseParameterStatus(messages: readonly Buffer[]): Map<string, string> {
  const params = new Map<string, string>();
  for (const m of messages) {
    const c = new Cursor(m.subarray(5), 'ParameterStatus');
    params.set(c.cstring(), c.cstring());
  }
  return params;
}

/**
 * Sends DISCARD ALL, then reads every current server parameter back, pipelined in one write.
 * DISCARD ALL resets what a session can leave behind: settings (RESET ALL), role and session
 * authorization, prepared statements, cursors, temporary tables, LISTEN, advisory locks, cached
 * plans and sequences. The parameters are read rather than only taken from what RESET ALL reports,
 * so one that changed without a SET during the session (in_hot_standby after a promotion) is right too.
 * Anything but exactly the expected answer ending at ReadyForQuery 'I' fails the reset.
 */
function resetBackend(lease: BackendLease, done: (err: string | null) => void): void {
  const socket = lease.socket;
  const names = [...lease.params.keys()];
  if (names.some((n) => !PLAIN_NAME.test(n))) return done('a server parameter has an unexpected name');
  const queries = [encodeQuery('DISCARD ALL')];
  if (names.length > 0) queries.push(encodeQuery(`SELECT ${names.map((n) => `pg_catalog.current_setting('${n}', true)`).join(', ')}`));
  let buffered: Buffer = EMPTY;
  let readies = 0;
  let rows = 0;
  let finished = false;
  const values = new Map<string, string>();

  const finish = (err: string | null): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('close', onEnd);
    socket.off('error', onError);
    socket.pause();
    if (err === null) for (const [name, value] of values) lease.params.set(name, value);
    done(err);
  };
  const onEnd = (): void => finish('the server closed the connection');
  const onError = (err: Error): void => finish(errorMessage(err));
  const onData = (chunk: Buffer): void => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    if (buffered.length > MAX_RESET_REPLY_BYTES) return finish('the reset answer is too large');
    try {
      while (buffered.length >= 5) {
        const length = buffered.readInt32BE(1);
        if (length < 4) return finish('invalid message length');
        if (buffered.length < 1 + length) return;
        const code = buffered[0]!;
        const body = buffered.subarray(5, 1 + length);
        buffered = buffered.subarray(1 + length);
        const err = onMessage(code, body);
        if (err !== null) return finish(err);
        if (readies === queries.length) return finish(buffered.length === 0 ? null : 'the server sent more than the reset asked for');
      }
    } catch (err) {
      finish(errorMessage(err));
    }
  };
  const onMessage = (code: number, body: Buffer): string | null => {
    switch (code) {
      case Backend.parameterStatus: {
        const c = new Cursor(body, 'ParameterStatus');
        values.set(c.cstring(), c.cstring());
        return null;
      }
      case Backend.noticeResponse:
      case Backend.notificationResponse:
        return null;
      case Backend.errorResponse: {
        const f = decodeErrorFields(body);
        return `${f.get(ErrorField.code) ?? '?'}: ${f.get(ErrorField.message) ?? ''}`;
      }
      case Backend.commandComplete: {
        const tag = decodeCommandComplete(body);
        const expected = readies === 0 ? 'DISCARD ALL' : 'SELECT 1';
        return tag === expected && (readies === 0 || rows === 1) ? null : `unexpected command tag ${tag}`;
      }
      case Backend.rowDescription:
        return readies === 1 ? null : 'unexpected RowDescription';
      case Backend.dataRow: {
        if (readies !== 1 || rows++ > 0) return 'unexpected DataRow';
        const c = new Cursor(body, 'DataRow');
        if (c.int16() !== names.length) return 'unexpected column count';
        for (const name of names) {
          const len = c.int32();
          // NULL: the server no longer knows the parameter; the last reported value stays.
          if (len >= 0) values.set(name, c.bytes(len).toString('utf8'));
        }
        return null;
      }
      case Backend.readyForQuery:
        readies++;
        return body.length === 1 && body[0] === 0x49 ? null : 'the server is not idle after the reset';
      default:
        return `unexpected message ${codeName(code)}`;
    }
  };

  const timer = setTimeout(() => finish('the reset timed out'), RESET_TIMEOUT_MS).unref();
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('close', onEnd);
  socket.on('error', onError);
  socket.write(Buffer.concat(queries));
  socket.resume();
}
