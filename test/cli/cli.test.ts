import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, hoop } from '../support/hoop.js';

describe('the CLI', () => {
  it('lists every registered command in --help', async () => {
    const r = await hoop(['--help']);
    expect(r.exitCode).toBe(0);
    for (const name of ['demo', 'connect', 'exec', 'sessions', 'gateway', 'admin', 'completion']) expect(r.stdout).toContain(name);
  });

  it('keeps completions/ in step with the command registry', async () => {
    for (const [shell, file] of [
      ['bash', 'hoop.bash'],
      ['zsh', '_hoop'],
    ] as const) {
      const r = await hoop(['completion', shell]);
      expect(r.exitCode).toBe(0);
      expect(`${String(r.stdout)}\n`, `completions/${file} is stale: run npm run completions`).toBe(readFileSync(join(ROOT, 'completions', file), 'utf8'));
    }
  });

  it('exits 2 on bad usage, with the problem on stderr', async () => {
    const r = await hoop(['connect']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/missing required argument/);
    expect((await hoop(['nosuchcommand'])).exitCode).toBe(2);
    expect((await hoop(['completion', 'fish'])).exitCode).toBe(2);
  });

  it('exits 3 with a hint when there is no login', async () => {
    const r = await hoop(['exec', 'x', '-i', 'select 1'], { env: { HOOP_GATEWAY: '', HOOP_TOKEN: '' } });
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/hint:/);
  });

  it('exits 5 when the gateway is unreachable', async () => {
    const r = await hoop(['connections', '--gateway', 'http://127.0.0.1:9', '--token', 'hoop_sa_x']);
    expect(r.exitCode).toBe(5);
    expect(r.stderr).toMatch(/cannot reach the gateway/);
  });

  it('prints the package version', async () => {
    const r = await hoop(['--version']);
    expect(r.stdout).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  });
});
