/**
 * ReceivePackGuard: holds a `git push` (a `git-receive-pack '<path>'` exec channel) until the
 * engine has decided on its ref updates, then either lets the original bytes through untouched or
 * answers the client itself with a per-ref rejection while the backend changes nothing.
 *
 * ## How the engine wires it
 *
 *   client (SSH channel) ──data──▶ guard.onClientData(chunk) ──io.toServer(bytes)──▶ backend stdin
 *   client EOF ────────────────▶ guard.onClientEnd()        ──io.endServer()──────▶ end backend stdin
 *   backend stdout ──data──────▶ guard.onServerData(chunk) ──io.toClient(bytes)──▶ client (channel stdout)
 *   backend stdout EOF ────────▶ guard.onServerEnd()
 *   backend stderr ───────────────────────────────────────────────────────────────▶ client (channel stderr)
 *
 * Every client and backend byte goes through the guard; the guard never writes anywhere itself
 * except through `ReceivePackIo`. `relayReceivePack` (./relay.ts) does this wiring for Node streams,
 * backpressure included; use it unless the engine needs something it does not do.
 *
 * ## The contract, step by step (protocol v0/v1; receive-pack has no v2)
 *
 * 1. The backend speaks first: its ref advertisement passes through to the client unchanged.
 * 2. The client sends its command list (pkt-lines up to a flush). The guard keeps it, forwards
 *    nothing, and calls `decide(updates, capabilities, { progress })`. An empty list (the client has
 *    nothing to push) is let through at once without asking.
 * 3. While `decide` is pending, what the client sends next (push options, the pack) is held.
 *    Above HOLD_LIMIT_BYTES the guard calls `io.pauseClient()`; it calls `io.resumeClient()` once
 *    it has decided. The engine must stop reading the channel while paused (SSH window closes).
 *    `progress(text)` (also `guard.progress`) tells the waiting user what is going on: as a
 *    side-band progress frame (git prints `remote: <text>`) when the client negotiated side-band and
 *    the backend is silent, which it is while waiting for commands; otherwise through
 *    `io.toClientStderr(text)`, for the engine to write on the channel's stderr.
 * 4. Allowed: the held bytes go to the backend exactly as received, then everything passes through
 *    unparsed. The guard reads the backend's report-status on the side (never delays or changes it)
 *    so `outcome` can say what the backend did with each ref. The session ends as usual: when the
 *    backend exits, the engine closes the channel with the backend's exit status.
 * 5. Denied: the guard sends the backend an empty command list (a lone flush-pkt, git's "nothing
 *    to push") and calls `io.endServer()` at once, before a byte of the commands is forwarded, so
 *    the backend's receive-pack exits 0 having run no hook and changed nothing. From then on the
 *    backend's exit and output are NOT the end of the session (its stdout is dropped; the engine
 *    should drop its stderr too). The guard writes the rejection with `io.toClient` right away
 *    (report-status: `unpack ok` + `ng <ref> <reason>` per ref + flush, in side-band channel 1
 *    followed by a flush when side-band was negotiated), then reads and discards what the client
 *    still sends until it has sent everything: the pack ends with the client's EOF (send-pack
 *    closes its side after the pack); a delete-only push sends no pack and is done after its
 *    commands and push options. Then it calls `io.finishClient(exitStatus)`: the engine sends that
 *    exit status (DENY_EXIT_STATUS when the client got a report, as receive-pack exits 0 after
 *    rejecting refs; git push still exits non-zero because refs were rejected), ends and closes
 *    the channel, and kills the backend if it has not exited. Closing before finishClient would
 *    break the pipe under a client still writing its pack.
 *    A `decide` that rejects is a denial (DECISION_FAILED_REASON): fail closed. A signed push
 *    (push certificate) is denied without asking: hoop does not verify certificates.
 * 6. Anything unparseable in the command list is refused (fail closed): nothing of it is
 *    forwarded, the backend is dismissed as in 5, a message goes to the client's stderr and
 *    `io.finishClient(REFUSED_EXIT_STATUS)` is called.
 * 7. The client leaving before its command list is complete: the guard dismisses the backend as in
 *    5 without forwarding the partial list; the session ends with the backend (`outcome`: aborted).
 * 8. The session ending any other way (channel closed, backend gone during the hold, shutdown):
 *    call `guard.close()`; a decision that arrives later is ignored.
 */
