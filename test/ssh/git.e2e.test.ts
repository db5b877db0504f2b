import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConnectProcess, type GatewayProcess, hoop, startConnect, startGateway, tempDir, waitForRequest } from '../support/hoop.js';
import { type Sshd, startSshd } from '../support/sshd.js';

const POLICY = `
approvals:
  pollMs: 50
policy:
  rules:
    - name: no-ref-deletion
      match: { classes: [ref-delete] }
      action: deny
      reason: deleting branches and tags is not allowed through hoop
    - name: protected-branches
      match: { refs: ['refs/heads/main', 'refs/heads/release/*'] }
      action: review
      review: { approvers: [approvers], approvals: 1, timeout: 10m }
    - name: git
      match: { classes: [git-fetch, git-push] }
      action: allow
`;

describe('git through the gateway (real sshd, real git)', () => {
  let sshd: Sshd;
  let bare: string;
  let gw: GatewayProcess;
  let agentToken: string;
  let approverToken: string;
  let tunnel: ConnectProcess;
  let clone: string;
  let env: Record<string, string>;

  const git = (args: readonly string[], cwd = clone) => execa('git', args, { cwd, env, reject: false, timeout: 120_000 });
  const bareRev = async (ref: string) => (await execa('git', ['--git-dir', bare, 'rev-parse', '--verify', '-q', ref], { reject: false })).stdout.trim();

  beforeAll(async () => {
    sshd = await startSshd();
    bare = await sshd.bareRepo('app.git');
    gw = await startGateway({
      extraYaml: POLICY,
      connectionsYaml: `
  - name: app-repo
    type: git
    host: 127.0.0.1
    port: ${sshd.port}
    user: ${sshd.user}
    privateKey: \${file:${sshd.clientKeyPath}}
    hostKey: ${sshd.hostPublicKey}
    repository: ${bare}
`,
    });
    agentToken = await gw.createToken('git-agent', ['engineers']);
    approverToken = await gw.createToken('git-approver', ['approvers']);
    tunnel = await startConnect('app-repo', gw.url, agentToken);
    const ready = tunnel.lines()[0]!;
    env = {
      GIT_SSH_COMMAND: ready.gitSshCommand as string,
      GIT_AUTHOR_NAME: 'Agent',
      GIT_AUTHOR_EMAIL: 'agent@example.com',
      GIT_COMMITTER_NAME: 'Agent',
      GIT_COMMITTER_EMAIL: 'agent@example.com',
      GIT_TERMINAL_PROMPT: '0',
    };
    const work = tempDir('git-work');
    clone = join(work, 'app');
    const r = await git(['clone', 'app-repo:any/path.git', clone], work);
    expect(r.exitCode, r.stderr).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await tunnel?.stop();
    await gw?.stop();
    await sshd?.stop();
  });

  const commit = async (message: string) => {
    await execa('sh', ['-c', `echo "${message}" >> notes.txt && git add notes.txt && git commit -qm "${message}"`], { cwd: clone, env });
    return (await execa('git', ['rev-parse', 'HEAD'], { cwd: clone })).stdout.trim();
  };

  it('clones through hoop connect', async () => {
    expect((await execa('git', ['rev-parse', 'HEAD'], { cwd: clone })).stdout.trim()).toBe(await bareRev('refs/heads/main'));
  });

  it('pushes a feature branch', async () => {
    const head = await commit('feature work');
    const r = await git(['push', 'origin', 'HEAD:refs/heads/feature/x']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await bareRev('refs/heads/feature/x')).toBe(head);
  });

  it('a push to main waits for approval, then lands', async () => {
    const before = await bareRev('refs/heads/main');
    const head = await commit('for main');
    const child = spawn('git', ['push', 'origin', 'HEAD:refs/heads/main'], { cwd: clone, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const request = await waitForRequest(gw, approverToken, 'refs/heads/main');
    await new Promise((res) => setTimeout(res, 300));
    expect(child.exitCode).toBeNull();
    expect(await bareRev('refs/heads/main')).toBe(before);
    const approve = await hoop(['approve', request.id, '--gateway', gw.url, '--token', approverToken]);
    expect(approve.exitCode, String(approve.stderr)).toBe(0);
    expect(await exited, stderr).toBe(0);
    expect(stderr).toContain(request.id);
    expect(await bareRev('refs/heads/main')).toBe(head);
  });

  it('deleting main is denied and the ref still exists', async () => {
    const main = await bareRev('refs/heads/main');
    const r = await git(['push', 'origin', '--delete', 'main']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/remote rejected|deleting branches and tags is not allowed/);
    expect(await bareRev('refs/heads/main')).toBe(main);
  });

  it('fetches', async () => {
    const r = await git(['fetch', 'origin']);
    expect(r.exitCode, r.stderr).toBe(0);
  });

  it('refuses a shell on a git connection', async () => {
    const r = await execa('ssh', ['-F', tunnel.lines()[0]!.sshConfig as string, 'app-repo', 'ls /'], { reject: false });
    expect(r.exitCode).not.toBe(0);
  });

  it('records each clone, fetch and push with the ref updates', async () => {
    const list = await hoop(['sessions', '--json', '--gateway', gw.url, '--token', agentToken]);
    const events: { type: string; [k: string]: unknown }[] = [];
    for (const s of (JSON.parse(String(list.stdout)) as { sessions: { id: string }[] }).sessions) {
      const r = await hoop(['sessions', 'show', s.id, '--json', '--gateway', gw.url, '--token', agentToken]);
      events.push(...(JSON.parse(String(r.stdout)) as { events: { type: string }[] }).events);
    }
    const pushes = events.filter((e) => e.type === 'git.push') as unknown as { refs: { ref: string; kind: string; decision: { action: string }; result?: string }[]; decision: { action: string } }[];
    const refs = pushes.flatMap((p) => p.refs);
    expect(refs.find((r) => r.ref === 'refs/heads/feature/x')).toMatchObject({ kind: 'create', decision: { action: 'allow' } });
    expect(refs.find((r) => r.ref === 'refs/heads/main' && r.kind === 'update')).toMatchObject({ decision: { action: 'review' } });
    expect(refs.find((r) => r.ref === 'refs/heads/main' && r.kind === 'delete')).toMatchObject({ decision: { action: 'deny' } });
    expect(events.filter((e) => e.type === 'git.fetch').length).toBeGreaterThanOrEqual(2);
  });
});
