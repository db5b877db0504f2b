import { createHash } from 'node:crypto';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { PgBackendError, PgMessageTooLargeError, PgProtocolError } from './errors.js';
import { AuthCode, Backend, codeName, ErrorField } from './messages.js';
import { Cursor, decodeBackendKeyData, decodeErrorFields } from './reader.js';
import {
  type ClientFirst,
  clientFinalMessage,
  clientFirstMessage,
  generateNonce,
  parseServerFirst,
  saltPassword,
  SCRAM_SHA_256,
  SCRAM_SHA_256_PLUS,
  verifyServerFinal,
} from './scram.js';
import {
  encodeCancelRequest,
  encodePasswordMessage,
  encodeSaslInitialResponse,
  encodeSaslResponse,
  encodeSslRequest,
  encodeStartupMessage,
} from './writer.js';

/** How to reach and log in to the real PostgreSQL server; credentials live only here, in the gateway. */
export interface BackendTarget {
  readonly host: string;
  readonly port: number;
  readonly tls: 'disable' | 'require' | 'verify-full';
  /** PEM CA bundle for verify-full; the system roots when absent. */
  readonly ca?: string;
}

export interface BackendConnectOptions extends BackendTarget {
  readonly database: string;
  readonly user: string;
  readonly password?: string;
  /** Extra startup parameters passed on from the client (application_name, client_encoding, DateStyle, options…). */
  readonly startupParams: Readonly<Record<string, string>>;
  readonly connectTimeoutMs?: number;
  readonly maxMessageBytes: number;
}

export interface BackendSession {
  /** The connected socket (net.Socket or tls.TLSSocket), paused, positioned right after the first ReadyForQuery. */
  readonly socket: Duplex;
  /** ParameterStatus messages received during startup, already encoded, in order: relayed to the client verbatim. */
  readonly parameterStatus: readonly Buffer[];
  readonly processId: number;
  readonly secretKey: Buffer;
  /** Transaction status from the first ReadyForQuery ('I'). */
  readonly transactionStatus: 'I' | 'T' | 'E';
  /** Bytes that arrived after ReadyForQuery in the same read (normally empty); the relay handles them first. */
  readonly leftover: Buffer;
  /** NoticeResponse messages received during startup, encoded, to relay. */
  readonly notices: readonly Buffer[];
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** How long cancelBackend waits for the server to hang up before assuming the request was taken. */
const CANCEL_LINGER_MS = 5_000;

// SQLSTATEs for failures the gateway detects itself (the server's own are passed on unchanged).
const SQLSTATE_CANNOT_CONNECT = '08001';
const SQLSTATE_CONNECTION_FAILURE = '08006';
const SQLSTATE_PROTOCOL_VIOLATION = '08P01';
const SQLSTATE_REJECTED = '08004';
const SQLSTATE_INVALID_AUTHORIZATION = '28000';

/**
 * Opens a backend connection: TCP, TLS per `tls`, StartupMessage, authentication (trust, cleartext,
 * MD5, SCRAM-SHA-256), and waits for the first ReadyForQuery. Rejects with PgBackendError.
 *
 * `connectTimeoutMs` bounds the whole exchange, not just TCP: a server that accepts and then stalls
 * must not hold a client's session open forever. The resolved socket keeps a no-op 'error' listener
 * so a reset between this hand-off and the relay attaching its own listeners cannot crash the process.
 */
export async function connectBackend(opts: BackendConnectOptions): Promise<BackendSession> {
  const where = `${opts.host}:${opts.port}`;
  const startup = buildStartupParams(opts);
  const conn = new Conn();
  try {
    return await withDeadline(opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, `connecting to ${where}`, async () => {
      const socket = await openTransport(opts, conn);
      const stream = new StartupStream(socket, opts.maxMessageBytes, where);
      socket.write(encodeStartupMessage(startup));
      return await runStartup(opts, socket, stream);
    });
  } catch (err) {
    conn.destroy();
    throw asBackendError(err, where);
  }
}

/**
 * Sends a CancelRequest for a backend process on a fresh connection (TLS as configured).
 * The server never answers a CancelRequest; it just closes, so we wait for that (or a short linger)
 * to know the packet was read before we drop the connection.
 */
export async function cancelBackend(target: BackendTarget, processId: number, secretKey: Buffer): Promise<void> {
  const where = `${target.host}:${target.port}`;
  const conn = new Conn();
  try {
    await withDeadline(DEFAULT_CONNECT_TIMEOUT_MS, `sending a cancel request to ${where}`, async () => {
      const socket = await openTransport(target, conn);
      await new Promise<void>((resolve, reject) => {
        const linger = setTimeout(done, CANCEL_LINGER_MS);
        function done(): void {
          clearTimeout(linger);
          socket.off('error', onError);
          resolve();
        }
        function onError(err: Error): void {
          clearTimeout(linger);
          reject(err);
        }
        socket.once('error', onError);
        socket.once('close', done);
        // The server sends nothing back; reading keeps the socket flowing so 'close' can fire.
        socket.on('data', () => {});
        socket.write(encodeCancelRequest(processId, secretKey));
      });
    });
  } catch (err) {
    throw asBackendError(err, where);
  } finally {
    conn.destroy();
  }
}

// ---- Transport ----

/** The sockets opened so far, for the failure path to destroy. */
class Conn {
  raw: net.Socket | null = null;
  secure: tls.TLSSocket | null = null;

