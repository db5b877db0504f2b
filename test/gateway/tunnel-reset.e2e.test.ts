import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { encodeQuery, encodeStartupMessage } from '../../src/protocols/postgres/writer.js';
import { type GatewayProcess, LOCAL_PG_CONNECTION, hoop, startGateway } from '../support/hoop.js';

interface SessionRow {
  readonly id: string;
  readonly endedAt: number | null;
  readonly endReason: string | null;
  readonly statements: number;
}

describe('a tunnel whose client end resets the connection', () => {
  let gw: GatewayProcess;
  let token: string;

  beforeAll(async () => {
    gw = await startGateway({ connectionsYaml: LOCAL_PG_CONNECTION });
    token = await gw.createToken('reset-agent');
  }, 60_000);

  afterAll(async () => {
    await gw?.stop();
  });

  const sessions = async (): Promise<SessionRow[]> => {
    const r = await hoop(['sessions', '--json', '--gateway', gw.url, '--token', token]);
    return (JSON.parse(String(r.stdout)) as { sessions: SessionRow[] }).sessions;
  };

  it('still ends the session and records its end', async () => {
    let sessionId = '';
    const ws = new WebSocket(`${gw.url.replace(/^http/, 'ws')}/v1/tunnel/pg-local`, { headers: { Authorization: `Bearer ${token}` } });
    ws.once('upgrade', (res) => (sessionId = String(res.headers['x-hoop-session'] ?? '')));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    let received = Buffer.alloc(0);
    const readyCount = (): number => {
      // ReadyForQuery is 'Z', length 5, one status byte: count them in what arrived so far.
      let n = 0;
      for (let i = received.indexOf('Z\0\0\0\x05'); i >= 0; i = received.indexOf('Z\0\0\0\x05', i + 1)) n++;
      return n;
    };
    const untilReady = async (n: number) => {
      for (let i = 0; i < 200 && readyCount() < n; i++) await new Promise((res) => setTimeout(res, 25));
      expect(readyCount()).toBe(n);
    };
    ws.on('message', (m: Buffer) => (received = Buffer.concat([received, m])));
    ws.send(encodeStartupMessage({ user: 'postgres', database: 'test' }));
    await untilReady(1);
    ws.send(encodeQuery('select 1'));
    await untilReady(2);
    // A RST and no FIN, as the kernel sends when the client side closes with bytes unread.
    (ws as unknown as { _socket: Socket })._socket.resetAndDestroy();

    let row: SessionRow | undefined;
    for (let i = 0; i < 100; i++) {
      row = (await sessions()).find((s) => s.id === sessionId);
      if (row?.endedAt) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(sessionId).not.toBe('');
    expect(row).toMatchObject({ endReason: 'client-closed', statements: 1 });
    expect(row!.endedAt).toBeGreaterThan(0);
  });
});
