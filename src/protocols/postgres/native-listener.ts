import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { Logger } from 'pino';
import type { Authenticator, Identity } from '../../auth/identity.js';
import type { ConnectionConfig } from '../../config/schema.js';
import { HoopError, errorMessage } from '../../errors.js';
import type { PostgresEngine } from './engine.js';
import { readStartup } from './engine.js';
import { AuthCode, Frontend } from './messages.js';
import { Cursor } from './reader.js';
import { encodeErrorResponse, encodeTyped } from './writer.js';
import type { EngineContext } from '../engine.js';

/** The token arrives as a password: far larger than any real password, still bounded. */
const MAX_PASSWORD_MESSAGE_BYTES = 64 * 1024;
const AUTH_TIMEOUT_MS = 30_000;

export interface NativeListenerOptions {
  readonly listen: { host: string; port: number };
  /** PEM cert and key: with them, SSLRequest is accepted and the password may cross a network. */
  readonly tls?: { cert: string; key: string };
  readonly authenticator: Authenticator;
  readonly connections: ReadonlyMap<string, ConnectionConfig>;
  readonly engine: PostgresEngine;
  readonly log: Logger;
  /** Null when new sessions may open, else why not. */
  readonly refusal: () => string | null;
  /** Builds the engine context for an authenticated client (recorder, logger). */
  readonly context: (identity: Identity, connection: ConnectionConfig, clientAddress: string) => EngineContext;
}

function isLoopbackAddress(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1' || (address?.startsWith('127.') ?? false);
}

function fatal(socket: Duplex, code: string, message: string): void {
  socket.end(encodeErrorResponse({ severity: 'FATAL', code, message: `hoop: ${message}` }));
}

/**
 * Reads one PasswordMessage: Byte1('p') Int32 length, String password (NUL-terminated).
 * Anything else is refused; the session has not started, so there is nothing to relay yet.
 */
function readPassword(socket: Duplex): Promise<{ password: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new HoopError('HOOP_PG_AUTH_TIMEOUT', 'no password within 30s')), AUTH_TIMEOUT_MS);
    const finish = (err: Error | null, value?: { password: string; rest: Buffer }): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      if (err) reject(err);
      else resolve(value!);
    };
    const onClose = (): void => finish(new HoopError('HOOP_PG_CLIENT_GONE', 'client closed during authentication'));
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (buf.length < 5) return;
      if (buf[0] !== Frontend.password) return finish(new HoopError('HOOP_PG_PROTOCOL', 'expected a password message'));
      const length = buf.readInt32BE(1);
      if (length < 5 || length > MAX_PASSWORD_MESSAGE_BYTES) return finish(new HoopError('HOOP_PG_PROTOCOL', 'bad password message length'));
      if (buf.length < 1 + length) return;
      try {
        const password = new Cursor(buf.subarray(5, 1 + length), 'PasswordMessage').cstring();
        finish(null, { password, rest: buf.subarray(1 + length) });
      } catch (err) {
        finish(err as Error);
      }
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.resume();
  });
}

/**
 * A PostgreSQL port on the gateway for clients that cannot run the CLI (BI tools, drivers):
 * `user` is an identity hint, `database` the connection name, and the password a hoop token,
 * checked exactly as a tunnel's bearer token. The password travels in clear inside the protocol,
 * so it is only asked for over TLS or from a loopback client.
 */
export class NativePostgresListener {
  private readonly server: net.Server;
  private secureContext: tls.SecureContext | undefined;
  port = 0;

  constructor(private readonly opts: NativeListenerOptions) {
    this.server = net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => {
      socket.on('error', () => {});
      void this.accept(socket);
    });
    if (opts.tls) this.secureContext = tls.createSecureContext({ cert: opts.tls.cert, key: opts.tls.key });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.listen.port, this.opts.listen.host, () => resolve());
    });
    const addr = this.server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
  }

  private async accept(raw: net.Socket): Promise<void> {
    const { log } = this.opts;
    const clientAddress = `${raw.remoteAddress ?? 'unknown'}:${raw.remotePort ?? 0}`;
    let socket: Duplex = raw;
    let encrypted = false;
    let startup = await readStartup(socket, log, { acceptTls: this.secureContext !== undefined });
    if (startup?.kind === 'tls') {
      raw.write('S');
      const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: this.secureContext! });
      secure.on('error', () => raw.destroy());
      socket = secure;
      encrypted = true;
      startup = await readStartup(socket, log);
    }
    if (startup === null || startup.kind === 'tls') return;
    if (startup.kind === 'cancel') {
      await this.opts.engine.cancelByKey(startup.processId, startup.secretKey, log);
      socket.destroy();
      return;
    }
    const refusal = this.opts.refusal();
    if (refusal) return fatal(socket, '57P03', refusal);
    const params = startup.params;
    const name = params.database ?? params.user ?? '';
    if (!encrypted && !isLoopbackAddress(raw.remoteAddress)) {
      return fatal(socket, '28000', 'a token is only accepted over TLS here: connect with sslmode=require (or verify-full)');
    }
    socket.write(encodeTyped(0x52, Buffer.from([0, 0, 0, AuthCode.cleartextPassword])));
    let password: string;
    let rest: Buffer;
    try {
      ({ password, rest } = await readPassword(socket));
    } catch (err) {
      log.info({ client: clientAddress, err: errorMessage(err) }, 'native listener: authentication aborted');
      return fatal(socket, '08P01', errorMessage(err));
    }
    let identity: Identity;
    try {
      if (password === '') throw new HoopError('HOOP_UNAUTHENTICATED', 'no token given: pass a hoop token as the password (PGPASSWORD=$(hoop token))');
      identity = await this.opts.authenticator.authenticate(password);
    } catch (err) {
      const message = err instanceof HoopError ? err.message : 'token could not be verified';
      log.info({ client: clientAddress, reason: message }, 'native listener: token refused');
      return fatal(socket, '28P01', `token refused: ${message}`);
    }
    const connection = this.opts.connections.get(name);
    if (!connection || connection.type !== 'postgres') {
      return fatal(socket, '3D000', `no PostgreSQL connection named "${name}": use the connection name as the database name`);
    }
    const ctx = this.opts.context(identity, connection, clientAddress);
    await this.opts.engine.serveSession(socket, ctx, params, rest).catch((err: unknown) => {
      log.error({ err: errorMessage(err) }, 'native listener session failed');
      socket.destroy();
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
