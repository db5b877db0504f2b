import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOOP_BIN, hoop, hoopDeviceLogin, tempDir } from '../support/hoop.js';

/** `hoop demo` as a newcomer runs it: no config, no PostgreSQL of its own, no network. */
describe('hoop demo', () => {
  const configDir = tempDir('demo-cli');
  let demo: ChildProcess;
  let ready: { gateway: string; connection: string; dataDir: string };

  beforeAll(async () => {
    demo = spawn('node', [HOOP_BIN, 'demo', '--json'], { env: { ...process.env, HOOP_CONFIG_DIR: configDir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    demo.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    ready = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`demo did not start: ${stderr}`)), 90_000);
      createInterface({ input: demo.stdout! }).on('line', (line) => {
        const j = JSON.parse(line) as { status: string };
        if (j.status === 'ready') {
          clearTimeout(timer);
          resolve(j as never);
        }
      });
      demo.once('exit', (code) => reject(new Error(`demo exited with ${code}: ${stderr}`)));
    });
  });

  afterAll(() => {
    if (demo?.exitCode === null) demo.kill('SIGKILL');
  });

  it('logs the local CLI in and answers a query through the tunnel', async () => {
    const r = await hoop(['exec', 'demo', '-i', 'select count(*) as n from customers', '--json'], { configDir });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const body = JSON.parse(String(r.stdout)) as { sessionId: string; rows: { n: string }[]; command: string };
    expect(Number(body.rows[0]!.n)).toBeGreaterThan(10);
    expect(body.sessionId).toMatch(/^s_/);
    expect(body.command).toBe('SELECT');
  });

  it('runs psql through `hoop connect demo -- psql`', async () => {
    const r = await hoop(['connect', 'demo', '--', 'psql', '-Atc', 'select count(*) > 0 from orders'], { configDir });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(r.stdout).toBe('t');
  });

  it('keeps the gateway answering while the embedded database is busy', async () => {
    const slow = hoop(['exec', 'demo', '-i', 'select pg_sleep(3)'], { configDir });
    let slowDone = false;
    void slow.then(() => (slowDone = true));
    await new Promise((res) => setTimeout(res, 500));
    const api = await hoop(['connections', '--json'], { configDir });
    expect(api.exitCode, String(api.stderr)).toBe(0);
    expect(slowDone).toBe(false);
    expect((await slow).exitCode).toBe(0);
  });

  it('has recorded the sessions against the demo identity', async () => {
    await new Promise((res) => setTimeout(res, 300));
    const r = await hoop(['sessions', '--json'], { configDir });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const { sessions } = JSON.parse(String(r.stdout)) as { sessions: { identityName: string; connection: string; statements: number }[] };
    expect(sessions.length).toBeGreaterThanOrEqual(2);
    for (const s of sessions) expect(s).toMatchObject({ identityName: 'demo-agent', connection: 'demo' });
  });

  it('lets a person log in with the device flow against the built-in identity provider', async () => {
    const r = await hoopDeviceLogin(undefined, configDir, { username: 'alice', password: 'alice-demo' });
    expect(r.code, r.stderr).toBe(0);
    const who = await hoop(['whoami', '--json'], { configDir });
    expect(JSON.parse(String(who.stdout))).toMatchObject({ kind: 'user', groups: ['engineers'] });
    const q = await hoop(['exec', 'demo', '-i', 'select 1 as one', '--json'], { configDir });
    expect(q.exitCode, String(q.stderr)).toBe(0);
  });

  it('stops cleanly on Ctrl-C, removes its data and puts the previous login back', async () => {
    const credentials = join(configDir, 'credentials.json');
    expect(JSON.parse(readFileSync(credentials, 'utf8'))).toHaveProperty('accessToken');
    expect(statSync(credentials).mode & 0o777).toBe(0o600);
    demo.kill('SIGINT');
    const code = await new Promise<number | null>((r) => demo.once('exit', r));
    expect(code).toBe(0);
    expect(existsSync(ready.dataDir)).toBe(false);
    expect(existsSync(credentials)).toBe(false);
  });
});
