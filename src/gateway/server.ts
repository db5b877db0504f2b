import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import pino, { type Logger } from 'pino';
import { createGatewayRecorder } from '../audit/setup.js';
import { SessionRecorder } from '../audit/session.js';
import type { Authenticator, Identity } from '../auth/identity.js';
import { AuthenticatorChain, ServiceAccountAuthenticator, bearerToken } from '../auth/service-accounts.js';
import type { ConnectionConfig, GatewayConfig } from '../config/schema.js';
import { ConfigError, HoopError, errorMessage } from '../errors.js';
import type { AgentMeta } from '../auth/agent-meta.js';
import type { EngineContext, ProtocolEngine } from '../protocols/engine.js';
import { NativePostgresListener } from '../protocols/postgres/native-listener.js';
import { ApprovalService } from '../policy/approvals.js';
import { DEFAULT_POLICY, parseDuration, type Policy } from '../policy/policy.js';
import { initClassifier } from '../policy/sql/classify.js';
import { SessionPolicy } from '../policy/statement-policy.js';
import { AccessPolicy } from '../policy/access-policy.js';
import { registerApprovalRoutes } from './approvals-api.js';
import { MaskConfigError, createMasker, type Masker } from '../mask/index.js';
import { maskingKey } from '../mask/gateway-key.js';
import { defaultKeyDir } from '../audit/keys.js';
import { startRetention } from '../audit/retention.js';
import { PostgresEngine } from '../protocols/postgres/engine.js';
import { openStore } from '../store/open.js';
import type { GatewayHostKey } from '../protocols/ssh/host-keys.js';
import type { Store } from '../store/store.js';
import { TunnelGatewayEnd, type TunnelRequest } from '../tunnel/gateway-end.js';
import { collectReadBuffers } from '../protocols/read-buffers.js';

export interface RunningGateway {
  /** Base URL clients use, e.g. http://127.0.0.1:8009. */
  readonly url: string;
  readonly port: number;
  /** Port of the native PostgreSQL listener, when configured. */
  readonly postgresPort?: number;
  readonly store: Store;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Use this logger instead of one built from the config. */
  readonly logger?: Logger;
  /** Use this store instead of opening the configured one (the gateway then does not close it). */
  readonly store?: Store;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function parseListen(listen: string): { host: string; port: number } {
  if (/^\d+$/.test(listen)) return { host: '127.0.0.1', port: Number(listen) };
  const i = listen.lastIndexOf(':');
  return { host: listen.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(listen.slice(i + 1)) };
}

function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}

declare module 'fastify' {
  interface FastifyRequest {
    identity?: Identity;
  }
}

function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).send({ error: { code, message } });
}

/** One masker per connection (its own `masking:` or the gateway's), null where masking is off. */
function buildMaskers(config: GatewayConfig, log: Logger): Map<string, Masker | null> {
  const out = new Map<string, Masker | null>();
  let key: Buffer | undefined;
  for (const c of config.connections) {
    const settings = c.masking ?? config.masking;
    if (!settings.enabled) {
      log.warn({ connection: c.name }, 'masking is turned off for this connection');
      out.set(c.name, null);
      continue;
    }
    key ??= maskingKey(config.maskingKey, defaultKeyDir(config), log);
    try {
      out.set(c.name, createMasker(settings, { key }));
    } catch (err) {
      if (err instanceof MaskConfigError) throw new ConfigError(`connections[${c.name}].masking: ${err.message}`);
      throw err;
    }
  }
  return out;
}

