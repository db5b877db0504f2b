import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { tunnelStream } from '../../src/tunnel/stream.js';

/** A real WebSocket pair on loopback: the server end wrapped as the gateway wraps it. */
async function pair(): Promise<{ server: Duplex; client: WebSocket; wss: WebSocketServer }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const accepted = once(wss, 'connection') as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  await once(client, 'open');
  const [ws] = await accepted;
  return { server: tunnelStream(ws), client, wss };
}

/** Resolves true on 'close', false if it has not come within `ms` (so the test fails with a reason). */
function closes(stream: Duplex, ms = 5000): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    stream.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

describe('tunnelStream', () => {
  const servers: WebSocketServer[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
  });

  it('closes when the peer resets the connection instead of closing it', async () => {
    const { server, client, wss } = await pair();
    servers.push(wss);
    server.on('data', () => {});
    server.on('error', () => {});
    const closed = closes(server);
    // What the kernel does when a socket is closed with bytes of ours unread: a RST, no FIN.
    (client as unknown as { _socket: import('node:net').Socket })._socket.resetAndDestroy();
    expect(await closed).toBe(true);
  });

  it('hands over every byte sent before a normal close, then closes', async () => {
    const { server, client, wss } = await pair();
    servers.push(wss);
    const chunks: Buffer[] = [];
    server.on('data', (c: Buffer) => chunks.push(c));
    const closed = closes(server);
    client.send(Buffer.from('first '));
    client.send(Buffer.from('last'));
    client.close();
    expect(await closed).toBe(true);
    expect(Buffer.concat(chunks).toString()).toBe('first last');
  });

  it('lets the peer read what was written before the stream is destroyed', async () => {
    const { server, client, wss } = await pair();
    servers.push(wss);
    const got: Buffer[] = [];
    client.on('message', (m: Buffer) => got.push(m));
    const clientClosed = once(client, 'close');
    server.end(Buffer.from('bye'));
    await clientClosed;
    expect(Buffer.concat(got).toString()).toBe('bye');
  });
});
