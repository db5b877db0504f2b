import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import type { VerifyResult } from '../../src/audit/verify.js';
import type { SessionSummary } from '../../src/store/store.js';
import { HOOP_BIN, hoop } from '../support/hoop.js';
import { createFixture, openDb, type Fixture } from './fixtures.js';

const DAY = 86_400_000;

/** Starts `hoop gateway` on a config and resolves once its first retention run has logged. */
async function gatewayUntilRetention(configPath: string): Promise<{ child: ChildProcess; entry: Record<string, unknown>; log: () => string }> {
  const child = spawn('node', [HOOP_BIN, 'gateway', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const entry = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no retention run logged:\n${log}`)), 30_000);
    createInterface({ input: child.stderr! }).on('line', (line) => {
      log += `${line}\n`;
      try {
        const e = JSON.parse(line) as Record<string, unknown>;
        if (e.msg === 'audit: retention applied') {
          clearTimeout(timer);
          resolve(e);
        }
      } catch {
        // a status line
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code}:\n${log}`));
    });
  });
  child.stdout!.resume();
  return { child, entry, log: () => log };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function verify(configPath: string): Promise<{ code: number | undefined; result: VerifyResult }> {
  const r = await hoop(['audit', 'verify', '--config', configPath, '--json']);
  return { code: r.exitCode, result: JSON.parse(String(r.stdout)) as VerifyResult };
}

describe('audit.retention in a running gateway', () => {
  const fixtures: Fixture[] = [];
  afterEach(() => {
    for (const f of fixtures.splice(0)) rmSync(f.dir, { recursive: true, force: true });
  });

  it('prunes at start what is older than the retention; the trail still verifies, and tampering is still caught', async () => {
    // The first session of the first chain is 400 days and ~30 s old; everything after it is younger.
    const f = await createFixture({ t0: Date.now() - 400 * DAY - 50_000 });
    fixtures.push(f);
    const [first, second] = f.chains as [string, string];
    const config = join(f.dir, 'gateway.yaml');
    writeFileSync(config, 'listen: 127.0.0.1:0\nstore: sqlite:./data/hoop.db\nlog:\n  level: info\naudit:\n  signingKey: ${file:keys/hoop-audit.key}\n  retention: 400d\n');

    const gw = await gatewayUntilRetention(config);
    try {
      expect(gw.entry).toMatchObject({ events: 19, sessions: 1, chains: [{ chain: first, throughSeq: 19, events: 19 }] });
    } finally {
      await stop(gw.child);
    }

    const v = await verify(config);
    expect(v.code, JSON.stringify(v.result.problems)).toBe(0);
    expect(v.result.chains.find((c) => c.chain === first)).toMatchObject({ firstSeq: 20, prunedThrough: 19, problem: null });
    expect(v.result.chains.find((c) => c.chain === second)).toMatchObject({ firstSeq: 1, prunedThrough: null, problem: null });

    const sessions = (JSON.parse(String((await hoop(['sessions', '--config', config, '--json'])).stdout)) as { sessions: SessionSummary[] }).sessions.map((s) => s.id);
    expect(sessions).not.toContain('s_a1');
    expect(sessions).toEqual(expect.arrayContaining(['s_a2', 's_b1', 's_b2']));

    // A restart finds nothing more to prune, and the trail still verifies.
    const again = await gatewayUntilRetention(config);
    await stop(again.child);
    expect(again.entry).toMatchObject({ events: 0 });
    expect((await verify(config)).code).toBe(0);

    // Tampering with what remains is still caught.
    const db = openDb(f);
    db.prepare("UPDATE events SET body = json_set(body, '$.sql', 'select 1') WHERE chain = ? AND chain_seq = 22").run(first);
    db.close();
    const tampered = await verify(config);
    expect(tampered.code).toBe(1);
    expect(tampered.result.problems[0]).toMatchObject({ chain: first, seq: 22, kind: 'altered' });
  });
});
