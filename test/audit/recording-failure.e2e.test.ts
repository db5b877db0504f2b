import { readFileSync, readdirSync } from 'node:fs';
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

  it('refuses new sessions once the store cannot take what was recorded, and keeps the acknowledged in the journal', async () => {
    const ok = await psql(tunnel.port, ['-Atc', 'select 41 + 1']);
    expect(ok.stdout).toBe('42');
    const db = new Database(join(gw.dir, 'data/hoop.db'));
    db.exec(`CREATE TRIGGER hoop_test_full BEFORE INSERT ON events BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END;`);
    db.close();
    // The next statement is acknowledged once it is in the journal; the store write behind it fails.
    const next = await psql(tunnel.port, ['-Atc', `select 'journaled_${process.pid}'`]);
    for (let i = 0; i < 100 && !/recording failed/.test(gw.log()); i++) await new Promise((res) => setTimeout(res, 100));
    const refused = await psql(tunnel.port, ['-Atc', 'select 1']);
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toMatch(/recording is failing; the gateway refuses new sessions|recording failed/);
    if (next.exitCode === 0) {
      // What the client saw acknowledged is kept in the journal for the next start, not lost.
      const journal = readdirSync(join(gw.dir, 'data')).find((n) => n.startsWith('journal-'));
      expect(readFileSync(join(gw.dir, 'data', journal!), 'utf8')).toContain(`journaled_${process.pid}`);
    }
    expect(gw.log()).toMatch(/recording failed/);
  });
});
