import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConnectProcess, type GatewayProcess, pgBin, rssBytes, startConnect, startGateway } from '../support/hoop.js';

/**
 * With masking off the relay allocates next to nothing in V8's heap, so nothing but the gateway's
 * own collections (src/protocols/read-buffers.ts) frees the read buffers it has relayed; left to
 * V8 they pile up to its 64 MB allowance for memory outside the heap.
 */
describe('streaming with masking off', () => {
  let gw: GatewayProcess;
  let tunnel: ConnectProcess;

  beforeAll(async () => {
    gw = await startGateway({ extraYaml: 'masking:\n  enabled: false\n' });
    tunnel = await startConnect('pg-local', gw.url, await gw.createToken('stream-agent'));
  }, 60_000);

  afterAll(async () => {
    await tunnel?.stop();
    await gw?.stop();
  });

  const copyOut = async (rows: number): Promise<number> => {
    const child = spawn(
      pgBin('psql'),
      ['-h', '127.0.0.1', '-p', String(tunnel.port), '-U', 'hoop', '-d', 'pg-local', '-X', '-Atc', `copy (select repeat('x', 1000) from generate_series(1, ${rows})) to stdout`],
      { env: { ...process.env, PGSSLMODE: 'disable' }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let bytes = 0;
    child.stdout.on('data', (d: Buffer) => (bytes += d.length));
    expect(await new Promise<number | null>((r) => child.once('exit', r))).toBe(0);
    return bytes;
  };

  it('keeps the dead read buffers of a 200 MB result from piling up in the gateway', async () => {
    // Warm-up: the session's first statement loads the parser and the store's caches.
    expect(await copyOut(1000)).toBe(1000 * 1001);
    const pid = gw.child.pid!;
    const before = rssBytes(pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 20);
    try {
      expect(await copyOut(200_000)).toBe(200_000 * 1001);
    } finally {
      clearInterval(sampler);
    }
    // Without the collections: ~60 MB more. With them, what is dead stays near 4 MB.
    expect(peak - before, `gateway RSS grew from ${before} to ${peak}`).toBeLessThan(35 * 1024 * 1024);
  }, 120_000);
});
