/**
 * The embedded database of `hoop demo`: PGlite (PostgreSQL compiled to WebAssembly) served over the
 * real PostgreSQL wire protocol on a loopback port, so the gateway talks to it exactly as it talks
 * to any PostgreSQL server and the demo needs no PostgreSQL installed.
 *
 * Why not @electric-sql/pglite-socket's PGLiteSocketServer: PGlite is ONE backend session, and
 * that server multiplexes connections onto it one protocol message at a time, which goes wrong in
 * ways the demo would hit (all found against pglite-socket 0.2.17):
 * - `\copy … from` (COPY FROM STDIN) kills PGlite itself: the backend reads past the single
 *   Query message it was given, sees EOF, raises FATAL and the WebAssembly program exits;
 *   after that its queue stays marked busy and every later connection hangs.
 * - an extended-protocol exchange (Parse … Sync) that arrives in more than one TCP segment is
 *   split by other clients' messages, which replace its unnamed statement and portal ("portal \"\"
 *   does not exist"); named statements of different clients collide ("prepared statement \"S_1\"
 *   already exists").
 * - a CancelRequest leaves the connection open, so a client waiting for the hang-up waits for its
 *   own timeout; more clients than maxConnections get a non-protocol text line.
 * So this module keeps PGlite and its protocol engine, and schedules whole exchanges instead of
 * messages, owning the session for a client while it is in a transaction, a COPY, or a Parse…Sync
 * exchange.
 *
 * What a single session still cannot hide: connections share session state (SET, temporary
 * tables, SQL-level PREPARE, LISTEN), a client idle in a transaction stalls every other client
 * until it commits, and every statement runs synchronously on this thread, so a slow one (even
 * pg_sleep) stalls the event loop of the whole process; statement_timeout never fires.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { PGlite } from '@electric-sql/pglite';
import { demoSql } from './schema.js';

export interface DemoDatabase {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  close(): Promise<void>;
}

/** The gateway opens one backend connection per client session; this is plenty for a demo and
 * keeps a runaway client from exhausting file descriptors. */
const MAX_CONNECTIONS = 64;
const HOST = '127.0.0.1';
const PROBE_SAVEPOINT = 'hoop_demo_copy_probe';

