import type { ClientChannel, ServerChannel } from 'ssh2';
import { relayed } from '../read-buffers.js';

/** How a relayed channel ended on the host's side. */
export interface ChannelExit {
  readonly code?: number;
  readonly signal?: string;
  readonly coreDumped?: boolean;
  readonly description?: string;
}

export interface RelayTaps {
  /** What the client sent (stdin, keystrokes, SFTP requests). */
  readonly fromClient?: (chunk: Buffer) => void;
  /** What the host sent on stdout. */
  readonly fromHost?: (chunk: Buffer) => void;
  /** What the host sent on stderr. */
  readonly fromHostStderr?: (chunk: Buffer) => void;
}

/**
 * Joins a client's channel to the host's, byte for byte in both directions with SSH flow control
 * carried through (a slow reader stalls the writer's window, nothing piles up here), then hands
 * the host's exit status or signal to the client before closing its channel. The taps see every
 * chunk but cannot change it: SSH output is recorded, never rewritten.
 */
export function relayChannel(client: ServerChannel, host: ClientChannel, taps: RelayTaps = {}): Promise<ChannelExit> {
  return new Promise((resolve) => {
    let exit: ChannelExit = {};
    host.on('exit', (code: number | null, signal?: string, coreDumped?: boolean, description?: string) => {
      exit = code === null || code === undefined ? { ...(signal ? { signal: signal.replace(/^SIG/, '') } : {}), coreDumped: !!coreDumped, ...(description ? { description } : {}) } : { code };
    });
    // Counted so the gateway collects the dead read buffers (read-buffers.ts).
    client.on('data', (chunk: Buffer) => relayed(chunk.length));
    host.on('data', (chunk: Buffer) => relayed(chunk.length));
    if (taps.fromClient) client.on('data', taps.fromClient);
    if (taps.fromHost) host.on('data', taps.fromHost);
    if (taps.fromHostStderr) host.stderr.on('data', taps.fromHostStderr);
    // Client EOF becomes host EOF (`ssh host cmd < file` ends the command's stdin).
    client.pipe(host);
    host.pipe(client, { end: false });
    host.stderr.pipe(client.stderr, { end: false });

    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      client.unpipe(host);
      if (exit.code !== undefined) client.exit(exit.code);
      else if (exit.signal) client.exit(exit.signal, exit.coreDumped ?? false, exit.description ?? '');
      client.end();
      resolve(exit);
    };
    // ssh2 emits the host channel's 'close' after its stdout has ended; stderr may trail by a tick.
    host.once('close', () => {
      if (host.stderr.readableEnded || host.stderr.destroyed) finish();
      else {
        host.stderr.once('end', finish);
        setTimeout(finish, 2000).unref();
      }
    });
    // The client went away: take the host's channel down with it.
    client.once('close', () => {
      host.close();
      finish();
    });
  });
}
