import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConnectProcess, type GatewayProcess, hoop, rssBytes, startConnect, startGateway, tempDir, waitForRequest } from '../support/hoop.js';
import { type Sshd, startSshd } from '../support/sshd.js';

const POLICY = `
approvals:
  pollMs: 50
policy:
  rules:
    - name: no-rm-rf
      match: { commands: ['rm -rf *'] }
      action: deny
      reason: recursive deletes are not allowed on web hosts
    - name: touch-reviewed
      match: { commands: ['touch *review*'] }
      action: review
      review: { approvers: [approvers], approvals: 1, timeout: 10m }
    - name: ssh-allowed
      match: { classes: [exec, shell, sftp] }
      action: allow
`;

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}

interface SessionEvents {
  events: { type: string; [k: string]: unknown }[];
}

describe('SSH through the gateway (real sshd, real ssh/sftp/scp)', () => {
  let sshd: Sshd;
  let gw: GatewayProcess;
  let agentToken: string;
  let approverToken: string;
  let tunnel: ConnectProcess;
  let sshConfig: string;
  let work: string;

  const ssh = (args: readonly string[], opts: { input?: string } = {}) =>
    execa('ssh', ['-F', sshConfig, ...args], { reject: false, timeout: 120_000, ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' }) });

  const sessions = async (): Promise<{ id: string }[]> => {
    const r = await hoop(['sessions', '--json', '--gateway', gw.url, '--token', agentToken]);
    return (JSON.parse(String(r.stdout)) as { sessions: { id: string }[] }).sessions;
  };
  const allEvents = async (): Promise<SessionEvents['events']> => {
    const out: SessionEvents['events'] = [];
    for (const s of await sessions()) {
      const r = await hoop(['sessions', 'show', s.id, '--json', '--gateway', gw.url, '--token', agentToken]);
      out.push(...(JSON.parse(String(r.stdout)) as SessionEvents).events);
    }
    return out;
  };

  beforeAll(async () => {
    sshd = await startSshd();
    work = tempDir('ssh-work');
    gw = await startGateway({
      extraYaml: POLICY,
      connectionsYaml: `
  - name: web1
    type: ssh
    host: 127.0.0.1
    port: ${sshd.port}
    user: ${sshd.user}
    privateKey: \${file:${sshd.clientKeyPath}}
    hostKey: ${sshd.hostPublicKey}
`,
    });
    agentToken = await gw.createToken('ssh-agent', ['engineers']);
    approverToken = await gw.createToken('ssh-approver', ['approvers']);
    tunnel = await startConnect('web1', gw.url, agentToken);
    sshConfig = tunnel.lines()[0]!.sshConfig as string;
  }, 60_000);

  afterAll(async () => {
    await tunnel?.stop();
    await gw?.stop();
    await sshd?.stop();
  });

  it('hoop connect pins the gateway host key: no prompt, strict checking on', async () => {
    const r = await ssh(['-o', 'BatchMode=yes', 'web1', 'echo', 'pinned']);
    expect(r.stderr).not.toMatch(/authenticity|WARNING|Permanently added/);
    expect(r.stdout).toBe('pinned');
    expect(r.exitCode).toBe(0);
  });

  it('hoop connect NAME -- ssh NAME CMD runs the stock ssh through the tunnel and passes its exit status on', async () => {
    const r = await hoop(['connect', 'web1', '--gateway', gw.url, '--token', agentToken, '--', 'ssh', 'web1', 'echo via-connect; exit 7']);
    expect(String(r.stdout)).toContain('via-connect');
    expect(r.exitCode).toBe(7);
  });

  it('runs an allowed command with its exit status and output', async () => {
    const r = await ssh(['web1', 'echo out; echo err >&2; exit 3']);
    expect(r.stdout).toBe('out');
    expect(r.stderr).toContain('err');
    expect(r.exitCode).toBe(3);
  });

  it('passes stdin through and ends it with EOF', async () => {
    const r = await ssh(['web1', 'wc -c'], { input: 'x'.repeat(100_000) });
    expect(r.stdout.trim()).toBe('100000');
  });

  it('denies a command with 126 and a message; it never reaches the host', async () => {
    const marker = join(sshd.dir, 'denied-marker');
    const r = await ssh(['web1', `touch ${marker}; rm -rf ${join(sshd.dir, 'nothing')}`]);
    expect(r.exitCode).toBe(126);
    expect(r.stderr).toContain('recursive deletes are not allowed on web hosts (rule no-rm-rf)');
    expect(existsSync(marker)).toBe(false);
  });

  it('denies a command hidden in sh -c and in $(…)', async () => {
    const marker = join(sshd.dir, 'hidden-marker');
    const a = await ssh(['web1', `sh -c "touch ${marker} && rm -rf /tmp/hoop-nothing"`]);
    expect(a.exitCode).toBe(126);
    const b = await ssh(['web1', `echo $(rm -rf /tmp/hoop-nothing)`]);
    expect(b.exitCode).toBe(126);
    expect(existsSync(marker)).toBe(false);
  });

  it('holds a reviewed command until hoop approve, then runs it', async () => {
    const marker = join(sshd.dir, 'review-marker');
    const child = spawn('ssh', ['-F', sshConfig, 'web1', `touch ${marker}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const request = await waitForRequest(gw, approverToken, 'review-marker');
    await new Promise((res) => setTimeout(res, 300));
    expect(existsSync(marker)).toBe(false);
    expect(child.exitCode).toBeNull();
    const approve = await hoop(['approve', request.id, '--gateway', gw.url, '--token', approverToken]);
    expect(approve.exitCode, String(approve.stderr)).toBe(0);
    expect(await exited).toBe(0);
    expect(stderr).toContain(`approval required, request ${request.id}`);
    expect(existsSync(marker)).toBe(true);
  });

  it('a reviewed command denied by the approver exits 126 and never runs', async () => {
    const marker = join(sshd.dir, 'review-denied-marker');
    const child = spawn('ssh', ['-F', sshConfig, 'web1', `touch ${marker}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const request = await waitForRequest(gw, approverToken, 'review-denied-marker');
    const deny = await hoop(['deny', request.id, '--reason', 'not today', '--gateway', gw.url, '--token', approverToken]);
    expect(deny.exitCode, String(deny.stderr)).toBe(0);
    expect(await exited).toBe(126);
    expect(stderr).toContain('not today');
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses port forwarding and records the refusal', async () => {
    const r = await ssh(['-W', '127.0.0.1:5432', 'web1']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/open failed|administratively prohibited/i);
    const events = await allEvents();
    const refused = events.find((e) => e.type === 'ssh.request' && e.request === 'direct-tcpip');
    expect(refused).toMatchObject({ detail: '127.0.0.1:5432', decision: { action: 'deny' } });
  });

  it('records an interactive shell driven through tmux, and hoop replay shows it', async () => {
    const name = `hoop-ssh-${process.pid}`;
    const tmux = (...args: string[]) => spawnSync('tmux', args, { encoding: 'utf8' });
    tmux('new-session', '-d', '-s', name, '-x', '100', '-y', '30', `ssh -F ${sshConfig} -tt web1`);
    try {
      const waitFor = async (text: string) => {
        for (let i = 0; i < 200; i++) {
          if (tmux('capture-pane', '-p', '-t', name).stdout.includes(text)) return;
          await new Promise((res) => setTimeout(res, 100));
        }
        throw new Error(`tmux never showed ${text}: ${tmux('capture-pane', '-p', '-t', name).stdout}`);
      };
      tmux('send-keys', '-t', name, 'echo hello-from-$((6*7))', 'Enter');
      await waitFor('hello-from-42');
      tmux('send-keys', '-t', name, 'exit', 'Enter');
      for (let i = 0; i < 100 && tmux('has-session', '-t', name).status === 0; i++) await new Promise((res) => setTimeout(res, 100));
    } finally {
      tmux('kill-session', '-t', name);
    }
    let shellSession: string | undefined;
    for (let i = 0; i < 50 && !shellSession; i++) {
      for (const s of await sessions()) {
        const r = await hoop(['sessions', 'show', s.id, '--json', '--gateway', gw.url, '--token', agentToken]);
        const { events } = JSON.parse(String(r.stdout)) as SessionEvents;
        if (events.some((e) => e.type === 'terminal.output' && String(e.data).includes('hello-from-42')) && events.some((e) => e.type === 'session.end')) shellSession = s.id;
      }
      if (!shellSession) await new Promise((res) => setTimeout(res, 200));
    }
    expect(shellSession).toBeDefined();
    const events = (JSON.parse(String((await hoop(['sessions', 'show', shellSession!, '--json', '--gateway', gw.url, '--token', agentToken])).stdout)) as SessionEvents).events;
    expect(events.find((e) => e.type === 'ssh.channel')).toMatchObject({ kind: 'shell', pty: { cols: 100, rows: 30 } });
    expect(events.find((e) => e.type === 'shell.command' && String(e.command).includes('echo hello-from'))).toBeDefined();
    const replay = await hoop(['replay', shellSession!, '--format', 'text', '--gateway', gw.url, '--token', agentToken]);
    expect(replay.exitCode, String(replay.stderr)).toBe(0);
    expect(String(replay.stdout)).toContain('hello-from-42');
    const cast = await hoop(['replay', shellSession!, '--format', 'asciicast', '--gateway', gw.url, '--token', agentToken]);
    const [header, ...lines] = String(cast.stdout).trim().split('\n');
    expect(JSON.parse(header!)).toMatchObject({ version: 2, width: 100, height: 30 });
    expect(lines.some((l) => (JSON.parse(l) as unknown[])[1] === 'o' && String((JSON.parse(l) as unknown[])[2]).includes('hello-from-42'))).toBe(true);
  });

  it('sftp put/get and scp of a 200 MB file arrive intact, with the gateway memory bounded', async () => {
    const FILE_MB = 200;
    const src = join(work, 'big.bin');
    const chunk = randomBytes(1024 * 1024);
    const parts: Buffer[] = [];
    for (let i = 0; i < FILE_MB; i++) parts.push(chunk.map((b) => b ^ i) as Buffer);
    writeFileSync(src, Buffer.concat(parts));
    const want = await sha256File(src);
    const remoteDir = join(sshd.dir, 'uploads');
    mkdirSync(remoteDir, { recursive: true });
    const before = rssBytes(gw.child.pid!);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(gw.child.pid!))), 50);
    try {
      const batch = join(work, 'batch');
      writeFileSync(batch, `put ${src} ${remoteDir}/sftp.bin\nget ${remoteDir}/sftp.bin ${work}/sftp-back.bin\n`);
      const s = await execa('sftp', ['-F', sshConfig, '-b', batch, 'web1'], { reject: false, timeout: 300_000 });
      expect(s.exitCode, s.stderr).toBe(0);
      const scp = await execa('scp', ['-F', sshConfig, src, `web1:${remoteDir}/scp.bin`], { reject: false, timeout: 300_000 });
      expect(scp.exitCode, scp.stderr).toBe(0);
    } finally {
      clearInterval(sampler);
    }
    expect(await sha256File(join(remoteDir, 'sftp.bin'))).toBe(want);
    expect(await sha256File(join(work, 'sftp-back.bin'))).toBe(want);
    expect(await sha256File(join(remoteDir, 'scp.bin'))).toBe(want);
    // SSH windows carry the flow control through: the gateway never holds the file. The bound is
    // below the file's size but well above what the collector leaves of buffers already relayed
    // (up to ~110 MB seen under a loaded full run).
    expect(peak - before).toBeLessThan(150 * 1024 * 1024);
    const events = await allEvents();
    const write = events.find((e) => e.type === 'sftp.op' && e.op === 'write' && String(e.path).endsWith('sftp.bin'));
    expect(write).toMatchObject({ bytes: FILE_MB * 1024 * 1024, status: 'ok' });
  }, 300_000);

  it('records each exec with its decision, exit status and output', async () => {
    const events = await allEvents();
    const ok = events.find((e) => e.type === 'ssh.exec' && String(e.command).includes('echo out'));
    expect(ok).toMatchObject({ exitStatus: 3, stdout: 'out\n', decision: { action: 'allow', rule: 'ssh-allowed' } });
    const denied = events.find((e) => e.type === 'ssh.exec' && String(e.command).includes('rm -rf'));
    expect(denied).toMatchObject({ decision: { action: 'deny', rule: 'no-rm-rf' } });
    expect(denied).not.toHaveProperty('exitStatus');
    const reviewed = events.find((e) => e.type === 'ssh.exec' && String(e.command).includes('review-marker') && e.exitStatus === 0);
    expect(reviewed).toMatchObject({ decision: { action: 'review' }, approval: { approvedBy: ['ssh-approver'] } });
  });

  it('every finished SSH session is recorded as ended, denied ones included', async () => {
    const denied = await ssh(['web1', 'eval ls']);
    expect(denied.exitCode).toBe(126);
    let open: { id: string; endedAt: number | null }[] = [];
    for (let i = 0; i < 50; i++) {
      const r = await hoop(['sessions', '--json', '--gateway', gw.url, '--token', agentToken]);
      open = (JSON.parse(String(r.stdout)) as { sessions: { id: string; endedAt: number | null }[] }).sessions.filter((s) => s.endedAt === null);
      if (open.length === 0) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(open).toEqual([]);
  });

  it('a changed backend host key fails closed with a clear error', async () => {
    await sshd.rotateHostKey();
    const r = await ssh(['web1', 'echo', 'should-not-run']);
    expect(r.exitCode).toBe(255);
    expect(r.stdout).not.toContain('should-not-run');
    expect(r.stderr).toMatch(/host key of web1 .* is SHA256:.*not the pinned SHA256:/);
  });
});
