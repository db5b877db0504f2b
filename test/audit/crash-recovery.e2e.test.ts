import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { type ConnectProcess, type GatewayProcess, hoop, psql, startConnect, startGateway } from '../support/hoop.js';

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
    const r = await psql(tunnel.port, ['-Atc', `select '${marker}'`]);
    expect(r.stdout).toBe(marker);
    gw.child.kill('SIGKILL');
    await new Promise((res) => gw.child.once('exit', res));
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
