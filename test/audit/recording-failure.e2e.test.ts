import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConnectProcess, type GatewayProcess, psql, startConnect, startGateway } from '../support/hoop.js';

/**
 * The store's writer thread failing (here: a trigger that refuses every insert, as a full disk
 * would) must stop the data path: what cannot be recorded does not run.
 */
describe('a failing store fails closed', () => {
  let gw: GatewayProcess;
  let tunnel: ConnectProcess;

  beforeAll(async () => {
    gw = await startGateway();
    const token = await gw.createToken('rec-fail');
    tunnel = await startConnect('pg-local', gw.url, token);
  });

  afterAll(async () => {
    await tunnel?.stop();
    await gw?.stop();
  });

  it('ends the session whose statement cannot be recorded, and refuses new sessions', async () => {
    const ok = await psql(tunnel.port, ['-Atc', 'select 41 + 1']);
    expect(ok.stdout).toBe('42');
    const db = new Database(join(gw.dir, 'data/hoop.db'));
    db.exec(`CREATE TRIGGER hoop_test_full BEFORE INSERT ON events BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END;`);
    db.close();
    const failed = await psql(tunnel.port, ['-Atc', 'select 6 * 7']);
    expect(failed.exitCode).not.toBe(0);
    expect(failed.stdout).not.toContain('42');
    expect(failed.stderr).toMatch(/recording failed|refuses new sessions/);
    const refused = await psql(tunnel.port, ['-Atc', 'select 1']);
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toMatch(/recording is failing; the gateway refuses new sessions|recording failed/);
    expect(gw.log()).toMatch(/recording failed/);
  });
});
