import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import WebSocket from 'ws';
import { tunnelStream } from './stream.js';
import { AGENT_META_HEADER, type AgentMeta, encodeAgentMetaHeader } from '../auth/agent-meta.js';
import { AuthError, GatewayUnavailableError, HoopError, NotFoundError, errorMessage } from '../errors.js';
import { StartupReader } from '../protocols/postgres/reader.js';
import { SSL_REFUSED, encodeErrorResponse } from '../protocols/postgres/writer.js';
import { StartupCode } from '../protocols/postgres/messages.js';

export interface GatewayAuth {
  /** Base URL of the gateway, http(s)://host:port. */
  readonly gateway: string;
  /** The bearer token to send now; asked once per tunnel, so a renewed token is picked up. */
  token(): Promise<string>;
  /** What the agent declares about itself, recorded on its sessions. */
  readonly agentMeta?: AgentMeta;
}

export interface Tunnel {
  readonly stream: Duplex;
  readonly sessionId: string;
}

function tunnelUrl(gateway: string, connection: string): string {
  const u = new URL(gateway);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = `${u.pathname.replace(/\/$/, '')}/v1/tunnel/${encodeURIComponent(connection)}`;
  return u.toString();
}

/** Maps a refused upgrade to the error a user can act on. */
function refusal(status: number, body: string, connection: string): HoopError {
  let message = body;
  try {
    message = (JSON.parse(body) as { error?: { message?: string } }).error?.message ?? body;
  } catch {
    // not JSON: keep the raw text
  }
  if (status === 401) return new AuthError(`the gateway refused the token: ${message}`, 'log in again (`hoop login`) or pass a valid --token / HOOP_TOKEN');
  if (status === 403) return new AuthError(`not allowed: ${message}`);
  if (status === 404) return new NotFoundError(`the gateway has no connection named ${connection}`, 'list them with `hoop connections`');
  return new GatewayUnavailableError(`the gateway refused the tunnel (${status}): ${message}`);
}

/** Opens one tunnel: a WebSocket that carries one client byte stream to the named connection. */
export async function openTunnel(auth: GatewayAuth, connection: string): Promise<Tunnel> {
  const token = await auth.token();
  return new Promise((resolve, reject) => {
    let sessionId = '';
    const ws = new WebSocket(tunnelUrl(auth.gateway, connection), {
      headers: {
        Authorization: `Bearer ${token}`,
        ...(auth.agentMeta ? { [AGENT_META_HEADER]: encodeAgentMetaHeader(auth.agentMeta) } : {}),
      },
      perMessageDeflate: false,
      handshakeTimeout: 15_000,
      maxPayload: 16 * 1024 * 1024,
    });
    ws.once('upgrade', (res) => {
      sessionId = String(res.headers['x-hoop-session'] ?? '');
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < 4096) body += d;
      });
      res.on('end', () => {
        ws.terminate();
        reject(refusal(res.statusCode ?? 0, body, connection));
      });
    });
    ws.once('open', () => {
      ws.removeAllListeners('error');
      resolve({ stream: tunnelStream(ws), sessionId });
    });
    ws.once('error', (err) => {
      reject(new GatewayUnavailableError(`cannot reach the gateway at ${auth.gateway}: ${errorMessage(err)}`, 'is `hoop gateway` running? check --gateway / HOOP_GATEWAY'));
    });
  });
}

/**
 * Answers a local PostgreSQL client whose tunnel could not open with a FATAL error it will show,
 * instead of a bare closed socket.
 */
function refusePostgresClient(socket: net.Socket, message: string): void {
  const reader = new StartupReader();
  socket.on('data', (chunk: Buffer) => {
    try {
      reader.append(chunk);
      for (let packet = reader.next(); packet !== null; packet = reader.next()) {
        const code = packet.readInt32BE(0);
        if (code === StartupCode.sslRequest || code === StartupCode.gssEncRequest) {
          socket.write(SSL_REFUSED);
          continue;
        }
        if (code === StartupCode.cancelRequest) socket.destroy();
        else socket.end(encodeErrorResponse({ severity: 'FATAL', code: '28000', message: `hoop: ${message}` }));
        return;
      }
    } catch {
      socket.destroy();
    }
  });
  socket.resume();
}

export interface LocalListenerOptions {
  readonly auth: GatewayAuth;
  readonly connection: string;
  readonly connectionType: string;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
}

export interface LocalListenerEvents {
  session: [{ sessionId: string; clientPort: number }];
  closed: [{ sessionId: string }];
  tunnelError: [Error];
}

/**
 * `hoop connect`'s listener: each accepted local connection gets its own tunnel (and so its own
 * session at the gateway), which is what database clients expect of a server.
 */
export class LocalListener extends EventEmitter<LocalListenerEvents> {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  private constructor(private readonly opts: LocalListenerOptions) {
    super();
    this.server = net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => this.accept(socket));
  }

  static async start(opts: LocalListenerOptions): Promise<LocalListener> {
    const l = new LocalListener(opts);
    await new Promise<void>((resolve, reject) => {
      l.server.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'EADDRINUSE'
            ? new HoopError('HOOP_PORT_IN_USE', `port ${opts.port} is already in use`, { exitCode: 2, hint: 'pick another with --port, or omit it for a free one' })
            : err,
        ),
      );
      l.server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
    });
    const addr = l.server.address();
    l.port = typeof addr === 'object' && addr ? addr.port : 0;
    return l;
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    openTunnel(this.opts.auth, this.opts.connection).then(
      ({ stream, sessionId }) => {
        if (socket.destroyed) {
          stream.destroy();
          return;
        }
        this.emit('session', { sessionId, clientPort: socket.remotePort ?? 0 });
        stream.on('error', () => socket.destroy());
        socket.once('close', () => {
          stream.destroy();
          this.emit('closed', { sessionId });
        });
        stream.once('close', () => socket.destroy());
        socket.pipe(stream);
        stream.pipe(socket);
        socket.resume();
      },
      (err: Error) => {
        this.emit('tunnelError', err);
        if (this.opts.connectionType === 'postgres') refusePostgresClient(socket, err.message);
        else socket.destroy();
      },
    );
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