import {
  capability,
  ReceiveCommandParser,
  type ReceiveCommandList,
  type RefUpdate,
} from './commands.js';
import {
  encodePkt,
  encodeSideband,
  FLUSH_PKT,
  GitProtocolError,
  MAX_PKT_BYTES,
  PktLineReader,
  pktText,
  SIDEBAND_SMALL_PKT_BYTES,
  SidebandChannel,
  type Pkt,
} from './pktline.js';

/** Held client bytes (push options, pack) above which the client is paused until the decision. */
export const HOLD_LIMIT_BYTES = 1024 * 1024;
/** A rejection reason is one line of at most this many bytes (git prints it in parentheses). */
export const MAX_REASON_BYTES = 400;
/** Progress messages are cut to this size. */
export const MAX_PROGRESS_BYTES = 4096;
/** Exit status for a denied push answered with report-status: the refs say why, as receive-pack does. */
export const DENY_EXIT_STATUS = 0;
/** Exit status when the client gets no per-ref report (no report-status, or a refused command list). */
export const REFUSED_EXIT_STATUS = 1;
/** Prefix of every line hoop writes to a git client. */
export const MESSAGE_PREFIX = 'hoop: ';
export const SIGNED_PUSH_REASON = 'signed pushes (git push --signed) are not supported through hoop';
export const DECISION_FAILED_REASON = 'hoop could not decide on this push';
export const DEFAULT_DENY_REASON = 'denied by hoop';

export type PushDecision =
  | { readonly allow: true }
  | {
      readonly allow: false;
      /** Shown for every ref that has no entry in `perRef`. */
      readonly reason: string;
      readonly perRef?: ReadonlyMap<string, string>;
    };

export interface DecideContext {
  /** Shows `text` to the waiting user (see step 3 of the contract). */
  progress(text: string): ProgressRoute;
}

export type DecidePush = (
  updates: readonly RefUpdate[],
  capabilities: readonly string[],
  ctx: DecideContext,
) => Promise<PushDecision>;

/** Where a progress message went. */
export type ProgressRoute = 'sideband' | 'stderr';

export interface ReceivePackIo {
  /** Bytes for the backend's stdin, in order. */
  toServer(bytes: Buffer): void;
  /** End the backend's stdin (client EOF passed on, or a denied push). Called at most once. */
  endServer(): void;
  /** Bytes for the client (the channel's stdout), in order. */
  toClient(bytes: Buffer): void;
  /** Text for the client's stderr (the channel's extended data). */
  toClientStderr(text: string): void;
  /** Stop reading the client until `resumeClient`. */
  pauseClient(): void;
  resumeClient(): void;
  /**
   * The guard answered the client itself (denied or refused): send `exitStatus`, end and close the
   * channel, make sure the backend is gone. Called at most once, after the last `toClient`.
   */
  finishClient(exitStatus: number): void;
}

/** What the backend reported for one ref on an allowed push. */
export type RefResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export interface ServerReport {
  /** "ok", or the backend's unpack error. */
  readonly unpack: string;
  readonly refs: ReadonlyMap<string, RefResult>;
}

export type ReceivePackOutcome =
  /** The client had nothing to push (an empty command list); nothing was asked. */
  | { readonly kind: 'empty' }
  | {
      readonly kind: 'allowed';
      readonly commands: ReceiveCommandList;
      /** The backend's report-status; null when the client asked for none or it could not be read. */
      readonly serverReport: ServerReport | null;
      /** Text the backend sent on side-band channel 3 (a fatal error), if any. */
      readonly serverError: string | null;
    }
  | {
      readonly kind: 'denied';
      readonly commands: ReceiveCommandList;
      /** The reason written for each ref. */
      readonly perRef: ReadonlyMap<string, string>;
      readonly exitStatus: number;
      /** The decision callback failed: the push was denied because of it. */
      readonly decisionError?: unknown;
    }
  /** The command list could not be parsed, or asked for something hoop does not support. */
  | { readonly kind: 'refused'; readonly error: GitProtocolError; readonly exitStatus: number }
  /** The client or the session went away before the decision took effect. */
  | { readonly kind: 'aborted' };