  destroy(): void {
    this.secure?.destroy();
    this.raw?.destroy();
  }
}

async function openTransport(target: BackendTarget, conn: Conn): Promise<net.Socket> {
  const where = `${target.host}:${target.port}`;
  const raw = net.connect({ host: target.host, port: target.port });
  conn.raw = raw;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void =>
      reject(new PgBackendError(`could not connect to PostgreSQL at ${where}: ${err.message}`, SQLSTATE_CANNOT_CONNECT, { cause: err }));
    raw.once('error', onError);
    raw.once('connect', () => {
      raw.off('error', onError);
      resolve();
    });
  });
  raw.setNoDelay(true);
  if (target.tls === 'disable') return raw;

  raw.write(encodeSslRequest());
  const answer = await readSslAnswer(raw, where);
  if (answer !== 0x53) {
    throw new PgBackendError(
      `PostgreSQL at ${where} does not support TLS (it answered the SSLRequest with ${codeName(answer)}), but tls is '${target.tls}'`,
      SQLSTATE_CANNOT_CONNECT,
    );
  }
  const verify = target.tls === 'verify-full';
  const secure = tls.connect({
    socket: raw,
    host: target.host,
    // SNI may not carry an IP address (RFC 6066); the identity check still uses `host`.
    ...(net.isIP(target.host) === 0 ? { servername: target.host } : {}),
    ...(verify && target.ca !== undefined ? { ca: target.ca } : {}),
    rejectUnauthorized: verify,
  });
  conn.secure = secure;
  // From here the TLS socket owns the connection and reports its errors; the bare TCP socket must
  // still never emit an unhandled 'error', which would take the whole gateway down.
  raw.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void =>
      reject(new PgBackendError(`TLS handshake with PostgreSQL at ${where} failed: ${err.message}`, SQLSTATE_CANNOT_CONNECT, { cause: err }));
    secure.once('error', onError);
    secure.once('secureConnect', () => {
      secure.off('error', onError);
      resolve();
    });
  });
  return secure;
}

/**
 * The answer to SSLRequest is a single unframed byte: 'S' (go ahead with TLS) or 'N' (no TLS);
 * a server too old to know SSLRequest sends an ErrorResponse instead.
 */
function readSslAnswer(socket: net.Socket, where: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      cleanup();
      const answer = chunk[0]!;
      // Anything after 'S' arrived before the handshake, unencrypted and unauthenticated: a
      // man-in-the-middle could use it to inject messages into the session (CVE-2021-23222).
      if (answer === 0x53 && chunk.length > 1) {
        reject(new PgProtocolError(`PostgreSQL at ${where} sent unencrypted bytes after agreeing to TLS`));
      } else resolve(answer);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onClose = (): void => {
      cleanup();
      reject(new PgBackendError(`PostgreSQL at ${where} closed the connection in answer to the SSLRequest`, SQLSTATE_CONNECTION_FAILURE));
    };
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('close', onClose);
  });
}

