import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { type ConnectProcess, type GatewayProcess, hoop, pgBin, startConnect, startGateway } from '../support/hoop.js';

/**
 * Group commit's promise: a statement the client saw acknowledged is recorded, even when the
 * gateway is killed right after (before its batch reached the store). The journal carries it into
 * the store at the next start, and the trail still verifies.
 */
describe('a gateway killed right after an acknowledgment', () => {
  let gw: GatewayProcess;
  let restarted: GatewayProcess | undefined;
  let tunnel: ConnectProcess;

  afterAll(async () => {
    await tunnel?.stop();
    // The restarted gateway shares the first one's folder; stopping it removes the folder.
    await restarted?.stop();
  });

  it('loses nothing the client saw acknowledged', async () => {
    gw = await startGateway({ extraYaml: 'recording:\n  flushIntervalMs: 10000\n' });
    const token = await gw.createToken('crash-agent');
    tunnel = await startConnect('pg-local', gw.url, token);
    const marker = `acknowledged_before_crash_${process.pid}`;
    // The session stays open: its end (and anything that would flush the store) never happens.
    const client = spawn(pgBin('psql'), ['-h', '127.0.0.1', '-p', String(tunnel.port), '-U', 'hoop', '-d', 'x', '-X', '-At'], {
      env: { ...process.env, PGSSLMODE: 'disable' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    client.stdout.on('data', (d: Buffer) => (out += d.toString()));
    client.stdin.write(`select '${marker}';\n`);
    for (let i = 0; i < 200 && !out.includes(marker); i++) await new Promise((res) => setTimeout(res, 25));
    expect(out).toContain(marker);
    gw.child.kill('SIGKILL');
    await new Promise((res) => gw.child.once('exit', res));
    client.kill();
    expect(readdirSync(join(gw.dir, 'data')).some((n) => n.startsWith('journal-'))).toBe(true);

    restarted = await startGateway({ reuseDir: gw.dir });
    expect(restarted.log()).toMatch(/recovered recorded events from the journal/);
    const db = new Database(join(gw.dir, 'data/hoop.db'), { readonly: true });
    const found = db.prepare(`SELECT count(*) AS n FROM events WHERE type = 'statement' AND body LIKE ?`).get(`%${marker}%`) as { n: number };
    db.close();
    expect(found.n).toBe(1);
    const verify = await hoop(['audit', 'verify', '--config', join(gw.dir, 'hoop.yaml')]);
    expect(verify.exitCode, String(verify.stdout) + String(verify.stderr)).toBe(0);
  });
});