type Phase =
  /** Reading the command list. */
  | 'commands'
  /** Waiting for `decide`; client bytes are held. */
  | 'deciding'
  /** Allowed (or empty): everything passes. */
  | 'passthrough'
  /** Denied: discarding the client's input until the rejection can be written. */
  | 'denied'
  /** The guard is done with the client (denied/refused answered, or aborted). */
  | 'finished';

type ServerPhase =
  | 'advertisement'
  /** The advertisement ended with its flush and nothing came since. */
  | 'silent'
  | 'report'
  | 'done'
  /** Observation stopped (unexpected bytes); forwarding is unaffected. */
  | 'untracked';

/** One line of a message: control characters become spaces, length is capped. */
export function oneLine(text: string, maxBytes: number): string {
  let line = text.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  while (Buffer.byteLength(line) > maxBytes) line = line.slice(0, Math.max(0, line.length - 8)).trimEnd() + '…';
  return line;
}

function sidebandPktBytes(capabilities: readonly string[]): number | null {
  if (capability(capabilities, 'side-band-64k') !== undefined) return MAX_PKT_BYTES;
  if (capability(capabilities, 'side-band') !== undefined) return SIDEBAND_SMALL_PKT_BYTES;
  return null;
}

export function wantsReportStatus(capabilities: readonly string[]): boolean {
  return capability(capabilities, 'report-status') !== undefined || capability(capabilities, 'report-status-v2') !== undefined;
}

/** The reason each ref of a denied push gets. */
export function denialReasons(updates: readonly RefUpdate[], reason: string, perRef?: ReadonlyMap<string, string>): Map<string, string> {
  const fallback = oneLine(reason, MAX_REASON_BYTES) || DEFAULT_DENY_REASON;
  const out = new Map<string, string>();
  for (const u of updates) {
    const own = perRef?.get(u.ref);
    out.set(u.ref, (own === undefined ? '' : oneLine(own, MAX_REASON_BYTES)) || fallback);
  }
  return out;
}

export interface DenialBytes {
  /** For the client's stdout (may be empty). */
  readonly toClient: Buffer;
  /** For the client's stderr (may be empty). */
  readonly toStderr: string;
  readonly exitStatus: number;
}

/**
 * What receive-pack would have written had it rejected every ref itself:
 *
 *   report-status:     PKT("unpack ok\n") PKT("ng <ref> <reason>\n")… FLUSH
 *   with side-band:    that report in channel-1 frames, then FLUSH (the end of the side-band stream)
 *   no report-status:  a channel-3 frame (side-band) or stderr text, and a non-zero exit status
 */
export function encodeDenial(commands: ReceiveCommandList, reasons: ReadonlyMap<string, string>): DenialBytes {
  const sideband = sidebandPktBytes(commands.capabilities);
  if (wantsReportStatus(commands.capabilities)) {
    const report: Buffer[] = [encodePkt('unpack ok\n')];
    for (const u of commands.updates) report.push(encodePkt(`ng ${u.ref} ${reasons.get(u.ref) ?? DEFAULT_DENY_REASON}\n`));
    report.push(FLUSH_PKT);
    const body = Buffer.concat(report);
    return {
      toClient: sideband === null ? body : Buffer.concat([encodeSideband(SidebandChannel.data, body, sideband), FLUSH_PKT]),
      toStderr: '',
      exitStatus: DENY_EXIT_STATUS,
    };
  }
  const lines = commands.updates.map((u) => `${MESSAGE_PREFIX}push to ${u.ref} rejected: ${reasons.get(u.ref) ?? DEFAULT_DENY_REASON}\n`).join('');
  if (sideband !== null) {
    return { toClient: Buffer.concat([encodeSideband(SidebandChannel.error, lines, sideband), FLUSH_PKT]), toStderr: '', exitStatus: REFUSED_EXIT_STATUS };
  }
  return { toClient: Buffer.alloc(0), toStderr: lines, exitStatus: REFUSED_EXIT_STATUS };
}

