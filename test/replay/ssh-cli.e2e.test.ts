import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/events.js';
import { Recorder } from '../../src/audit/recorder.js';
import { recordedEvent } from '../../src/replay/timeline.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { hoop, tempDir } from '../support/hoop.js';
import { gitEvents, parseAsciicast, sshEvents } from './fixtures.js';

/**
 * The real CLI on a store written by the real Recorder: an SSH session (two shells, commands,
 * SFTP, refused forwarding) and a git session, read back with `hoop replay` and
 * `hoop sessions show` through `--config`.
 */
describe('hoop replay and hoop sessions show of SSH and git sessions', () => {
  let dir: string;
  let config: string;

  beforeAll(async () => {
    dir = tempDir('replay-ssh');
    config = join(dir, 'hoop.yaml');
    writeFileSync(config, 'store: sqlite:./hoop.db\n');
    const store = new SqliteStore(join(dir, 'hoop.db'));
    try {
      const recorder = new Recorder(store, { batchSize: 16, flushIntervalMs: 1 });
      for (const e of [...sshEvents(), ...gitEvents()]) recorder.record(recordedEvent(e) as AuditEvent);
      await recorder.close();
    } finally {
      await store.close();
    }
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the first shell with every command in place, and another shell with --channel', async () => {
    const r = await hoop(['replay', 's_ssh', '--format', 'text', '--config', config]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const text = String(r.stdout);
    expect(text).toContain('terminal    channel 0 (shell, xterm-256color 100×30); other terminals: channel 5 (--channel N)');
    expect(text).toContain('web-1$ ls\n── shell #1 +0:01.201 · channel 0 · ls · recorded, not enforced (policy: allow · rule reads)\nREADME.md  app.log');
    expect(text).toContain('  approval  denied by carol: not during business hours (ar_exec2, waited 2.0s)');
    expect(text).toContain('── ssh request +0:02.000 · direct-tcpip 127.0.0.1:5432 · refused by rule no-forwarding');

    const five = await hoop(['replay', 's_ssh', '--format', 'text', '--channel', '5', '--config', config]);
    expect(five.exitCode, String(five.stderr)).toBe(0);
    expect(String(five.stdout)).toContain('second$ uptime\n up 3 days');
    expect(String(five.stdout)).not.toContain('web-1$');
  });

  it('refuses a channel without a terminal, naming the ones that have one', async () => {
    const r = await hoop(['replay', 's_ssh', '--format', 'text', '--channel', '6', '--config', config]);
    expect(r.exitCode).toBe(2);
    expect(String(r.stderr)).toContain('session s_ssh has no terminal traffic on channel 6');
    expect(String(r.stderr)).toContain('channels with a terminal: 0, 5');
    expect((await hoop(['replay', 's_ssh', '--format', 'text', '--channel', 'two', '--config', config])).exitCode).toBe(2);
  });

  it('writes the terminal as an asciicast v2 file at the pty size', async () => {
    const file = join(dir, 'ssh.cast');
    const r = await hoop(['replay', 's_ssh', '--format', 'asciicast', '--out', file, '--config', config]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stderr)).toContain('6 command(s), 3 file operation(s)');
    const { header, events } = parseAsciicast(readFileSync(file, 'utf8'));
    expect(header).toMatchObject({ width: 100, height: 30, env: { TERM: 'xterm-256color' } });
    expect(events.filter((e) => e[1] === 'o').map((e) => e[2]).join('')).toContain('README.md  app.log');
    expect(events.filter((e) => e[1] === 'i').length).toBeGreaterThan(0);
  });

  it('prints the recorded events as JSON lines', async () => {
    const r = await hoop(['replay', 's_git', '--format', 'json', '--config', config]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const events = String(r.stdout)
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEvent);
    expect(events.map((e) => e.type)).toEqual(['git.fetch', 'git.push', 'git.push']);
  });

  it('hoop sessions show prints commands, refs, transfers and refusals', async () => {
    const r = await hoop(['sessions', 'show', 's_ssh', '--config', config]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const out = String(r.stdout);
    expect(out).toContain('terminal   channel 0: 11 event(s), channel 5: 3 event(s) (hoop replay s_ssh to watch)');
    expect(out).toContain('exec exit 0: allow (rule reads); 6 B out, 0 B in\n  $ cat /etc/hostname');
    expect(out).toContain('exec not run: deny (rule no-shutdown)');
    expect(out).toContain('refused direct-tcpip 127.0.0.1:5432: deny (rule no-forwarding)');
    expect(out).toContain('sftp write /tmp/report.csv 12.1 KiB: ok');

    const g = await hoop(['sessions', 'show', 's_git', '--config', config]);
    expect(g.exitCode, String(g.stderr)).toBe(0);
    expect(String(g.stdout)).toContain('git push acme/api.git: review (rule pushes-reviewed), exit 1');
    expect(String(g.stdout)).toContain('  delete refs/heads/old 1111111..0000000: deny (rule no-ref-delete), refused by hoop');
  });
});
