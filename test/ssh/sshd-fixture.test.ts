import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gitSshCommand, sshClientArgs, startSshd, type Sshd } from '../support/sshd.js';

function run(
  file: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('real OpenSSH server fixture', () => {
  let sshd: Sshd;
  let work: string;
  let knownHosts: string;

  beforeAll(async () => {
    sshd = await startSshd();
    work = await mkdtemp(path.join(os.tmpdir(), 'hoop-sshd-client-'));
    knownHosts = path.join(work, 'known_hosts');
    await writeFile(knownHosts, sshd.knownHostsLine + '\n');
  });

  afterAll(async () => {
    await sshd?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('describes itself consistently', async () => {
    expect(sshd.host).toBe('127.0.0.1');
    expect(sshd.user).toBe(os.userInfo().username);
    expect(sshd.hostPublicKey).toMatch(/^ssh-ed25519 AAAA[\w+/=]+$/);
    expect(sshd.knownHostsLine).toBe(`[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}`);
    expect(sshd.clientPrivateKey).toContain('BEGIN OPENSSH PRIVATE KEY');
    expect(await readFile(sshd.clientKeyPath, 'utf8')).toBe(sshd.clientPrivateKey);
    expect(await sshd.log()).toContain(`Server listening on 127.0.0.1 port ${sshd.port}`);
  });

  it('runs a command for the real ssh client and passes its exit status back', async () => {
    const res = await run('ssh', [...sshClientArgs(sshd, knownHosts), `${sshd.user}@127.0.0.1`, 'echo hi; exit 3']);
    expect(res.stdout).toBe('hi\n');
    expect(res.code).toBe(3);
    expect(await sshd.log()).toMatch(/Accepted publickey for \S+ from 127\.0\.0\.1/);
  });

  it('refuses a key that is not authorized', async () => {
    const stranger = path.join(work, 'stranger');
    expect((await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger])).code).toBe(0);
    const args = sshClientArgs({ port: sshd.port, clientKeyPath: stranger }, knownHosts);
    const res = await run('ssh', [...args, `${sshd.user}@127.0.0.1`, 'echo hi']);
    expect(res.code).toBe(255);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/Permission denied \(publickey\)/);
  });

  it('serves a bare repository that git clones over ssh', async () => {
    const repo = await sshd.bareRepo('demo');
    expect(path.isAbsolute(repo)).toBe(true);
    expect((await readFile(path.join(repo, 'HEAD'), 'utf8')).trim()).toBe('ref: refs/heads/main');
    const dest = path.join(work, 'demo');
    const res = await run('git', ['clone', '--quiet', sshd.repoUrl(repo), dest], {
      GIT_SSH_COMMAND: gitSshCommand(sshd, knownHosts),
      GIT_CONFIG_NOSYSTEM: '1',
    });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(await readFile(path.join(dest, 'README.md'), 'utf8')).toBe('# demo\n');
    const branch = await run('git', ['-C', dest, 'rev-parse', '--abbrev-ref', 'HEAD']);
    expect(branch.stdout.trim()).toBe('main');
  });

  it('after rotateHostKey the old known_hosts entry fails closed', async () => {
    const before = sshd.hostPublicKey;
    await sshd.rotateHostKey();
    expect(sshd.hostPublicKey).not.toBe(before);
    const stale = await run('ssh', [...sshClientArgs(sshd, knownHosts), `${sshd.user}@127.0.0.1`, 'echo hi']);
    expect(stale.code).toBe(255);
    expect(stale.stdout).toBe('');
    expect(stale.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);

    const fresh = await sshd.writeKnownHosts(path.join(work, 'known_hosts.new'));
    const ok = await run('ssh', [...sshClientArgs(sshd, fresh), `${sshd.user}@127.0.0.1`, 'echo again']);
    expect(ok.stdout).toBe('again\n');
    expect(ok.code).toBe(0);
  });
});

describe('sshd fixture lifecycle', () => {
  it('stop() ends sshd with its sessions and removes the dir', async () => {
    const sshd = await startSshd();
    const knownHosts = await sshd.writeKnownHosts(path.join(os.tmpdir(), `hoop-kh-${process.pid}-${sshd.port}`));
    try {
      // A session still open when stop() runs must end too: its sshd children are killed.
      const session = spawn('ssh', [...sshClientArgs(sshd, knownHosts), `${sshd.user}@127.0.0.1`, 'echo up; sleep 600'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const closed = new Promise<number | null>((resolve) => session.once('close', (code) => resolve(code)));
      await new Promise<void>((resolve) => session.stdout.once('data', () => resolve()));
      const pidFile = await readFile(path.join(sshd.dir, 'sshd.pid'), 'utf8');
      const pid = Number(pidFile.trim());
      await sshd.stop();
      expect(await closed).toBe(255);
      expect(existsSync(sshd.dir)).toBe(false);
      expect(() => process.kill(pid, 0)).toThrow();
      await sshd.stop();
    } finally {
      await rm(knownHosts, { force: true });
    }
  });
});