// ---- Startup ----

/** Client parameters first, so the configured user and database always win. */
function buildStartupParams(opts: BackendConnectOptions): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(opts.startupParams)) {
    // `_pq_.` options negotiate protocol extensions the relay does not parse.
    if (name === 'user' || name === 'database' || name.startsWith('_pq_.')) continue;
    params[name] = value;
  }
  params.user = opts.user;
  params.database = opts.database;
  for (const [name, value] of Object.entries(params)) {
    // A NUL would end the C string early and let the rest be read as further parameters.
    if (name === '' || name.includes('\0') || value.includes('\0')) {
      throw new PgBackendError(`startup parameter ${JSON.stringify(name)} contains a NUL byte or is empty`, SQLSTATE_PROTOCOL_VIOLATION);
    }
  }
  return params;
}

async function runStartup(opts: BackendConnectOptions, socket: net.Socket, stream: StartupStream): Promise<BackendSession> {
  const where = `${opts.host}:${opts.port}`;
  const parameterStatus: Buffer[] = [];
  const notices: Buffer[] = [];
  let key: { processId: number; secretKey: Buffer } | null = null;
  let authenticated = false;
  /** Set once SCRAM started; AuthenticationOk before the server signature checked out is refused. */
  let scram: { first: ClientFirst; expectedSignature: Buffer | null; verified: boolean } | null = null;

  const needPassword = (): string => {
    if (opts.password === undefined || opts.password === '') {
      throw new PgBackendError(
        `PostgreSQL at ${where} asked for a password for user "${opts.user}", but none is configured for this connection`,
        SQLSTATE_INVALID_AUTHORIZATION,
      );
    }
    if (opts.password.includes('\0')) {
      throw new PgBackendError(`the password configured for user "${opts.user}" contains a NUL byte`, SQLSTATE_INVALID_AUTHORIZATION);
    }
    return opts.password;
  };

  for (;;) {
    const { code, body, frame } = await stream.next();
    switch (code) {
      case Backend.errorResponse:
        throw serverError(body, where);
      case Backend.noticeResponse:
        notices.push(Buffer.from(frame));
        break;
      case Backend.negotiateProtocolVersion:
        // Only a rejection of `_pq_.` options (none are sent) or of a newer minor version (3.0 is
        // requested): nothing to change, the session carries on with 3.0.
        break;
      case Backend.authentication: {
        if (authenticated) throw new PgProtocolError('server sent an authentication request after AuthenticationOk');
        const c = new Cursor(body, 'Authentication');
        const kind = c.int32();
        switch (kind) {
          case AuthCode.ok:
            if (scram !== null && !scram.verified) {
              throw new PgBackendError(
                `PostgreSQL at ${where} accepted the login without completing SCRAM (no server signature); refusing the connection`,
                SQLSTATE_INVALID_AUTHORIZATION,
              );
            }
            authenticated = true;
            break;
          case AuthCode.cleartextPassword:
            socket.write(encodePasswordMessage(needPassword()));
            break;
          case AuthCode.md5Password: {
            // AuthenticationMD5Password: Int32 5, Byte4 salt.
            const salt = c.bytes(4);
            socket.write(encodePasswordMessage(md5Password(opts.user, needPassword(), salt)));
            break;
          }
          case AuthCode.sasl: {
            // AuthenticationSASL: Int32 10, then CString mechanism names, ended by an empty string.
            const mechanisms: string[] = [];
            for (let m = c.cstring(); m !== ''; m = c.cstring()) mechanisms.push(m);
            if (scram !== null) throw new PgProtocolError('server restarted SASL authentication');
            if (!mechanisms.includes(SCRAM_SHA_256)) {
              const only = mechanisms.includes(SCRAM_SHA_256_PLUS) ? ' (channel binding only, which hoop does not support)' : '';
              throw new PgBackendError(
                `PostgreSQL at ${where} offers SASL mechanisms ${mechanisms.join(', ') || '(none)'}${only}; hoop supports ${SCRAM_SHA_256}`,
                SQLSTATE_INVALID_AUTHORIZATION,
              );
            }
            needPassword();
            // PostgreSQL ignores the SCRAM user name (the startup user counts), so it stays empty.
            const first = clientFirstMessage(generateNonce());
            scram = { first, expectedSignature: null, verified: false };
            socket.write(encodeSaslInitialResponse(SCRAM_SHA_256, Buffer.from(first.message, 'utf8')));
            break;
          }
          case AuthCode.saslContinue: {
            if (scram === null || scram.expectedSignature !== null) {
              throw new PgProtocolError('server sent AuthenticationSASLContinue out of turn');
            }
            // AuthenticationSASLContinue: Int32 11, then the server-first-message.
            const server = parseServerFirst(c.rest().toString('utf8'), scram.first.nonce);
            const salted = await saltPassword(needPassword(), server.salt, server.iterations);
            const final = clientFinalMessage(salted, scram.first, server);
            scram.expectedSignature = final.expectedServerSignature;
            socket.write(encodeSaslResponse(Buffer.from(final.message, 'utf8')));
            break;
          }
          case AuthCode.saslFinal: {
            if (scram === null || scram.expectedSignature === null || scram.verified) {
              throw new PgProtocolError('server sent AuthenticationSASLFinal out of turn');
            }
            // AuthenticationSASLFinal: Int32 12, then the server-final-message.
            verifyServerFinal(c.rest().toString('utf8'), scram.expectedSignature);
            scram.verified = true;
            break;
          }
          default:
            throw new PgBackendError(
              `PostgreSQL at ${where} asked for ${authName(kind)} authentication for user "${opts.user}"; hoop supports trust, password, md5 and ${SCRAM_SHA_256}`,
              SQLSTATE_INVALID_AUTHORIZATION,
            );
        }
        break;
      }
      case Backend.parameterStatus:
        if (!authenticated) throw new PgProtocolError('server sent ParameterStatus before AuthenticationOk');
        parameterStatus.push(Buffer.from(frame));
        break;
      case Backend.backendKeyData:
        if (!authenticated) throw new PgProtocolError('server sent BackendKeyData before AuthenticationOk');
        key = decodeBackendKeyData(body);
        break;
      case Backend.readyForQuery: {
        if (!authenticated) throw new PgProtocolError('server sent ReadyForQuery before AuthenticationOk');
        // ReadyForQuery 'Z': Byte1 transaction status.
        const status = String.fromCharCode(new Cursor(body, 'ReadyForQuery').byte());
        if (status !== 'I' && status !== 'T' && status !== 'E') {
          throw new PgProtocolError(`ReadyForQuery carries unknown transaction status ${JSON.stringify(status)}`);
        }
        // Without BackendKeyData the session simply cannot be cancelled (some poolers omit it).
        return {
          socket,
          parameterStatus,
          processId: key?.processId ?? 0,
          secretKey: key?.secretKey ?? Buffer.alloc(0),
          transactionStatus: status,
          leftover: stream.detach(),
          notices,
        };
      }
      default:
        throw new PgProtocolError(`server sent unexpected message ${codeName(code)} during startup`);
    }
  }
}

