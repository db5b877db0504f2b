import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { VerifyResult } from '../../src/audit/verify.js';
import { HOOP_BIN, hoop, startConnect, startGateway, type GatewayProcess } from '../support/hoop.js';

/**
 * The trail end to end: a real `hoop gateway` process relaying to the real PostgreSQL, stopped
 * cleanly or killed with SIGKILL mid-run, then judged by the real `hoop audit verify`.
 */

interface Run {
  readonly url: string;
  readonly child: ChildProcess;
  readonly log: () => string;
}

/** Starts `hoop gateway` on an existing config (the harness's startGateway always makes a new one). */
async function runGateway(configPath: string): Promise<Run> {
  const child = spawn('node', [HOOP_BIN, 'gateway', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${log}`)), 30_000);
    createInterface({ input: child.stderr! }).on('line', (line) => {
      log += `${line}\n`;
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'gateway listening' && entry.url) {
          clearTimeout(timer);
          resolve(entry.url);
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
  return { url, child, log: () => log };
}

function logEntries(log: string, msg: string): Record<string, unknown>[] {
  return log
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => e.msg === msg);
}

async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

async function verify(configPath: string): Promise<{ code: number | undefined; result: VerifyResult; stderr: string }> {
  const r = await hoop(['audit', 'verify', '--config', configPath, '--json']);
  return { code: r.exitCode, result: JSON.parse(String(r.stdout)) as VerifyResult, stderr: String(r.stderr) };
}

async function exec(url: string, token: string, sql: string): Promise<void> {
  const r = await hoop(['exec', 'pg-local', '-i', sql, '--gateway', url, '--token', token, '--json']);
  expect(r.exitCode, String(r.stderr)).toBe(0);
}

/** Statements whose SQL the store holds. */
function storedSql(gw: GatewayProcess): Set<string> {
  const db = new Database(join(gw.dir, 'data', 'hoop.db'), { readonly: true });
  try {
    return new Set((db.prepare("SELECT json_extract(body, '$.sql') AS sql FROM events WHERE type = 'statement'").all() as { sql: string }[]).map((r) => r.sql));
  } finally {
    db.close();
  }
}

/**
 * Runs statements back to back through a tunnel and kills the gateway with SIGKILL once `killAfter`
 * of them have been answered. Returns the markers of every statement whose result the client saw.
 */
async function busyLoopThenKill(gw: GatewayProcess, token: string, killAfter: number): Promise<number[]> {
  const tunnel = await startConnect('pg-local', gw.url, token);
  const client = new pg.Client({ host: '127.0.0.1', port: tunnel.port, user: 'hoop', database: 'pg-local' });
  client.on('error', () => {});
  await client.connect();
  const acked: number[] = [];
  try {
    for (let i = 0; ; i++) {
      if (i === killAfter) gw.child.kill('SIGKILL'); // the loop goes on: statements are in flight as it dies
      try {
        const r = await client.query(`select 'ack-${i}' as marker`);
        if (r.rows[0]?.marker === `ack-${i}`) acked.push(i);
      } catch {
        break;
      }
    }
  } finally {
    await client.end().catch(() => {});
    await tunnel.stop();
    await new Promise((r) => (gw.child.exitCode !== null || gw.child.signalCode !== null ? r(null) : gw.child.once('exit', r)));
  }
  return acked;
}

describe('the audit trail of a real gateway', () => {
  it('verifies after a clean stop, and a restart starts a new chain', async () => {
    const gw = await startGateway({ extraYaml: 'audit:\n  checkpointEvery: 5\n' });
    try {
      // No key configured: one was generated beside the store, private half 0600, fingerprint logged.
      const keyPath = join(gw.dir, 'data', 'hoop-audit.key');
      expect(statSync(keyPath).mode & 0o777).toBe(0o600);
      const generated = logEntries(gw.log(), 'audit: generated a checkpoint signing key; give auditors the public key and its fingerprint, and back up the private key');
      expect(generated).toHaveLength(1);
      const fingerprint = generated[0]!.keyFingerprint as string;
      const [first] = logEntries(gw.log(), 'audit chain started');
      expect(first).toMatchObject({ keyFingerprint: fingerprint, mode: 'batched' });

      const token = await gw.createToken('audit-agent');
      for (let i = 0; i < 6; i++) await exec(gw.url, token, `select ${i} as n`);
      await stop(gw.child, 'SIGTERM');

      const v1 = await verify(gw.configPath);
      expect(v1.code, JSON.stringify(v1.result.problems)).toBe(0);
      expect(v1.result.keys).toEqual([fingerprint]);
      expect(v1.result.chains).toHaveLength(1);
      expect(v1.result.chains[0]).toMatchObject({ chain: first!.chain, unsignedTail: 0 });
      expect(v1.result.chains[0]!.events).toBe(6 * 3); // start, statement, end per exec

      const again = await runGateway(gw.configPath);
      const [second] = logEntries(again.log(), 'audit chain started');
      expect(second!.chain).not.toBe(first!.chain);
      expect(second!.keyFingerprint).toBe(fingerprint); // the generated key is reused, not replaced
      await exec(again.url, token, 'select 42');
      await stop(again.child, 'SIGTERM');

      const v2 = await verify(gw.configPath);
      expect(v2.code, JSON.stringify(v2.result.problems)).toBe(0);
      expect(v2.result.chains.map((c) => c.chain)).toEqual([first!.chain, second!.chain]);
      expect(v2.result.warnings).toEqual([]);
    } finally {
      await stop(gw.child, 'SIGKILL');
      rmSync(gw.dir, { recursive: true, force: true });
    }
  });

  it('strict mode: after kill -9 mid-run the store verifies (unsigned tail) and holds every statement the client saw answered', async () => {
    const gw = await startGateway({ extraYaml: 'recording:\n  mode: strict\naudit:\n  checkpointEvery: 100000\n  checkpointIntervalMs: 3600000\n' });
    try {
      expect(logEntries(gw.log(), 'audit chain started')[0]).toMatchObject({ mode: 'strict' });
      const token = await gw.createToken('audit-agent');
      const acked = await busyLoopThenKill(gw, token, 300);
      expect(gw.child.signalCode).toBe('SIGKILL');
      expect(acked.length).toBeGreaterThanOrEqual(300);

      const v = await verify(gw.configPath);
      expect(v.code, JSON.stringify(v.result.problems)).toBe(0);
      expect(v.result.chains).toHaveLength(1);
      expect(v.result.chains[0]!.unsignedTail).toBe(v.result.chains[0]!.events);
      expect(v.result.warnings.join('\n')).toMatch(/unsigned tail of \d+ event/);
      const stored = storedSql(gw);
      const missing = acked.filter((i) => !stored.has(`select 'ack-${i}' as marker`));
      expect(missing).toEqual([]);

      // The restarted gateway cannot prove where the killed one's chain ended: it starts its own.
      const again = await runGateway(gw.configPath);
      await exec(again.url, token, 'select 1');
      await stop(again.child, 'SIGTERM');
      const v2 = await verify(gw.configPath);
      expect(v2.code, JSON.stringify(v2.result.problems)).toBe(0);
      expect(v2.result.chains).toHaveLength(2);
      expect(v2.result.chains[1]!.unsignedTail).toBe(0);
    } finally {
      await stop(gw.child, 'SIGKILL');
      rmSync(gw.dir, { recursive: true, force: true });
    }
  });

  it('batched mode: after kill -9 the store verifies and holds every statement a client saw acknowledged (group commit)', async () => {
    const gw = await startGateway({ extraYaml: 'audit:\n  checkpointEvery: 100\n' });
    try {
      const token = await gw.createToken('audit-agent');
      const acked = await busyLoopThenKill(gw, token, 300);
      // What was acknowledged but not yet in the store is in the recording journal: the next start moves it in.
      const restarted = await startGateway({ reuseDir: gw.dir });
      await stop(restarted.child, 'SIGTERM');
      const v = await verify(gw.configPath);
      expect(v.code, JSON.stringify(v.result.problems)).toBe(0);
      expect(v.result.chains).toHaveLength(1);
      const stored = storedSql(gw);
      const kept = acked.filter((i) => stored.has(`select 'ack-${i}' as marker`));
      // A ReadyForQuery reaches the client only after its statement is in the journal.
      expect(acked.length).toBeGreaterThan(0);
      expect(kept).toEqual(acked);
    } finally {
      await stop(gw.child, 'SIGKILL');
      rmSync(gw.dir, { recursive: true, force: true });
    }
  });
});