/** Parses the backend's report-status lines (inside side-band channel 1 when negotiated). */
class ReportReader {
  private readonly reader = new PktLineReader('server report');
  private unpack: string | null = null;
  private readonly refs = new Map<string, RefResult>();
  complete = false;

  /** Bytes of a report carried in side-band channel 1 (frames may split its pkt-lines anywhere). */
  push(bytes: Buffer): void {
    this.reader.push(bytes);
    for (let pkt = this.reader.next(); pkt && !this.complete; pkt = this.reader.next()) this.line(pkt);
  }

  result(): ServerReport | null {
    return this.unpack === null ? null : { unpack: this.unpack, refs: this.refs };
  }

  /** One pkt-line of a report sent without side-band. */
  line(pkt: Pkt): void {
    if (this.complete) return;
    if (pkt.type === 'flush') {
      this.complete = true;
      return;
    }
    if (pkt.type !== 'data') throw new GitProtocolError('bad-line', `unexpected ${pkt.type} packet in report-status`);
    const text = pktText(pkt.payload).toString('utf8');
    if (this.unpack === null) {
      if (!text.startsWith('unpack ')) throw new GitProtocolError('bad-line', 'report-status does not start with "unpack"');
      this.unpack = text.slice('unpack '.length);
    } else if (text.startsWith('ok ')) {
      this.refs.set(text.slice(3), { ok: true });
    } else if (text.startsWith('ng ')) {
      const rest = text.slice(3);
      const space = rest.indexOf(' ');
      if (space < 0) this.refs.set(rest, { ok: false, reason: '' });
      else this.refs.set(rest.slice(0, space), { ok: false, reason: rest.slice(space + 1) });
    }
    // report-status-v2 `option <key> <value>` lines describe the preceding ref: not needed here.
  }
}

export class ReceivePackGuard {
  private readonly io: ReceivePackIo;
  private readonly decide: DecidePush;
  private phase: Phase = 'commands';
  private readonly clientReader = new PktLineReader('client');
  private readonly parser = new ReceiveCommandParser();
  private commands: ReceiveCommandList | null = null;
  /** Every client byte received while not passing through, in order, as received. */
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** The part of `held` after the command list's flush (push options, pack). */
  private afterCommands: Buffer[] = [];
  private clientEnded = false;
  private clientPaused = false;
  private serverEnded = false;
  private serverEndSent = false;

  private serverPhase: ServerPhase = 'advertisement';
  private readonly serverReader = new PktLineReader('server');
  private reportReader: ReportReader | null = null;
  private serverError: string | null = null;
  private serverCaps: string[] | null = null;

  // Denied: the answer given, and what the client may still send before the session can end.
  private denial: { reasons: Map<string, string>; exitStatus: number; decisionError?: unknown } | null = null;
  private pushOptionsReader: PktLineReader | null = null;
  private packExpected = false;

  private settle!: (outcome: ReceivePackOutcome) => void;
  private settled = false;
  private settledKind: ReceivePackOutcome['kind'] | null = null;
  /** Resolves once the push's fate is known and, for an allowed push, its report has been read. */
  readonly outcome: Promise<ReceivePackOutcome>;

  constructor(io: ReceivePackIo, decide: DecidePush) {
    this.io = io;
    this.decide = decide;
    this.outcome = new Promise((resolve) => {
      this.settle = resolve;
    });
  }

  /** The parsed command list, once complete. */
  get commandList(): ReceiveCommandList | null {
    return this.commands;
  }

  /** The capabilities the backend advertised, once its advertisement has been read. */
  get serverCapabilities(): readonly string[] | null {
    return this.serverCaps;
  }

  /** True once the guard answers the client itself (denied, refused): the backend's exit does not end the session. */
  get answersClient(): boolean {
    return this.denial !== null || this.settledKind === 'refused';
  }