export async function startGateway(config: GatewayConfig, opts: StartOptions = {}): Promise<RunningGateway> {
  const log = opts.logger ?? pino({ level: config.log.level, base: { service: 'hoop-gateway' } }, pino.destination(2));
  const { host, port } = parseListen(config.listen);
  if (!config.tls && !isLoopback(host)) {
    throw new ConfigError(
      `listen: ${config.listen} is not a loopback address, and plain HTTP would expose tokens`,
      'add tls: { cert: ${file:…}, key: ${file:…} } or listen on 127.0.0.1',
    );
  }
  if (!config.tls) log.warn({ listen: config.listen }, 'serving plain HTTP on loopback only; configure tls: to serve HTTPS');

  const store = opts.store ?? openStore(config.store, { backgroundCheckpoints: true });
  const recorder = await createGatewayRecorder(store, config, log);
  const authenticators: Authenticator[] = [new ServiceAccountAuthenticator(store)];
  if (config.auth.oidc) {
    const { OidcAuthenticator } = await import('../auth/oidc.js');
    authenticators.push(new OidcAuthenticator(config.auth.oidc, { clockToleranceSeconds: config.auth.oidc.clockToleranceSeconds }));
  }
  const authenticator: Authenticator = new AuthenticatorChain(authenticators);
  const connections = new Map<string, ConnectionConfig>(config.connections.map((c) => [c.name, c]));
  collectReadBuffers();
  const postgresEngine = new PostgresEngine();
  const engines = new Map<string, ProtocolEngine>([['postgres', postgresEngine]]);
  // SSH and git share one host key, generated on the first start that needs it and kept in the store.
  let sshHostKey: GatewayHostKey | null = null;
  if (config.connections.some((c) => c.type === 'ssh' || c.type === 'git')) {
    // ssh2 loads only for gateways that serve SSH.
    const { gatewayHostKey, pinnedKeys } = await import('../protocols/ssh/host-keys.js');
    for (const c of config.connections) if (c.type === 'ssh' || c.type === 'git') pinnedKeys(c);
    const { SshEngine } = await import('../protocols/ssh/engine.js');
    sshHostKey = await gatewayHostKey(store);
    engines.set('ssh', new SshEngine('ssh', sshHostKey));
    engines.set('git', new SshEngine('git', sshHostKey));
  }
  const adminGroups = new Set(config.auth.adminGroups);
  const isAdmin = (identity: Identity): boolean => identity.groups.some((g) => adminGroups.has(g));

  const policy: Policy = config.policy && 'rules' in config.policy ? config.policy : DEFAULT_POLICY;
  // The parser is WebAssembly: load it before the first session, not during it.
  await initClassifier();
  const maskers = buildMaskers(config, log);
  const approvals = new ApprovalService(store, log, config.approvals.pollMs);
  await approvals.start();

  recorder.on('failed', (err) => {
    log.fatal({ err: err.message }, 'recording failed: ending every session and refusing new ones');
    for (const e of engines.values()) e.closeAll('recording-failed');
  });

  const app = Fastify({
    logger: false,
    // Open event streams (approvals) must not keep a stopping gateway alive.
    forceCloseConnections: true,
    ...(config.tls ? { https: { cert: config.tls.cert, key: config.tls.key } } : {}),
  });

  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof HoopError) return sendError(reply, 400, err.code, err.message);
    log.error({ err: errorMessage(err) }, 'request failed');
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    return sendError(reply, status, status >= 500 ? 'HOOP_INTERNAL' : 'HOOP_BAD_REQUEST', status >= 500 ? 'internal error' : errorMessage(err));
  });

  const authenticate = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const token = bearerToken(req.headers.authorization);
    if (!token) {
      await sendError(reply, 401, 'HOOP_UNAUTHENTICATED', 'missing bearer token: send Authorization: Bearer <token>');
      return;
    }
    try {
      req.identity = await authenticator.authenticate(token);
    } catch (err) {
      await sendError(reply, 401, 'HOOP_UNAUTHENTICATED', err instanceof HoopError ? err.message : 'token could not be verified');
    }
  };

  app.get('/healthz', async () => ({ status: 'ok' }));

  // Public: the CLI asks which identity provider to log in with before it has any token.
  app.get('/v1/auth/config', async () => ({
    oidc: config.auth.oidc ? { issuer: config.auth.oidc.issuer, clientId: config.auth.oidc.clientId, audience: config.auth.oidc.audience } : null,
  }));

  app.register(async (v1) => {
    v1.addHook('preHandler', authenticate);

    v1.get('/v1/whoami', async (req) => {
      const id = req.identity!;
      return { kind: id.kind, subject: id.subject, name: id.name, groups: id.groups };
    });

    // Names and types only: credentials never leave the gateway.
    v1.get('/v1/connections', async () => ({
      connections: config.connections.map((c) => ({
        name: c.name,
        type: c.type,
        // The public half only: what `hoop connect` pins in the client's known_hosts.
        ...(sshHostKey && (c.type === 'ssh' || c.type === 'git') ? { sshHostKey: sshHostKey.publicKey } : {}),
      })),
    }));

    v1.get<{ Querystring: { all?: string; connection?: string; limit?: string } }>('/v1/sessions', async (req, reply) => {
      const id = req.identity!;
      const all = req.query.all === 'true' || req.query.all === '1';
      if (all && !isAdmin(id)) return sendError(reply, 403, 'HOOP_FORBIDDEN', 'listing every session needs an admin group');
      const limit = Math.min(Math.max(Number(req.query.limit ?? 100) || 100, 1), 1000);
      const sessions = await store.listSessions({
        ...(all ? {} : { subject: id.subject }),
        ...(req.query.connection ? { connection: req.query.connection } : {}),
        limit,
      });
      return { sessions };
    });

    registerApprovalRoutes(v1, approvals, store);

    v1.get<{ Params: { id: string } }>('/v1/sessions/:id', async (req, reply) => {
      const id = req.identity!;
      const session = await store.getSession(req.params.id);
      if (!session || (session.identitySubject !== id.subject && !isAdmin(id))) {
        return sendError(reply, 404, 'HOOP_NOT_FOUND', `no session ${req.params.id}`);
      }
      const events = await store.sessionEvents(session.id);
      return { session, events: events.map((e) => ({ seq: e.seq, ...e.event })) };
    });
  });

  const refusal = (): string | null => (recorder.failed ? 'recording is failing; the gateway refuses new sessions' : null);
  const engineContext = (identity: Identity, connection: ConnectionConfig, clientAddress: string, sessionId: string, agentMeta?: AgentMeta): EngineContext => {
    const sessionLog = log.child({ session: sessionId, identity: identity.name, connection: connection.name });
    const recorderForSession = new SessionRecorder(recorder, identity, connection.name, connection.type, sessionId, agentMeta);
    const masker = maskers.get(connection.name) ?? null;
    return {
      identity,
      connection,
      clientAddress,
      recorder: recorderForSession,
      log: sessionLog,
      policy: new SessionPolicy(policy, identity, connection.name),
      access: new AccessPolicy(policy, identity, connection.name),
      approvals,
      agentMeta,
      masker: masker && !masker.seesClearValues(identity.groups) ? masker : null,
      recordMasker: masker,
      captureRows: config.recording.resultRows,
    };
  };

  const tunnels = new TunnelGatewayEnd({
    authenticator,
    connections,
    log,
    refusal,
    newSessionId: () => `s_${randomUUID()}`,
    onTunnel: (stream: Duplex, t: TunnelRequest) => {
      const engine = engines.get(t.connection.type);
      if (!engine) {
        stream.destroy();
        return;
      }
      const ctx = engineContext(t.identity, t.connection, t.clientAddress, t.sessionId, t.agentMeta);
      engine.serve(stream, ctx).catch((err: unknown) => {
        ctx.log.error({ err: errorMessage(err) }, 'session failed');
        stream.destroy();
      });
    },
  });

  app.server.on('upgrade', (req, socket, head) => {
    if (!tunnels.handleUpgrade(req, socket, head)) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    }
  });

  try {
    await app.listen({ host, port });
  } catch (err) {
    await recorder.close();
    if (!opts.store) await store.close();
    const code = (err as NodeJS.ErrnoException).code;
    throw new HoopError('HOOP_LISTEN', `cannot listen on ${config.listen}: ${code ?? errorMessage(err)}`, {
      exitCode: 1,
      ...(code === 'EADDRINUSE' ? { hint: 'another process uses that port; change listen: in the config' } : {}),
    });
  }
  let nativePostgres: NativePostgresListener | undefined;
  if (config.listeners.postgres) {
    nativePostgres = new NativePostgresListener({
      listen: parseListen(config.listeners.postgres),
      ...(config.tls ? { tls: config.tls } : {}),
      authenticator,
      connections,
      engine: postgresEngine,
      log,
      refusal,
      context: (identity, connection, clientAddress) => engineContext(identity, connection, clientAddress, `s_${randomUUID()}`),
    });
    try {
      await nativePostgres.start();
    } catch (err) {
      await app.close();
      throw new HoopError('HOOP_LISTEN', `cannot listen on ${config.listeners.postgres} (listeners.postgres): ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
    }
    log.info({ port: nativePostgres.port }, 'native PostgreSQL listener ready');
  }
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const url = `${config.tls ? 'https' : 'http'}://${urlHost}:${actualPort}`;
  log.info({ url, connections: config.connections.map((c) => c.name), store: store.kind, nodeFlags: process.execArgv, pid: process.pid }, 'gateway listening');
  // Retention: prune events older than audit.retention now and hourly (docs/audit.md, Retention).
  const retention = config.audit.retention && recorder.signer ? startRetention(store, recorder.signer, parseDuration(config.audit.retention), log) : null;

  let closed = false;
  return {
    url,
    port: actualPort,
    ...(nativePostgres ? { postgresPort: nativePostgres.port } : {}),
    store,
    async close() {
      if (closed) return;
      closed = true;
      tunnels.close();
      approvals.stop();
      await nativePostgres?.close();
      for (const e of engines.values()) e.closeAll('gateway-shutdown');
      await app.close();
      await retention?.stop();
      await recorder.close();
      if (!opts.store) await store.close();
      log.info('gateway stopped');
    },
  };
}