/** Starts PGlite (in memory, or in dataDir when given), loads the demo schema and data, serves it on 127.0.0.1 on a free port. */
export async function startDemoDatabase(opts: { dataDir?: string } = {}): Promise<DemoDatabase> {
  const db = await PGlite.create(opts.dataDir ? { dataDir: opts.dataDir } : {});
  try {
    const { rows } = await db.query<{ database: string; user: string; loaded: string | null }>(
      `SELECT current_database() AS database, current_user AS "user", to_regclass('public.customers')::text AS loaded`,
    );
    const info = rows[0];
    if (!info) throw new Error('PGlite did not answer a trivial query');
    // A dataDir from an earlier run already holds the (identical, deterministic) data.
    if (info.loaded === null) await db.exec(demoSql());
    const server = new WireServer(db, await captureStartupReply(db, info.user, info.database));
    const port = await server.listen(HOST);
    return { host: HOST, port, database: info.database, user: info.user, close: () => server.close() };
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
}

// ---- Wire format helpers ----

const Z = 0x5a; // ReadyForQuery
const COPY_IN_RESPONSE = 0x47; // 'G'

function message(type: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.alloc(5 + body.length);
  out[0] = type.charCodeAt(0);
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

function cstring(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
}

function queryMessage(sql: string): Buffer {
  return message('Q', cstring(sql));
}

const SYNC = message('S');
/** Appended after client messages so that a COPY FROM STDIN the backend enters unexpectedly fails
 * with an error instead of reading EOF, which in PGlite is FATAL and ends the WebAssembly program.
 * Outside COPY the backend ignores CopyFail, as the protocol says it must. */
const COPY_FAIL = message('f', cstring('COPY FROM STDIN is only supported as a simple Query'));

function errorResponse(severity: 'FATAL' | 'ERROR', code: string, text: string): Buffer {
  return message('E', Buffer.concat([cstring(`S${severity}`), cstring(`V${severity}`), cstring(`C${code}`), cstring(`M${text}`), Buffer.from([0])]));
}

interface BackendMessage {
  type: number;
  start: number;
  end: number;
}

function* backendMessages(buf: Buffer): Generator<BackendMessage> {
  let off = 0;
  while (off + 5 <= buf.length) {
    const end = off + 1 + buf.readInt32BE(off + 1);
    if (end > buf.length) return;
    yield { type: buf[off]!, start: off, end };
    off = end;
  }
}

/** Offset just past the first message of `type`, or -1. */
function endOfFirst(buf: Buffer, type: number): number {
  for (const m of backendMessages(buf)) if (m.type === type) return m.end;
  return -1;
}

function lastReadyStatus(buf: Buffer): string | undefined {
  let status: string | undefined;
  for (const m of backendMessages(buf)) if (m.type === Z) status = String.fromCharCode(buf[m.start + 5]!);
  return status;
}

function readCString(buf: Buffer, off: number): { value: string; end: number } {
  const nul = buf.indexOf(0, off);
  if (nul < 0) throw new ProtocolViolation('unterminated string in message');
  return { value: buf.toString('utf8', off, nul), end: nul + 1 };
}

class ProtocolViolation extends Error {}

/**
 * The reply PGlite gives a StartupMessage (AuthenticationOk and its ParameterStatus list), minus
 * BackendKeyData and ReadyForQuery: every client gets these two from us, because the real
 * ReadyForQuery would report whatever transaction another client has open at that moment.
 */
async function captureStartupReply(db: PGlite, user: string, database: string): Promise<Buffer> {
  const params = Buffer.concat([cstring('user'), cstring(user), cstring('database'), cstring(database), Buffer.from([0])]);
  const packet = Buffer.alloc(8 + params.length);
  packet.writeInt32BE(packet.length, 0);
  packet.writeInt32BE(196608, 4);
  params.copy(packet, 8);
  const reply = Buffer.from(await db.runExclusive(() => db.execProtocolRaw(packet)));
  const kept = [...backendMessages(reply)].filter((m) => m.type === 0x52 || m.type === 0x53).map((m) => reply.subarray(m.start, m.end));
  if (kept[0]?.[0] !== 0x52) throw new Error('PGlite did not answer the startup message with AuthenticationOk');
  return Buffer.concat(kept);
}

// ---- Connections ----

/** A piece of work that must run on the backend without another client's messages in between. */
type Unit =
  | { kind: 'query'; message: Buffer; sql: string }
  | { kind: 'extended'; messages: Buffer[]; sync: boolean }
  | { kind: 'copy'; messages: Buffer[] }
  | { kind: 'function'; message: Buffer }
  | { kind: 'cleanup' };

class Connection {
  phase: 'startup' | 'ready' | 'closed' = 'startup';
  /** Work received and not yet run, in order. */
  units: Unit[] = [];
  /** In the server's ready list. */
  queued = false;
  /** Extended-protocol messages waiting for the Sync or Flush that ends their exchange. */
  extended: Buffer[] = [];
  /** The backend holds part of an exchange of ours (sent with Flush, not yet Sync'ed). */
  extendedOpen = false;
  /** Set between CopyInResponse and CopyDone/CopyFail: the COPY Query and the data so far. */
  copy: { query: Buffer; data: Buffer[] } | null = null;
  /** Our named prepared statements, to close when we leave: the session outlives us. */
  readonly statements = new Set<string>();
  private pending: Buffer = Buffer.alloc(0);
  private readonly namePrefix: string;

  constructor(
    readonly id: number,
    readonly socket: net.Socket,
    private readonly server: WireServer,
  ) {
    this.namePrefix = `c${id}_`;
  }

  write(data: Buffer): void {
    if (this.phase !== 'closed' && data.length > 0 && !this.socket.destroyed) this.socket.write(data);
  }

  fatal(code: string, text: string): void {
    this.write(errorResponse('FATAL', code, text));
    this.socket.end();
    this.phase = 'closed';
  }

  onData(chunk: Buffer): void {
    let buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    let off = 0;
    try {
      while (this.phase !== 'closed') {
        if (this.phase === 'startup') {
          if (buf.length - off < 4) break;
          const len = buf.readInt32BE(off);
          if (len < 8 || len > 10_000) throw new ProtocolViolation('invalid length of startup packet');
          if (buf.length - off < len) break;
          this.onStartupPacket(buf.subarray(off, off + len));
          off += len;
        } else {
          if (buf.length - off < 5) break;
          const len = buf.readInt32BE(off + 1);
          if (len < 4) throw new ProtocolViolation('invalid message length');
          if (buf.length - off < 1 + len) break;
          this.onMessage(buf.subarray(off, off + 1 + len));
          off += 1 + len;
        }
      }
    } catch (err) {
      // Whatever a client sends must never throw out of a socket handler and take the process down.
      this.fatal('08P01', err instanceof ProtocolViolation ? err.message : `malformed message: ${String(err)}`);
      return;
    }
    // Copy the leftover: holding a view would pin the whole chunk it came from.
    buf = buf.subarray(off);
    this.pending = buf.length > 0 ? Buffer.from(buf) : Buffer.alloc(0);
  }

  private onStartupPacket(packet: Buffer): void {
    const code = packet.readInt32BE(4);
    if (packet.length === 8 && (code === 80877103 || code === 80877104)) {
      // SSLRequest / GSSENCRequest: no encryption on a loopback demo, and clients fall back.
      this.socket.write('N');
      return;
    }
    if (packet.length === 16 && code === 80877102) {
      // CancelRequest. Statements run synchronously on this thread, so none can be running while
      // we read this; hanging up is exactly what PostgreSQL does once it has taken the request.
      this.socket.destroy();
      this.phase = 'closed';
      return;
    }
    const major = code >>> 16;
    const minor = code & 0xffff;
    if (major !== 3) {
      this.fatal('0A000', `unsupported frontend protocol ${major}.${minor}: server supports 3.0`);
      return;
    }
    const unknownOptions: string[] = [];
    for (let off = 8; off < packet.length && packet[off] !== 0; ) {
      const name = readCString(packet, off);
      const value = readCString(packet, name.end);
      if (name.value.startsWith('_pq_.')) unknownOptions.push(name.value);
      off = value.end;
    }
    // Every other parameter (user, database, application_name, options…) is accepted and ignored,
    // as PGlite itself does: it has one user and one database, and applies none of them.
    if (this.server.connectionCount > MAX_CONNECTIONS) {
      this.fatal('53300', 'sorry, too many clients already');
      return;
    }
    const reply: Buffer[] = [];
    if (minor > 0 || unknownOptions.length > 0) {
      const body = Buffer.alloc(8);
      body.writeInt32BE(0, 0);
      body.writeInt32BE(unknownOptions.length, 4);
      reply.push(message('v', Buffer.concat([body, ...unknownOptions.map(cstring)])));
    }
    const key = Buffer.alloc(8);
    key.writeInt32BE(this.id, 0);
    randomBytes(4).copy(key, 4);
    reply.push(this.server.startupReply, message('K', key), message('Z', Buffer.from('I')));
    this.phase = 'ready';
    this.write(Buffer.concat(reply));
  }

  private onMessage(msg: Buffer): void {
    const type = String.fromCharCode(msg[0]!);
    switch (type) {
      case 'P':
      case 'B':
      case 'D':
      case 'E':
      case 'C':
        this.extended.push(this.renameStatements(msg));
        return;
      case 'S':
      case 'H':
        this.extended.push(msg);
        this.flushExtended(type === 'S');
        return;
    }
    this.flushExtended(false);
    switch (type) {
      case 'Q':
        this.server.enqueue(this, { kind: 'query', message: msg, sql: readCString(msg, 5).value });
        return;
      case 'd':
      case 'c':
      case 'f': {
        const last = this.units[this.units.length - 1];
        // One unit per chunk, not per row: psql sends a CopyData per line.
        if (last?.kind === 'copy') last.messages.push(msg);
        else this.server.enqueue(this, { kind: 'copy', messages: [msg] });
        return;
      }
      case 'F':
        this.server.enqueue(this, { kind: 'function', message: msg });
        return;
      case 'X':
        this.socket.end();
        this.phase = 'closed';
        return;
      default:
        // Never pass these on: PostgreSQL answers them with FATAL, which would end PGlite.
        throw new ProtocolViolation(`invalid frontend message type ${msg[0]}`);
    }
  }

  private flushExtended(sync: boolean): void {
    if (this.extended.length === 0) return;
    this.server.enqueue(this, { kind: 'extended', messages: this.extended, sync });
    this.extended = [];
  }

  /**
   * Gives named statements and portals a per-connection prefix: they live in the one shared
   * session, where two clients' "S_1" (pgjdbc) or "__asyncpg_stmt_1__" would otherwise collide.
   * The unnamed ones stay unnamed; they are safe because exchanges never interleave.
   */
  private renameStatements(msg: Buffer): Buffer {
    const type = String.fromCharCode(msg[0]!);
    const parts: Buffer[] = [];
    let off = 5;
    const name = (kind: 'S' | 'P'): void => {
      const s = readCString(msg, off);
      off = s.end;
      if (kind === 'S' && type === 'P' && s.value !== '') this.statements.add(s.value);
      if (kind === 'S' && type === 'C' && s.value !== '') this.statements.delete(s.value);
      parts.push(cstring(s.value === '' ? '' : this.namePrefix + s.value));
    };
    const kindByte = (): 'S' | 'P' => {
      const k = msg[off];
      if (k !== 0x53 && k !== 0x50) throw new ProtocolViolation(`invalid ${type} message target`);
      parts.push(msg.subarray(off, off + 1));
      off += 1;
      return k === 0x53 ? 'S' : 'P';
    };
    if (type === 'P') name('S');
    else if (type === 'B') {
      name('P');
      name('S');
    } else if (type === 'E') name('P');
    else name(kindByte());
    parts.push(msg.subarray(off));
    return message(type, Buffer.concat(parts));
  }

  closeStatementsMessage(): Buffer | null {
    if (this.statements.size === 0) return null;
    const closes = [...this.statements].map((s) => message('C', Buffer.concat([Buffer.from('S'), cstring(this.namePrefix + s)])));
    return Buffer.concat([...closes, SYNC]);
  }
}

// ---- Server and scheduler ----

class WireServer {
  private readonly server = net.createServer({ noDelay: true });
  private readonly connections = new Set<Connection>();
  private readonly ready: Connection[] = [];
  /** The client the session belongs to until it leaves its transaction, COPY or exchange. */
  private owner: Connection | null = null;
  /** Transaction status from the backend's last ReadyForQuery. */
  private txStatus = 'I';
  private running = false;
  private pumping: Promise<void> = Promise.resolve();
  private stopped = false;
  private failure: string | null = null;
  private closing: Promise<void> | null = null;
  private nextId = 1;

  constructor(
    private readonly db: PGlite,
    readonly startupReply: Buffer,
  ) {
    this.server.on('connection', (socket) => this.accept(socket));
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  listen(host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, host, () => {
        this.server.off('error', reject);
        const address = this.server.address();
        if (address === null || typeof address === 'string') reject(new Error('demo database: no TCP address'));
        else resolve(address.port);
      });
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stopped = true;
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      for (const c of this.connections) c.socket.destroy();
      await closed;
      // A unit may be between its exec and its write; let it finish before the database goes.
      await this.pumping;
      await this.db.close().catch(() => {});
    })();
    return this.closing;
  }

  private accept(socket: net.Socket): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    const conn = new Connection(this.nextId++, socket, this);
    this.connections.add(conn);
    if (this.failure !== null) {
      conn.fatal('57P01', this.failure);
      return;
    }
    socket.on('data', (chunk: Buffer) => conn.onData(chunk));
    // 'close' always follows 'error'; all the handling is there.
    socket.on('error', () => {});
    socket.on('close', () => this.onClose(conn));
  }

  private onClose(conn: Connection): void {
    const wasReady = conn.phase !== 'startup';
    conn.phase = 'closed';
    this.connections.delete(conn);
    // Messages already received still run, as in PostgreSQL; then whatever the client left in the
    // shared session (transaction, open exchange, prepared statements) goes.
    if (wasReady) this.enqueue(conn, { kind: 'cleanup' });
  }

  enqueue(conn: Connection, unit: Unit): void {
    conn.units.push(unit);
    if (!conn.queued) {
      conn.queued = true;
      this.ready.push(conn);
    }
    if (!this.running) {
      this.running = true;
      this.pumping = this.pump();
    }
  }

  private next(): Connection | undefined {
    if (this.owner) return this.owner.units.length > 0 ? this.owner : undefined;
    for (let c = this.ready.shift(); c; c = this.ready.shift()) {
      c.queued = false;
      if (c.units.length > 0) return c;
    }
    return undefined;
  }

  private async pump(): Promise<void> {
    for (;;) {
      const conn = this.stopped || this.failure !== null ? undefined : this.next();
      if (!conn) {
        // Cleared here, synchronously with finding no work, so an enqueue can never be missed.
        this.running = false;
        return;
      }
      const unit = conn.units.shift()!;
      try {
        await this.run(conn, unit);
      } catch (err) {
        this.fail(err);
        continue;
      }
      if (unit.kind === 'cleanup') {
        if (this.owner === conn) this.owner = null;
      } else {
        this.owner = conn.copy || conn.extendedOpen || this.txStatus !== 'I' ? conn : null;
      }
      if (conn.units.length > 0 && !conn.queued) {
        conn.queued = true;
        this.ready.push(conn);
      }
      // Each exec is synchronous WebAssembly; let sockets and timers breathe between units.
      await nextTurn();
    }
  }

  /** PGlite threw: its WebAssembly program has most likely exited and nothing will work again. */
  private fail(err: unknown): void {
    this.failure = `the embedded demo database stopped: ${err instanceof Error ? err.message : String(err)}`;
    for (const c of this.connections) if (c.phase !== 'closed') c.fatal('57P01', this.failure);
  }

  private async exec(bytes: Buffer): Promise<Buffer> {
    const out = Buffer.from(await this.db.runExclusive(() => this.db.execProtocolRaw(bytes)));
    this.txStatus = lastReadyStatus(out) ?? this.txStatus;
    return out;
  }

  private async run(conn: Connection, unit: Unit): Promise<void> {
    switch (unit.kind) {
      case 'query':
        if (COPY_FROM_STDIN.test(unit.sql)) await this.runCopyProbe(conn, unit.message);
        else conn.write(await this.exec(Buffer.concat([unit.message, COPY_FAIL])));
        return;
      case 'function':
        conn.write(await this.exec(unit.message));
        return;
      case 'extended': {
        // Sync and Flush are ignored during COPY, as PostgreSQL does.
        if (conn.copy && unit.messages.every((m) => m[0] === 0x53 || m[0] === 0x48)) return;
        let out = await this.exec(Buffer.concat([...unit.messages, COPY_FAIL]));
        // COPY FROM STDIN via Execute met our CopyFail; the error skipped the client's Sync, so
        // the backend waits for one before it will take anybody's next message.
        if (unit.sync && endOfFirst(out, COPY_IN_RESPONSE) >= 0) out = Buffer.concat([out, await this.exec(SYNC)]);
        conn.extendedOpen = !unit.sync;
        conn.write(out);
        return;
      }
      case 'copy':
        await this.runCopyData(conn, unit.messages);
        return;
      case 'cleanup': {
        if (conn.extendedOpen) await this.exec(SYNC);
        if (this.owner === conn && this.txStatus !== 'I') await this.exec(queryMessage('ROLLBACK'));
        const closes = conn.closeStatementsMessage();
        if (closes) await this.exec(closes);
        return;
      }
    }
  }

  /**
   * PGlite cannot wait for COPY data: one exec must carry the COPY and all of its data. So the
   * COPY runs once with a CopyFail behind it, which tells whether it is a COPY FROM STDIN and
   * yields the exact CopyInResponse to give the client; the data is then collected and the COPY
   * run for real in one go (runCopyData). Inside a transaction a savepoint keeps the probe's
   * error from aborting it.
   */
  private async runCopyProbe(conn: Connection, query: Buffer): Promise<void> {
    const before = this.txStatus;
    if (before === 'T') await this.exec(queryMessage(`SAVEPOINT ${PROBE_SAVEPOINT}`));
    const probe = await this.exec(Buffer.concat([query, COPY_FAIL]));
    const copyIn = endOfFirst(probe, COPY_IN_RESPONSE);
    if (copyIn < 0) {
      // Not a COPY FROM STDIN after all ("stdin" in a string, or COPY TO STDOUT): that was the
      // real execution.
      if (before === 'T' && this.txStatus === 'T') await this.exec(queryMessage(`RELEASE SAVEPOINT ${PROBE_SAVEPOINT}`));
      conn.write(probe);
      return;
    }
    if (before === 'T') await this.exec(queryMessage(`ROLLBACK TO SAVEPOINT ${PROBE_SAVEPOINT}; RELEASE SAVEPOINT ${PROBE_SAVEPOINT}`));
    else if (this.txStatus !== 'I') await this.exec(queryMessage('ROLLBACK')); // e.g. "BEGIN; COPY …" in one Query
    conn.copy = { query, data: [] };
    conn.write(probe.subarray(0, copyIn));
  }

  private async runCopyData(conn: Connection, messages: Buffer[]): Promise<void> {
    const copy = conn.copy;
    // Outside COPY the protocol says to ignore these (they trail a COPY that failed early).
    if (!copy) return;
    for (const msg of messages) {
      if (msg[0] === 0x64) {
        copy.data.push(msg);
        continue;
      }
      conn.copy = null;
      const out = await this.exec(Buffer.concat([copy.query, ...copy.data, msg]));
      // The client has had its CopyInResponse (and whatever preceded it) from the probe.
      const after = endOfFirst(out, COPY_IN_RESPONSE);
      conn.write(after < 0 ? out : out.subarray(after));
      return;
    }
  }
}

/** A superset of the Queries that can start COPY FROM STDIN; false positives only cost a probe. */
const COPY_FROM_STDIN = /\bcopy\b[\s\S]*\bstdin\b/i;