  onClientData(chunk: Buffer): void {
    if (chunk.length === 0) return;
    switch (this.phase) {
      case 'commands':
        this.hold(chunk);
        this.readCommands(chunk);
        return;
      case 'deciding':
        this.hold(chunk);
        this.afterCommands.push(chunk);
        return;
      case 'passthrough':
        this.io.toServer(chunk);
        return;
      case 'denied':
        this.drain(chunk);
        return;
      case 'finished':
        return;
    }
  }

  onClientEnd(): void {
    if (this.clientEnded) return;
    this.clientEnded = true;
    switch (this.phase) {
      case 'commands':
        this.phase = 'finished';
        this.release();
        this.dismissServer();
        this.finish({ kind: 'aborted' });
        return;
      case 'passthrough':
        this.endServer();
        return;
      case 'denied':
        this.maybeFinish();
        return;
      default:
        // 'deciding': passed on (or not) once decided.
        return;
    }
  }

  onServerData(chunk: Buffer): void {
    if (chunk.length === 0) return;
    // Once the guard answers the client, the backend's bytes would corrupt that answer.
    if (this.denial !== null || this.settledKind === 'refused') return;
    this.io.toClient(chunk);
    this.observeServer(chunk);
  }

  onServerEnd(): void {
    this.serverEnded = true;
    if (this.phase === 'passthrough' && this.settledKind === null && this.commands !== null) this.settleAllowed();
  }

  /**
   * The session is over (channel closed, gateway shutting down): stop waiting. A pending decision
   * is ignored when it arrives.
   */
  close(): void {
    if (this.phase === 'deciding' || this.phase === 'commands') {
      this.phase = 'finished';
      this.release();
      this.dismissServer();
    }
    if (this.phase === 'passthrough' && this.commands !== null && this.settledKind === null) {
      this.settleAllowed();
      return;
    }
    if (this.phase === 'denied') {
      // The rejection was written; only the client's remaining input is no longer awaited.
      this.phase = 'finished';
      this.settleDenied();
      return;
    }
    this.finish({ kind: 'aborted' });
  }

