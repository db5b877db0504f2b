import type { Readable, Writable } from 'node:stream';
import { ReceivePackGuard, type DecidePush } from './receive-pack.js';
import { UploadPackObserver } from './upload-pack.js';

/**
 * Node-stream wiring of the git guards, for an engine (SSH channel ↔ backend exec channel) and for
 * the tests (ssh-like relay process ↔ local git). Backpressure is kept in both directions: a
 * write that returns false pauses the reading side until 'drain'.
 *
 * None of these functions ends or closes the client's output: when `exitStatus` resolves, every
 * byte for the client has been handed to `client.output.write`, and the caller sends the exit
 * status and closes (for ssh2: `channel.exit(status); channel.end()`), then disposes of the backend.
 */
export interface ClientSide {
  /** What the git client sends (the channel's data). */
  readonly input: Readable;
  /** The channel's stdout. */
  readonly output: Writable;
  /** The channel's stderr (extended data). */
  readonly stderr: Writable;
}

export interface BackendSide {
  /** The backend command's stdin. */
  readonly input: Writable;
  /** The backend command's stdout. Its stderr is the caller's to relay. */
  readonly output: Readable;
  /** Resolves with the backend command's exit status once it has exited (null: killed by a signal). */
  readonly exited: Promise<number | null>;
}

export interface RelayResult {
  /** The exit status to send to the client once the session is over (null: the backend's was unknown). */
  readonly exitStatus: Promise<number | null>;
}

/** Pauses a readable for any of several reasons; resumes it when none is left. */
class PauseGate {
  private readonly reasons = new Set<string>();
  private readonly stream: Readable;

  constructor(stream: Readable) {
    this.stream = stream;
  }

  set(reason: string, on: boolean): void {
    if (on) this.reasons.add(reason);
    else this.reasons.delete(reason);
    if (this.reasons.size > 0) this.stream.pause();
    else this.stream.resume();
  }
}

/** Writes to `to`, pausing `gate` under reason `reason` while `to` is full. */
function writeWithBackpressure(to: Writable, bytes: Buffer, gate: PauseGate, reason: string): void {
  if (to.destroyed || to.writableEnded) return;
  if (!to.write(bytes)) {
    gate.set(reason, true);
    to.once('drain', () => gate.set(reason, false));
  }
}

function ignoreErrors(stream: Readable | Writable): void {
  // A peer going away mid-write (EPIPE) ends the session through 'end'/'close', not a crash.
  stream.on('error', () => {});
}

function backendDone(backend: BackendSide): Promise<number | null> {
  const outputEnded = new Promise<void>((resolve) => {
    if (backend.output.readableEnded) resolve();
    backend.output.once('end', resolve);
    backend.output.once('close', resolve);
  });
  return Promise.all([outputEnded, backend.exited]).then(([, status]) => status);
}

/** Relays a receive-pack (push) session through a ReceivePackGuard. */
export function relayReceivePack(opts: { client: ClientSide; backend: BackendSide; decide: DecidePush }): RelayResult & { guard: ReceivePackGuard } {
  const { client, backend } = opts;
  const clientGate = new PauseGate(client.input);
  const backendGate = new PauseGate(backend.output);
  let finishedBy: ((status: number) => void) | null = null;
  const guardFinished = new Promise<number>((resolve) => {
    finishedBy = resolve;
  });
  const guard = new ReceivePackGuard(
    {
      toServer: (bytes) => writeWithBackpressure(backend.input, bytes, clientGate, 'backend-full'),
      endServer: () => backend.input.end(),
      toClient: (bytes) => writeWithBackpressure(client.output, bytes, backendGate, 'client-full'),
      toClientStderr: (text) => {
        if (!client.stderr.destroyed) client.stderr.write(text);
      },
      pauseClient: () => clientGate.set('guard', true),
      resumeClient: () => clientGate.set('guard', false),
      finishClient: (status) => finishedBy?.(status),
    },
    opts.decide,
  );
  for (const s of [client.input, client.output, client.stderr, backend.input, backend.output]) ignoreErrors(s);
  client.input.on('data', (chunk: Buffer) => guard.onClientData(chunk));
  client.input.once('end', () => guard.onClientEnd());
  backend.output.on('data', (chunk: Buffer) => guard.onServerData(chunk));
  backend.output.once('end', () => guard.onServerEnd());

  const fromBackend = backendDone(backend).then((status) => ({ by: 'backend' as const, status }));
  const fromGuard = guardFinished.then((status) => ({ by: 'guard' as const, status }));
  const exitStatus = (async (): Promise<number | null> => {
    const first = await Promise.race([fromBackend, fromGuard]);
    if (first.by === 'guard') return first.status;
    // The backend exits right after a denial ends its stdin; the guard still owes the client its answer.
    if (guard.answersClient) return (await fromGuard).status;
    guard.close();
    return first.status;
  })();
  return { guard, exitStatus };
}

/** Relays an upload-pack (clone, fetch) or upload-archive session, observing what the client asks for. */
export function relayUploadPack(opts: { client: ClientSide; backend: BackendSide }): RelayResult & { observer: UploadPackObserver } {
  const { client, backend } = opts;
  const observer = new UploadPackObserver();
  const clientGate = new PauseGate(client.input);
  const backendGate = new PauseGate(backend.output);
  for (const s of [client.input, client.output, client.stderr, backend.input, backend.output]) ignoreErrors(s);
  client.input.on('data', (chunk: Buffer) => {
    observer.observe(chunk);
    writeWithBackpressure(backend.input, chunk, clientGate, 'backend-full');
  });
  client.input.once('end', () => backend.input.end());
  backend.output.on('data', (chunk: Buffer) => writeWithBackpressure(client.output, chunk, backendGate, 'client-full'));
  return { observer, exitStatus: backendDone(backend) };
}
