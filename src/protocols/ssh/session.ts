import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { AuthContext, Connection, ServerChannel, TcpipRequestInfo } from 'ssh2';
import type { RecordedDecision } from '../../audit/events.js';
import type { ProtocolEventFields } from '../../audit/session.js';
import type { GitConnectionConfig, SshConnectionConfig } from '../../config/schema.js';
import { errorMessage } from '../../errors.js';
import type { Decision } from '../../policy/policy.js';
import { recordedDecision } from '../../policy/review.js';
import type { EngineContext } from '../engine.js';
import { connectSshBackend } from './backend.js';
import { SessionChannel } from './channel.js';
import type { GatewayHostKey } from './host-keys.js';

/** Channels one client may hold open at once (shells, execs, forwards). */
export const MAX_CHANNELS_PER_SESSION = 64;

/**
 * One client's SSH connection, arriving through the tunnel: hoop terminates the client's SSH
 * here (with the gateway's host key) and opens its own to the host (with the gateway-held key),
 * so it sees every request in clear and decides each one before the host does.
 */
export class SshSession {
  readonly connection: SshConnectionConfig | GitConnectionConfig;
  /** Aborted when the session ends: held approvals are withdrawn. */
  readonly abort = new AbortController();
  private hostPromise: Promise<ssh2.Client> | null = null;
  private host: ssh2.Client | null = null;
  private client: Connection | null = null;
  private nextChannel = 0;
  private openChannels = 0;
  private ending = false;
  private endReason = 'client-closed';
  private endError: string | undefined;
  private backendFailure: string | null = null;
  private resolveDone!: () => void;
  readonly done = new Promise<void>((resolve) => (this.resolveDone = resolve));

  constructor(
    private readonly stream: Duplex,
    readonly ctx: EngineContext,
    private readonly hostKey: GatewayHostKey,
  ) {
    this.connection = ctx.connection as SshConnectionConfig | GitConnectionConfig;
  }

  get log(): EngineContext['log'] {
    return this.ctx.log;
  }

  start(): Promise<void> {
    const server = new ssh2.Server({ hostKeys: [this.hostKey.privateKey], ident: 'hoop' }, (client, info) => this.onClient(client, info.header.versions.software));
    server.on('error', (err: Error) => this.end('protocol-error', errorMessage(err)));
    this.stream.on('error', () => {});
    this.stream.once('close', () => this.end('client-closed'));
    server.injectSocket(this.stream as unknown as import('node:net').Socket);
    return this.done;
  }

  /** The host's SSH connection, opened once per session. Rejects with a message fit for the client. */
  backend(): Promise<ssh2.Client> {
    this.hostPromise ??= connectSshBackend(this.connection).then((host) => {
      this.host = host;
      host.on('close', () => this.end('backend-closed'));
      if (this.ending) host.end();
      return host;
    });
    return this.hostPromise;
  }

  private onClient(client: Connection, software: string): void {
    this.client = client;
    client.on('error', (err: Error) => this.log.debug({ err: errorMessage(err) }, 'client SSH error'));
    client.on('close', () => this.end('client-closed'));
    // Start the host's handshake while the client finishes its own.
    this.backend().catch(() => {});
    client.on('authentication', (auth: AuthContext) => {
      // The tunnel already verified who this is; SSH-level credentials inside it add nothing and
      // can change nothing: every method is accepted for the tunnel's identity, and no other.
      if (!this.ctx.recorder.isStarted) {
        this.ctx.recorder.start(this.ctx.clientAddress, { sshUser: auth.username, clientSoftware: software });
      }
      auth.accept();
    });
    client.on('ready', () => {
      client.on('session', (accept) => {
        if (!this.admitChannel()) return;
        const channel = new SessionChannel(this, this.nextChannel++, accept());
        channel.done.finally(() => this.openChannels--);
      });
      client.on('tcpip', (accept, reject, info) => void this.directTcpip(accept, reject, info));
      client.on('openssh.streamlocal', (_accept, reject, info) => {
        this.refuse('direct-streamlocal', info.socketPath, this.ctx.access.request('port-forward'), true);
        reject();
      });
      client.on('request', (accept, reject, name, info) => {
        const where = info as { bindAddr?: string; bindPort?: number; socketPath?: string } | undefined;
        const detail = where?.socketPath ?? (where?.bindAddr !== undefined ? `${where.bindAddr}:${where.bindPort}` : '');
        const decision = this.ctx.access.request('remote-forward');
        // Remote forwarding would make the host reach back through the gateway: not offered, even when allowed.
        this.refuse(name, detail, decision, true);
        reject?.();
        void accept;
      });
    });
  }

