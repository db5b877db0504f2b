import type { Duplex } from 'node:stream';
import { createWebSocketStream, type WebSocket } from 'ws';

/**
 * The byte stream a tunnel's WebSocket carries, as both ends use it.
 *
 * ws ends the stream's readable side when the WebSocket closes, but emits 'close' only once the
 * writable side has finished as well, and that waits for the TCP socket to finish. A peer that
 * resets the connection (it closed with bytes of ours unread, which the kernel answers with a
 * RST) leaves the socket destroyed and never finished: the stream then ends without ever closing,
 * and a session waiting for 'close' is never ended nor recorded as ended. Once the readable side
 * has ended the WebSocket is closed and nothing written can reach the peer, so the stream is
 * destroyed there.
 */
export function tunnelStream(ws: WebSocket): Duplex {
  const stream = createWebSocketStream(ws, { allowHalfOpen: false });
  stream.once('end', () => stream.destroy());
  return stream;
}
