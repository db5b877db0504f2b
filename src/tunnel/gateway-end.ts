import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { tunnelStream } from './stream.js';
import { AGENT_META_HEADER, type AgentMeta, decodeAgentMetaHeader } from '../auth/agent-meta.js';
import type { Authenticator, Identity } from '../auth/identity.js';
import { bearerToken } from '../auth/service-accounts.js';
import type { ConnectionConfig } from '../config/schema.js';
import { HoopError, errorMessage } from '../errors.js';

/** Path of the tunnel endpoint; one WebSocket carries one client TCP stream. */
export const TUNNEL_PATH = /^\/v1\/tunnel\/([^/?#]+)$/;
/** Response header naming the session a tunnel belongs to. */
export const SESSION_HEADER = 'x-hoop-session';

export interface TunnelRequest {
  readonly identity: Identity;
  readonly agentMeta: AgentMeta | undefined;
  readonly connection: ConnectionConfig;
  readonly sessionId: string;
  readonly clientAddress: string;
}

export interface TunnelEndOptions {
  readonly authenticator: Authenticator;
  readonly connections: ReadonlyMap<string, ConnectionConfig>;
  readonly log: Logger;
  /** Null when new tunnels may open, else why not (e.g. recording failed). */
  readonly refusal: () => string | null;
  readonly newSessionId: () => string;
  readonly onTunnel: (stream: Duplex, request: TunnelRequest) => void;
}

function reject(socket: Duplex, status: number, statusText: string, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${statusText}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * The gateway end of the tunnel: authenticates the upgrade request and authorises the
 * connection before any WebSocket (and so any backend connection) exists.
 */
export class TunnelGatewayEnd {
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
  private readonly pendingSession = new WeakMap<IncomingMessage, string>();

  constructor(private readonly opts: TunnelEndOptions) {
    this.wss.on('headers', (headers, req) => {
      const id = this.pendingSession.get(req);
      if (id) headers.push(`X-Hoop-Session: ${id}`);
    });
  }

  /** Handles an HTTP upgrade; returns false when the path is not the tunnel's. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const match = TUNNEL_PATH.exec((req.url ?? '').split('?')[0] ?? '');
    if (!match) return false;
    socket.on('error', () => {});
    void this.accept(req, socket, head, decodeURIComponent(match[1]!));
    return true;
  }

  private async accept(req: IncomingMessage, socket: Duplex, head: Buffer, name: string): Promise<void> {
    const { log } = this.opts;
    const refusal = this.opts.refusal();
    if (refusal) return reject(socket, 503, 'Service Unavailable', 'HOOP_UNAVAILABLE', refusal);
    const token = bearerToken(req.headers.authorization);
    if (!token) {
      return reject(socket, 401, 'Unauthorized', 'HOOP_UNAUTHENTICATED', 'missing bearer token: send Authorization: Bearer <token>');
    }
    let identity: Identity;
    try {
      identity = await this.opts.authenticator.authenticate(token);
    } catch (err) {
      const message = err instanceof HoopError ? err.message : 'token could not be verified';
      log.info({ reason: message, path: req.url }, 'tunnel refused: authentication');
      if (!(err instanceof HoopError)) log.error({ err: errorMessage(err) }, 'authenticator failed');
      return reject(socket, 401, 'Unauthorized', 'HOOP_UNAUTHENTICATED', message);
    }
    let agentMeta: AgentMeta | undefined;
    try {
      const header = req.headers[AGENT_META_HEADER];
      agentMeta = decodeAgentMetaHeader(Array.isArray(header) ? header[0] : header);
    } catch (err) {
      return reject(socket, 400, 'Bad Request', 'HOOP_BAD_AGENT_META', errorMessage(err));
    }
    const connection = this.opts.connections.get(name);
    if (!connection) {
      return reject(socket, 404, 'Not Found', 'HOOP_NOT_FOUND', `no connection named ${name}`);
    }
    const sessionId = this.opts.newSessionId();
    this.pendingSession.set(req, sessionId);
    const clientAddress = `${req.socket.remoteAddress ?? 'unknown'}:${req.socket.remotePort ?? 0}`;
    this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const stream = tunnelStream(ws);
      stream.on('error', (err) => log.debug({ err: errorMessage(err), session: sessionId }, 'tunnel stream error'));
      this.opts.onTunnel(stream, { identity, agentMeta, connection, sessionId, clientAddress });
    });
  }

  close(): void {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
  }
}