  private admitChannel(): boolean {
    if (this.openChannels >= MAX_CHANNELS_PER_SESSION) return false;
    this.openChannels++;
    return true;
  }

  /** `ssh -L`: forwarded through the host's own connection when policy allows, else refused and recorded. */
  private async directTcpip(accept: () => ServerChannel, reject: () => void, info: TcpipRequestInfo): Promise<void> {
    const detail = `${info.destIP}:${info.destPort}`;
    const decision = this.ctx.access.request('port-forward');
    if (decision.action !== 'allow') {
      this.refuse('direct-tcpip', detail, decision, false);
      reject();
      return;
    }
    this.record({ type: 'ssh.request', request: 'direct-tcpip', detail, decision: recordedDecision(decision) });
    let host: ssh2.Client;
    try {
      host = await this.backend();
    } catch {
      reject();
      return;
    }
    host.forwardOut(info.srcIP, info.srcPort, info.destIP, info.destPort, (err, upstream) => {
      if (err) return reject();
      const down = accept();
      down.pipe(upstream).pipe(down);
      down.on('close', () => upstream.close());
      upstream.on('close', () => down.close());
    });
  }

  /**
   * Records a refused (or unsupported) request. `unsupported`: even an allowing policy does not
   * make hoop carry it, and the record says so.
   */
  refuse(request: string, detail: string, decision: Decision, unsupported: boolean): void {
    const recorded: RecordedDecision =
      decision.action === 'allow' && unsupported
        ? { action: 'deny', rule: 'hoop:not-supported', class: decision.class, reason: `${request} is not carried by hoop` }
        : recordedDecision(decision);
    this.log.info({ request, detail, rule: recorded.rule }, 'SSH request refused');
    this.record({ type: 'ssh.request', request, detail, decision: recorded });
  }

  /** Records an event; a recording failure ends the session (fail closed). */
  record(fields: ProtocolEventFields): boolean {
    // A denial's reason may quote part of the command line: masked like the command itself.
    const decision = 'decision' in fields ? (fields as { decision: RecordedDecision }).decision : undefined;
    const event = decision?.reason ? ({ ...fields, decision: { ...decision, reason: this.mask(decision.reason) } } as ProtocolEventFields) : fields;
    try {
      this.ctx.recorder.event(event);
      return true;
    } catch (err) {
      this.end('recording-failed', errorMessage(err));
      return false;
    }
  }

  /**
   * Waits until what was recorded so far (the channel and its decision) is durable, so nothing
   * reaches the host unrecorded. False when recording failed: the session is ending (fail closed).
   */
  async durable(): Promise<boolean> {
    try {
      await this.ctx.recorder.stored();
      return true;
    } catch (err) {
      this.end('recording-failed', errorMessage(err));
      return false;
    }
  }

  /** Masks text for the record (output, typed input, command lines). */
  mask(text: string): string {
    return this.ctx.recordMasker ? this.ctx.recordMasker.maskText(text).text : text;
  }

  /**
   * The host could not be reached (or refused us). The client is told on its channel and closes;
   * the session ends then, recorded with this reason rather than "client-closed". Ending it here
   * would cut the message off before it reaches the client.
   */
  backendFailed(error: string): void {
    this.backendFailure ??= error;
  }

  end(reason: string, error?: string): void {
    if (this.ending) return;
    this.ending = true;
    const backend = reason === 'client-closed' ? this.backendFailure : null;
    this.endReason = backend ? 'backend-error' : reason;
    this.endError = backend ?? error;
    this.abort.abort();
    this.host?.end();
    this.client?.end();
    this.stream.destroy();
    void this.ctx.recorder.end(this.endReason, this.endError).finally(this.resolveDone);
  }
}