/** "md5" + md5hex(md5hex(password + user) + salt): what PostgreSQL compares against its stored hash. */
export function md5Password(user: string, password: string, salt: Buffer): string {
  const inner = createHash('md5').update(password, 'utf8').update(user, 'utf8').digest('hex');
  return `md5${createHash('md5').update(inner, 'ascii').update(salt).digest('hex')}`;
}

function authName(kind: number): string {
  switch (kind) {
    case 2:
      return 'Kerberos V5';
    case 6:
      return 'SCM credential';
    case AuthCode.gss:
    case 8:
      return 'GSSAPI';
    case AuthCode.sspi:
      return 'SSPI';
    default:
      return `unknown (code ${kind})`;
  }
}

function serverError(body: Buffer, where: string): PgBackendError {
  const fields = decodeErrorFields(body);
  const message = fields.get(ErrorField.message) ?? 'no message';
  const sqlState = fields.get(ErrorField.code) ?? SQLSTATE_REJECTED;
  return new PgBackendError(`PostgreSQL at ${where} refused the connection: ${message}`, sqlState);
}

// ---- Framing ----

interface Frame {
  readonly code: number;
  /** The body, after code and length. */
  readonly body: Buffer;
  /** The whole message: code, length, body. */
  readonly frame: Buffer;
}