  /** Shows `text` to the user of a held push; see the contract (step 3). */
  progress(text: string): ProgressRoute {
    let message = text.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, ' ');
    if (Buffer.byteLength(message) > MAX_PROGRESS_BYTES) message = Buffer.from(message).subarray(0, MAX_PROGRESS_BYTES).toString('utf8');
    if (!message.endsWith('\n')) message += '\n';
    const sideband = this.commands === null ? null : sidebandPktBytes(this.commands.capabilities);
    if (sideband !== null && this.canInject()) {
      this.io.toClient(encodeSideband(SidebandChannel.progress, message, sideband));
      return 'sideband';
    }
    this.io.toClientStderr(message);
    return 'stderr';
  }

  /**
   * A side-band frame may go to the client only while the backend is known to be silent and
   * between pkt-lines: after its advertisement and before it has seen any command (it waits for
   * them). The client reads side-band frames all along: send-pack starts its demultiplexer
   * before it writes the pack. Once a denial is written, its closing flush ended the side-band
   * stream, so later text goes to stderr.
   */
  private canInject(): boolean {
    return this.phase === 'deciding' && this.serverPhase === 'silent' && this.serverReader.atBoundary;
  }

  private hold(chunk: Buffer): void {
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    if (this.phase === 'deciding' && this.heldBytes > HOLD_LIMIT_BYTES && !this.clientPaused) {
      this.clientPaused = true;
      this.io.pauseClient();
    }
  }

  private release(): void {
    this.held = [];
    this.afterCommands = [];
    this.heldBytes = 0;
    if (this.clientPaused) {
      this.clientPaused = false;
      this.io.resumeClient();
    }
  }

  private endServer(): void {
    if (this.serverEndSent) return;
    this.serverEndSent = true;
    this.io.endServer();
  }

  /**
   * Lets the backend go without a byte of the client's commands: an empty command list (a lone
   * flush) is "nothing to push", so receive-pack exits 0 having run no hook and changed nothing,
   * instead of dying on a hang-up and printing "fatal: the remote end hung up unexpectedly".
   */
  private dismissServer(): void {
    if (this.serverEndSent) return;
    this.io.toServer(FLUSH_PKT);
    this.endServer();
  }

  private readCommands(chunk: Buffer): void {
    try {
      this.clientReader.push(chunk);
      for (let pkt = this.clientReader.next(); pkt; pkt = this.clientReader.next()) {
        if (this.parser.add(pkt)) {
          this.commands = this.parser.result();
          const rest = this.clientReader.takeRest();
          if (rest.length > 0) this.afterCommands.push(rest);
          this.commandsComplete(this.commands);
          return;
        }
      }
    } catch (err) {
      if (err instanceof GitProtocolError) {
        this.refuse(err);
        return;
      }
      throw err;
    }
  }

  private commandsComplete(commands: ReceiveCommandList): void {
    if (commands.updates.length === 0 && !commands.signed) {
      this.passThrough();
      this.finish({ kind: 'empty' });
      return;
    }
    if (commands.signed) {
      // Fail closed: the certificate's commands would be the ones applied, and hoop does not
      // verify signatures. Each ref still gets a readable rejection.
      if (commands.updates.length === 0) this.refuse(new GitProtocolError('bad-line', SIGNED_PUSH_REASON));
      else this.deny(new Map(commands.updates.map((u) => [u.ref, SIGNED_PUSH_REASON])));
      return;
    }
    this.phase = 'deciding';
    if (this.heldBytes > HOLD_LIMIT_BYTES && !this.clientPaused) {
      this.clientPaused = true;
      this.io.pauseClient();
    }
    const ctx: DecideContext = { progress: (text) => this.progress(text) };
    Promise.resolve()
      .then(() => this.decide(commands.updates, commands.capabilities, ctx))
      .then(
        (decision) => this.decided(commands, decision),
        (err: unknown) => this.decided(commands, { allow: false, reason: DECISION_FAILED_REASON }, err),
      );
  }

  private decided(commands: ReceiveCommandList, decision: PushDecision, decisionError?: unknown): void {
    if (this.phase !== 'deciding') return;
    if (decision.allow === true) {
      this.passThrough();
      return;
    }
    this.deny(denialReasons(commands.updates, decision.reason, decision.perRef), decisionError);
  }

  private passThrough(): void {
    this.phase = 'passthrough';
    const held = this.held;
    this.held = [];
    for (const chunk of held) this.io.toServer(chunk);
    this.release();
    if (this.clientEnded) this.endServer();
    if (this.serverEnded && this.commands !== null && this.commands.updates.length > 0) this.settleAllowed();
  }

  private deny(reasons: Map<string, string>, decisionError?: unknown): void {
    const commands = this.commands!;
    this.phase = 'denied';
    // The answer goes out now, while the client may still be sending its pack: git reads it once
    // the pack is written (its side-band demultiplexer buffers it meanwhile), and a client that
    // waits for the report before closing its side is not left hanging.
    const answer = encodeDenial(commands, reasons);
    this.denial = { reasons, exitStatus: answer.exitStatus, ...(decisionError === undefined ? {} : { decisionError }) };
    this.dismissServer();
    this.packExpected = commands.updates.some((u) => u.kind !== 'delete');
    if (capability(commands.capabilities, 'push-options') !== undefined) this.pushOptionsReader = new PktLineReader('client');
    if (answer.toClient.length > 0) this.io.toClient(answer.toClient);
    if (answer.toStderr.length > 0) this.io.toClientStderr(answer.toStderr);
    const pending = this.afterCommands;
    this.release();
    for (const chunk of pending) this.drain(chunk);
    this.maybeFinish();
  }

  /** Discards client input, following the push-options section when there is one. */
  private drain(chunk: Buffer): void {
    const reader = this.pushOptionsReader;
    if (reader === null) return;
    try {
      reader.push(chunk);
      for (let pkt = reader.next(); pkt; pkt = reader.next()) {
        if (pkt.type === 'flush') {
          this.pushOptionsReader = null;
          reader.takeRest();
          break;
        }
      }
    } catch {
      // Garbage where push options belong: the session ends with the client's EOF instead.
      this.pushOptionsReader = null;
      this.packExpected = true;
    }
    this.maybeFinish();
  }

  /**
   * Ends a denied session once the client has sent all it will: its EOF, or — for a delete-only
   * push, which has no pack — the end of its commands and push options. Closing earlier would
   * break the pipe under a client still writing, and git would print that instead of the report.
   */
  private maybeFinish(): void {
    if (this.phase !== 'denied' || this.denial === null) return;
    const inputDone = this.clientEnded || (this.pushOptionsReader === null && !this.packExpected);
    if (!inputDone) return;
    this.phase = 'finished';
    this.io.finishClient(this.denial.exitStatus);
    this.settleDenied();
  }

  private settleDenied(): void {
    const { reasons, exitStatus, decisionError } = this.denial!;
    this.finish({
      kind: 'denied',
      commands: this.commands!,
      perRef: reasons,
      exitStatus,
      ...(decisionError === undefined ? {} : { decisionError }),
    });
  }

  private refuse(error: GitProtocolError): void {
    if (this.phase === 'finished') return;
    this.phase = 'finished';
    this.settledKind = 'refused';
    this.release();
    this.dismissServer();
    this.io.toClientStderr(`${MESSAGE_PREFIX}push refused: ${oneLine(error.message, MAX_REASON_BYTES)}\n`);
    this.io.finishClient(REFUSED_EXIT_STATUS);
    this.finish({ kind: 'refused', error, exitStatus: REFUSED_EXIT_STATUS });
  }

  private observeServer(chunk: Buffer): void {
    if (this.serverPhase === 'untracked' || this.serverPhase === 'done') return;
    try {
      this.serverReader.push(chunk);
      for (let pkt = this.serverReader.next(); pkt; pkt = this.serverReader.next()) {
        this.serverPkt(pkt);
        if ((this.serverPhase as ServerPhase) === 'done') {
          this.serverReader.takeRest();
          break;
        }
      }
    } catch {
      this.serverPhase = 'untracked';
      this.serverReader.takeRest();
    }
    if (this.reportReader?.complete && this.phase === 'passthrough' && this.settledKind === null) this.settleAllowed();
  }

  private serverPkt(pkt: Pkt): void {
    if (this.serverPhase === 'advertisement') {
      if (pkt.type === 'flush') {
        this.serverPhase = 'silent';
      } else if (pkt.type === 'data' && this.serverCaps === null) {
        const nul = pkt.payload.indexOf(0);
        if (nul >= 0) this.serverCaps = pktText(pkt.payload.subarray(nul + 1)).toString('utf8').split(' ').filter(Boolean);
      }
      return;
    }
    // Anything after the advertisement answers the forwarded commands.
    const commands = this.commands;
    if (commands === null || this.phase !== 'passthrough') {
      this.serverPhase = 'untracked';
      return;
    }
    this.serverPhase = 'report';
    const report = wantsReportStatus(commands.capabilities) ? (this.reportReader ??= new ReportReader()) : null;
    if (sidebandPktBytes(commands.capabilities) === null) {
      if (report === null) throw new GitProtocolError('bad-line', 'server output without report-status or side-band');
      report.line(pkt);
      if (report.complete) this.serverPhase = 'done';
      return;
    }
    if (pkt.type === 'flush') {
      this.serverPhase = 'done';
      return;
    }
    if (pkt.type !== 'data' || pkt.payload.length === 0) throw new GitProtocolError('bad-line', 'bad side-band frame');
    const channel = pkt.payload[0];
    const body = pkt.payload.subarray(1);
    if (channel === SidebandChannel.data) {
      if (report !== null) report.push(Buffer.from(body));
    } else if (channel === SidebandChannel.error) {
      this.serverError = (this.serverError ?? '') + body.toString('utf8');
    } else if (channel !== SidebandChannel.progress) {
      throw new GitProtocolError('bad-line', `unknown side-band channel ${channel}`);
    }
  }

  private settleAllowed(): void {
    this.finish({
      kind: 'allowed',
      commands: this.commands!,
      serverReport: this.reportReader?.result() ?? null,
      serverError: this.serverError,
    });
  }

  private finish(outcome: ReceivePackOutcome): void {
    if (this.settled) return;
    this.settled = true;
    if (this.settledKind === null) this.settledKind = outcome.kind;
    this.settle(outcome);
  }
}
