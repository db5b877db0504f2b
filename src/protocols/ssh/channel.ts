import type { ClientChannel, PseudoTtyInfo, ServerChannel, Session } from 'ssh2';
import type ssh2 from 'ssh2';
import type { SshExecEvent } from '../../audit/events.js';
import { errorMessage } from '../../errors.js';
import { globMatch } from '../../policy/policy.js';
import { awaitApproval, recordedDecision, waitingMessage, type GrantedApproval, type ReviewDecision } from '../../policy/review.js';
import type { Decision } from '../../policy/policy.js';
import { serveGitExec } from '../git/channel.js';
import { relayChannel, type ChannelExit } from './relay.js';
import type { SshSession } from './session.js';
import { SftpObserver } from './sftp.js';
import { TerminalRecorder } from './terminal.js';

/** Exit status of a command hoop refused: what a shell answers for "found but cannot be run". */
export const EXIT_DENIED = 126;
/** Exit status when the host could not be reached, as OpenSSH's own client uses. */
export const EXIT_UNREACHABLE = 255;

/** Keeps the first bytes of a stream for the record and counts the rest. */
export class OutputCapture {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  total = 0;

  constructor(private readonly limit: number) {}

  add(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.kept >= this.limit) return;
    const part = chunk.length <= this.limit - this.kept ? chunk : chunk.subarray(0, this.limit - this.kept);
    // Copied: the relay may reuse the chunk's memory once it is written on.
    this.chunks.push(Buffer.from(part));
    this.kept += part.length;
  }

  get truncated(): boolean {
    return this.total > this.kept;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** Tells the client why on its stderr, then ends the channel with `status`. */
export function refuseChannel(client: ServerChannel, message: string, status: number, newline = '\n'): void {
  client.stderr.write(`${message}${newline}`);
  client.exit(status);
  client.end();
}

/** What the client is told when the host cannot be reached: the error and what to do about it. */
export function unreachableMessage(err: unknown): string {
  const hint = (err as { hint?: string }).hint;
  return `hoop: ${errorMessage(err)}${hint ? ` (${hint})` : ''}`;
}

/** Waits for a held action's approval: the client is told on stderr. */
function reviewHeld(
  session: SshSession,
  client: ServerChannel,
  decision: ReviewDecision,
  text: string,
  subject: 'ssh.exec' | 'git.push',
  what: string,
  newline: string,
): ReturnType<typeof awaitApproval> {
  const { ctx } = session;
  return awaitApproval(
    { identity: ctx.identity, connection: session.connection.name, approvals: ctx.approvals, agentMeta: ctx.agentMeta, recorder: ctx.recorder },
    {
      decision,
      text,
      recordedText: session.mask(text),
      subject,
      what,
      recordedDecision: recordedDecision(decision),
      signal: session.abort.signal,
      notify: (request) => client.stderr.write(`${waitingMessage(request, decision)}${newline}`),
    },
  );
}

/**
 * One SSH session channel: what the client asks for on it (environment, pty, then a shell, a
 * command or a subsystem) is decided and, when allowed, replayed on a channel of the gateway's
 * own connection to the host, then relayed and recorded.
 */
export class SessionChannel {
  private readonly env: Record<string, string> = {};
  private readonly envNames: string[] = [];
  private pty: PseudoTtyInfo | null = null;
  private host: ClientChannel | null = null;
  private started = false;
  private resolveDone!: () => void;
  readonly done = new Promise<void>((resolve) => (this.resolveDone = resolve));

  constructor(
    private readonly session: SshSession,
    readonly id: number,
    channel: Session,
  ) {
    channel.on('env', (accept, reject, info) => {
      const allowed = session.connection.env.some((pattern) => globMatch(pattern, info.key));
      if (allowed) {
        this.env[info.key] = info.val;
        this.envNames.push(info.key);
        accept?.();
      } else {
        session.record({ type: 'ssh.request', request: 'env', detail: info.key, decision: { action: 'deny', rule: 'hoop:env-allow-list', class: 'exec', reason: `${info.key} is not in this connection's env allow-list` } });
        reject?.();
      }
    });
    channel.on('pty', (accept, _reject, info) => {
      this.pty = info;
      accept?.();
    });
    channel.on('window-change', (accept, _reject, info) => {
      if (this.pty) this.pty = { ...this.pty, cols: info.cols, rows: info.rows, width: info.width, height: info.height };
      this.host?.setWindow(info.rows, info.cols, info.height, info.width);
      accept?.();
    });
    channel.on('signal', (accept, _reject, info) => {
      this.host?.signal(info.name.replace(/^SIG/, ''));
      accept?.();
    });
    channel.on('auth-agent', (_accept, reject) => {
      session.refuse('auth-agent', 'agent forwarding', session.ctx.access.request('agent-forward'), true);
      reject?.();
    });
    channel.on('x11', (_accept, reject, info) => {
      session.refuse('x11', `screen ${info.screen}`, session.ctx.access.request('x11'), true);
      reject?.();
    });
    channel.on('shell', (accept, reject) => this.once(() => this.shell(accept, reject)));
    channel.on('exec', (accept, reject, info) => this.once(() => this.exec(accept, reject, info.command)));
    channel.on('subsystem', (accept, reject, info) => this.once(() => this.subsystem(accept, reject, info.name)));
    channel.on('close', () => {
      if (!this.started) this.resolveDone();
    });
  }

  /** A session channel runs one thing; the flow's errors end the channel, never the gateway. */
  private once(run: () => Promise<void>): void {
    if (this.started) return;
    this.started = true;
    run()
      .catch((err: unknown) => {
        if (!this.session.abort.signal.aborted) this.session.log.warn({ err: errorMessage(err), channel: this.id }, 'SSH channel failed');
      })
      .finally(this.resolveDone);
  }

  private get newline(): string {
    return this.pty ? '\r\n' : '\n';
  }

  /** The host's connection, or null after telling the client why it is unavailable. */
  private async hostConnection(client: ServerChannel): Promise<ssh2.Client | null> {
    try {
      return await this.session.backend();
    } catch (err) {
      refuseChannel(client, unreachableMessage(err), EXIT_UNREACHABLE, this.newline);
      this.session.backendFailed(errorMessage(err));
      return null;
    }
  }

  private ptyOption(): ssh2.PseudoTtyOptions | undefined {
    const p = this.pty;
    return p ? { term: p.term, cols: p.cols, rows: p.rows, width: p.width, height: p.height, modes: p.modes } : undefined;
  }

  private recordChannel(kind: 'shell' | 'exec' | 'subsystem', decision: Decision, subsystem?: string): boolean {
    return this.session.record({
      type: 'ssh.channel',
      channel: this.id,
      kind,
      ...(this.pty ? { pty: { term: this.pty.term, cols: this.pty.cols, rows: this.pty.rows } } : {}),
      ...(this.envNames.length ? { env: [...this.envNames] } : {}),
      ...(subsystem ? { subsystem } : {}),
      decision: recordedDecision(decision),
    });
  }

  private async shell(accept: () => ServerChannel, reject: () => void): Promise<void> {
    const { session } = this;
    if (session.connection.type === 'git') {
      const client = accept();
      refuseChannel(client, `hoop: ${session.connection.name} is a git connection: it serves git clone, fetch and push, not a shell`, 1, this.newline);
      return;
    }
    const decision = session.ctx.access.request('shell');
    if (!this.recordChannel('shell', decision)) return reject();
    const client = accept();
    if (decision.action === 'deny') return refuseChannel(client, `hoop: ${decision.reason} (rule ${decision.rule})`, EXIT_DENIED, this.newline);
    if (decision.action === 'review') {
      // What a shell will run cannot be known in advance: the approver approves the shell itself.
      const outcome = await reviewHeld(session, client, decision, '(interactive shell)', 'ssh.exec', 'shell', this.newline);
      if (!outcome.approved) return refuseChannel(client, outcome.message, EXIT_DENIED, this.newline);
    }
    const host = await this.hostConnection(client);
    if (!host || !(await session.durable())) return;
    const upstream = await new Promise<ClientChannel | Error>((resolve) =>
      host.shell(this.pty ? { rows: this.pty.rows, cols: this.pty.cols, height: this.pty.height, width: this.pty.width, term: this.pty.term, modes: this.pty.modes } : false, { env: this.env }, (err, ch) => resolve(err ?? ch)),
    );
    if (upstream instanceof Error) return refuseChannel(client, `hoop: the host refused the shell: ${upstream.message}`, EXIT_UNREACHABLE, this.newline);
    this.host = upstream;
    const terminal = new TerminalRecorder({
      mask: (text) => session.mask(text),
      record: (stream, data, time) => void session.record({ type: stream === 'output' ? 'terminal.output' : 'terminal.input', channel: this.id, data, time }),
      onLine: (line) => {
        // Detected for the audit trail only: typed lines cannot be held (the shell already has them).
        const would = session.ctx.access.exec(line);
        session.record({ type: 'shell.command', channel: this.id, command: session.mask(line), decision: recordedDecision(would) });
      },
    });
    await relayChannel(client, upstream, {
      fromClient: (c) => terminal.input(c),
      fromHost: (c) => terminal.output(c),
      fromHostStderr: (c) => terminal.output(c),
    });
    terminal.close();
  }

  private async exec(accept: () => ServerChannel, reject: () => void, command: string): Promise<void> {
    const { session } = this;
    if (session.connection.type === 'git') return serveGitExec(session, this.id, accept, reject, command, { env: this.env });
    const limit = session.connection.execOutputBytes;
    const decision = session.ctx.access.exec(command);
    const started = performance.now();
    const startedAt = Date.now();
    if (!this.recordChannel('exec', decision)) return reject();
    const client = accept();
    const stdout = new OutputCapture(limit);
    const stderr = new OutputCapture(limit);
    let bytesIn = 0;
    const record = (extra: Partial<Pick<SshExecEvent, 'approval' | 'exitStatus' | 'exitSignal'>>): void => {
      session.record({
        type: 'ssh.exec',
        time: startedAt,
        channel: this.id,
        command: session.mask(command),
        decision: recordedDecision(decision),
        ...extra,
        durationMs: Math.round((performance.now() - started) * 1000) / 1000,
        stdout: session.mask(stdout.text()),
        stderr: session.mask(stderr.text()),
        outputTruncated: stdout.truncated || stderr.truncated,
        bytesOut: stdout.total + stderr.total,
        bytesIn,
      });
    };

    let approval: GrantedApproval | undefined;
    if (decision.action === 'deny') {
      refuseChannel(client, `hoop: ${decision.reason} (rule ${decision.rule})`, EXIT_DENIED, this.newline);
      record({});
      return;
    }
    if (decision.action === 'review') {
      let outcome;
      try {
        outcome = await reviewHeld(session, client, decision, command, 'ssh.exec', 'command', this.newline);
      } catch (err) {
        // The client left (or the session ended) while the command waited: it never ran, and the record says so.
        record({});
        throw err;
      }
      if (!outcome.approved) {
        refuseChannel(client, outcome.message, EXIT_DENIED, this.newline);
        record({});
        return;
      }
      approval = outcome.approval;
    }
    const host = await this.hostConnection(client);
    if (!host) return record(approval ? { approval } : {});
    if (!(await session.durable())) return;
    const pty = this.ptyOption();
    const upstream = await new Promise<ClientChannel | Error>((resolve) => host.exec(command, { env: this.env, ...(pty ? { pty } : {}) }, (err, ch) => resolve(err ?? ch)));
    if (upstream instanceof Error) {
      refuseChannel(client, `hoop: the host refused the command: ${upstream.message}`, EXIT_UNREACHABLE, this.newline);
      record(approval ? { approval } : {});
      return;
    }
    this.host = upstream;
    const exit: ChannelExit = await relayChannel(client, upstream, {
      fromClient: (c) => (bytesIn += c.length),
      fromHost: (c) => stdout.add(c),
      fromHostStderr: (c) => stderr.add(c),
    });
    record({ ...(approval ? { approval } : {}), ...(exit.code !== undefined ? { exitStatus: exit.code } : {}), ...(exit.signal ? { exitSignal: exit.signal } : {}) });
  }

  private async subsystem(accept: () => ServerChannel, reject: () => void, name: string): Promise<void> {
    const { session } = this;
    if (name !== 'sftp' || session.connection.type === 'git') {
      session.refuse('subsystem', name, session.ctx.access.request('sftp'), true);
      return reject();
    }
    const decision = session.ctx.access.request('sftp');
    if (!this.recordChannel('subsystem', decision, name)) return reject();
    if (decision.action !== 'allow') return reject();
    const client = accept();
    const host = await this.hostConnection(client);
    if (!host || !(await session.durable())) return;
    const upstream = await new Promise<ClientChannel | Error>((resolve) => host.subsys('sftp', (err, ch) => resolve(err ?? ch)));
    if (upstream instanceof Error) return refuseChannel(client, `hoop: the host refused sftp: ${upstream.message}`, EXIT_UNREACHABLE, this.newline);
    this.host = upstream;
    const observer = new SftpObserver((op) => {
      session.record({ type: 'sftp.op', channel: this.id, ...op, path: session.mask(op.path), ...(op.target ? { target: session.mask(op.target) } : {}) });
      // Fail closed: file operations that can no longer be followed must not go on unrecorded.
      if (op.op === 'protocol-error') upstream.close();
    });
    await relayChannel(client, upstream, { fromClient: (c) => observer.fromClient(c), fromHost: (c) => observer.fromServer(c) });
    observer.close();
  }
}