/**
 * Typed messages from the server during startup, from an accumulation of chunks: a message may
 * span chunks and a chunk may hold several messages. Chunks are joined only once a whole message
 * is present, so a large message costs one copy rather than one per chunk.
 */
class StartupStream {
  private chunks: Buffer[] = [];
  private size = 0;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;

  constructor(
    private readonly socket: net.Socket,
    private readonly maxMessageBytes: number,
    private readonly where: string,
  ) {
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  private readonly onData = (chunk: Buffer): void => {
    this.chunks.push(chunk);
    this.size += chunk.length;
    this.poke();
  };

  private readonly onError = (err: Error): void => {
    this.failure ??= new PgBackendError(`connection to PostgreSQL at ${this.where} failed: ${err.message}`, SQLSTATE_CONNECTION_FAILURE, {
      cause: err,
    });
    this.poke();
  };

  private readonly onClose = (): void => {
    this.failure ??= new PgBackendError(`PostgreSQL at ${this.where} closed the connection during startup`, SQLSTATE_CONNECTION_FAILURE);
    this.poke();
  };

  private poke(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  async next(): Promise<Frame> {
    for (;;) {
      const frame = this.take();
      if (frame !== null) return frame;
      // Messages already buffered are still read after a close: the last one is usually the ErrorResponse.
      if (this.failure !== null) throw this.failure;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private take(): Frame | null {
    if (this.size < 5) return null;
    const head = this.chunks[0]!.length >= 5 ? this.chunks[0]! : this.join();
    const code = head[0]!;
    const length = head.readInt32BE(1);
    if (length < 4) throw new PgProtocolError(`server sent message ${codeName(code)} with invalid length ${length}`);
    if (length > this.maxMessageBytes) throw new PgMessageTooLargeError(length, this.maxMessageBytes, `server message ${codeName(code)}`);
    const total = 1 + length;
    if (this.size < total) return null;
    const all = this.chunks[0]!.length >= total ? this.chunks[0]! : this.join();
    const frame = all.subarray(0, total);
    const rest = all.subarray(total);
    this.chunks = rest.length > 0 ? [rest, ...this.chunks.slice(1)] : this.chunks.slice(1);
    this.size -= total;
    return { code, body: frame.subarray(5), frame };
  }

  private join(): Buffer {
    const all = Buffer.concat(this.chunks, this.size);
    this.chunks = [all];
    return all;
  }

  /** Stops reading and hands back whatever arrived after the last message taken. */
  detach(): Buffer {
    this.socket.off('data', this.onData);
    this.socket.off('error', this.onError);
    this.socket.off('close', this.onClose);
    this.socket.pause();
    this.socket.on('error', () => {});
    const rest = Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    this.size = 0;
    return rest;
  }
}

// ---- Helpers ----

async function withDeadline<T>(ms: number, what: string, run: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PgBackendError(`timed out after ${ms} ms ${what}`, SQLSTATE_CANNOT_CONNECT)), ms);
  });
  try {
    return await Promise.race([run(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Everything leaving connectBackend is a PgBackendError, so the caller can hand its SQLSTATE to the client. */
function asBackendError(err: unknown, where: string): PgBackendError {
  if (err instanceof PgBackendError) return err;
  if (err instanceof PgProtocolError) {
    return new PgBackendError(`PostgreSQL at ${where} broke the protocol: ${err.message}`, SQLSTATE_PROTOCOL_VIOLATION, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new PgBackendError(`connection to PostgreSQL at ${where} failed: ${message}`, SQLSTATE_CONNECTION_FAILURE, { cause: err });
}
