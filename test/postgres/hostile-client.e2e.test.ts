import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../src/demo/random.js';
import { Backend, StartupCode } from '../../src/protocols/postgres/messages.js';
import { decodeErrorFields } from '../../src/protocols/postgres/reader.js';
import { encodeStartupMessage, encodeTyped } from '../../src/protocols/postgres/writer.js';
import { type ConnectProcess, type GatewayProcess, psql, startConnect, startGateway } from '../support/hoop.js';

/** Sends bytes to a fresh local connection and collects whatever comes back until the gateway closes it. */
function exchange(port: number, chunks: readonly Buffer[], waitMs = 3000): Promise<Buffer> {
  return new Promise((resolve) => {
    const got: Buffer[] = [];
    const s = net.connect(port, '127.0.0.1', () => {
      for (const c of chunks) s.write(c);
    });
    const timer = setTimeout(() => s.destroy(), waitMs);
    s.on('data', (d: Buffer) => got.push(d));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(got));
    });
  });
}

/** The SQLSTATE of the first ErrorResponse in a server byte stream, if any. */
function firstErrorCode(bytes: Buffer): string | undefined {
  let off = 0;
  while (off + 5 <= bytes.length) {
    const code = bytes[off]!;
    const len = bytes.readInt32BE(off + 1);
    if (len < 4 || off + 1 + len > bytes.length) return undefined;
    if (code === Backend.errorResponse) return decodeErrorFields(bytes.subarray(off + 5, off + 1 + len)).get(0x43);
    off += 1 + len;
  }
  return undefined;
}

const startup = encodeStartupMessage({ user: 'hoop', database: 'pg-local' });

describe('hostile and broken clients', () => {
  let gw: GatewayProcess;
  let tunnel: ConnectProcess;
  let healthy: pg.Client;

  beforeAll(async () => {
    gw = await startGateway();
    tunnel = await startConnect('pg-local', gw.url, await gw.createToken('fuzz-agent'));
    healthy = new pg.Client({ host: '127.0.0.1', port: tunnel.port, user: 'hoop', database: 'pg-local' });
    await healthy.connect();
  });

  afterAll(async () => {
    await healthy?.end().catch(() => {});
    await tunnel?.stop();
    await gw?.stop();
  });

  it('answers a malformed message after startup with a protocol error (08P01)', async () => {
    const bad = Buffer.concat([startup, Buffer.from([0x51, 0, 0, 0, 2])]); // Query with length 2
    const reply = await exchange(tunnel.port, [bad]);
    expect(firstErrorCode(reply)).toBe('08P01');
    expect(reply.toString('latin1')).toContain('protocol violation');
  });

  it('refuses an oversized message without reading it', async () => {
    const header = Buffer.from([0x51, 0x7f, 0xff, 0xff, 0xff]); // Query announcing ~2 GB
    const reply = await exchange(tunnel.port, [startup, header]);
    expect(firstErrorCode(reply)).toBe('08P01');
    expect(reply.toString('latin1')).toMatch(/exceeds the \d+-byte limit/);
  });

  it('refuses a bad startup packet', async () => {
    const len = Buffer.alloc(8);
    len.writeInt32BE(8, 0);
    len.writeInt32BE(0x00020000, 4); // protocol 2.0
    expect(firstErrorCode(await exchange(tunnel.port, [len]))).toBe('08P01');
    const huge = Buffer.alloc(8);
    huge.writeInt32BE(1_000_000, 0);
    huge.writeInt32BE(StartupCode.protocol3, 4);
    expect(firstErrorCode(await exchange(tunnel.port, [huge]))).toBe('08P01');
  });

  it('refuses startup settings that would change the session identity behind the policy', async () => {
    const r = await psql(tunnel.port, ['-Atc', 'select current_user'], { env: { PGOPTIONS: '-c role=postgres' } });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('hoop: setting role at connection time is not allowed through hoop');
    const ok = await psql(tunnel.port, ['-Atc', 'show statement_timeout'], { env: { PGOPTIONS: '-c statement_timeout=4321' } });
    expect(ok.stdout).toBe('4321ms');
  });

  it('survives random and truncated frames and keeps serving other sessions', async () => {
    const rand = createRng(20261121);
    const valid = [encodeTyped(0x51, Buffer.from('select 1\0')), encodeTyped(0x53, Buffer.alloc(0))];
    const cases: Buffer[][] = [];
    for (let i = 0; i < 40; i++) {
      const n = 1 + Math.floor(rand() * 200);
      const junk = Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
      if (i % 3 === 0) cases.push([junk]); // garbage instead of a startup packet
      else if (i % 3 === 1) cases.push([startup, junk]); // garbage after startup
      else {
        const msg = Buffer.concat(valid);
        cases.push([startup, msg.subarray(0, Math.floor(rand() * msg.length))]); // truncated, then the client vanishes
      }
    }
    // Several at a time, as a real attacker would.
    for (let i = 0; i < cases.length; i += 8) {
      await Promise.all(cases.slice(i, i + 8).map((c) => exchange(tunnel.port, c, 1500)));
    }
    // The long-lived session opened before all this still works, and new ones open.
    expect((await healthy.query('select 42 as v')).rows[0].v).toBe(42);
    const fresh = new pg.Client({ host: '127.0.0.1', port: tunnel.port, user: 'hoop', database: 'pg-local' });
    await fresh.connect();
    expect((await fresh.query('select 7 as v')).rows[0].v).toBe(7);
    await fresh.end();
    expect(gw.child.exitCode).toBeNull();
  });
});
