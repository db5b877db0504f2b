import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { tempDir } from './hoop.js';

/** The ssh stand-in: git runs it as `<relay> [-o SendEnv=GIT_PROTOCOL] HOST 'git-… '<path>''`. */
export const GIT_RELAY = resolve(import.meta.dirname, 'git-relay.mjs');

export interface GitResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * A bare "backend" repository, a working clone source, and the relay's control directory. Every
 * git command run through `git()` reaches the bare repository over ssh://fakehost/… through
 * test/support/git-relay.mjs, with hoop's git guard or observer in the middle.
 */
export class GitFixture {
  readonly root: string;
  readonly bare: string;
  readonly work: string;
  readonly control: string;
  readonly url = 'ssh://fakehost/repo.git';
  private readonly objectFormat: 'sha1' | 'sha256';

  constructor(opts: { bareDirName?: string; objectFormat?: 'sha1' | 'sha256' } = {}) {
    this.root = tempDir('git');
    this.bare = join(this.root, opts.bareDirName ?? 'backend', 'repo.git');
    this.work = join(this.root, 'work');
    this.control = join(this.root, 'control');
    mkdirSync(this.control, { recursive: true });
    mkdirSync(this.bare, { recursive: true });
    this.objectFormat = opts.objectFormat ?? 'sha1';
  }

  env(): Record<string, string> {
    return {
      GIT_SSH_COMMAND: `node ${GIT_RELAY}`,
      GIT_SSH_VARIANT: 'ssh',
      HOOP_GIT_RELAY_REPO: this.bare,
      HOOP_GIT_RELAY_CONTROL: this.control,
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_TERMINAL_PROMPT: '0',
      GIT_AUTHOR_NAME: 'Test',
      GIT_AUTHOR_EMAIL: 'test@example.com',
      GIT_COMMITTER_NAME: 'Test',
      GIT_COMMITTER_EMAIL: 'test@example.com',
      HOME: this.root,
    };
  }

  /** Runs git as a user would, in `cwd` (the working repository by default). */
  async git(args: readonly string[], cwd: string = this.work): Promise<GitResult> {
    const r = await execa('git', args, { cwd, env: this.env(), extendEnv: true, reject: false, stdin: 'ignore', timeout: 60_000 });
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  }

  async gitOk(args: readonly string[], cwd: string = this.work): Promise<string> {
    const r = await this.git(args, cwd);
    if (r.exitCode !== 0) throw new Error(`git ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`);
    return r.stdout.trim();
  }

  /** Creates the bare backend repository and a working repository with one commit on main, pushed directly. */
  async init(): Promise<void> {
    await this.gitOk(['init', '--bare', '-q', `--object-format=${this.objectFormat}`, '--initial-branch=main', this.bare], this.root);
    await this.gitOk(['init', '-q', `--object-format=${this.objectFormat}`, '--initial-branch=main', this.work], this.root);
    await this.commit('README', 'hello\n');
    // Straight to the bare repository (no relay): the starting state of the backend.
    await this.gitOk(['push', '-q', this.bare, 'main']);
    await this.gitOk(['remote', 'add', 'origin', this.url]);
  }

  async commit(file: string, content: string, cwd: string = this.work): Promise<string> {
    writeFileSync(join(cwd, file), content);
    await this.gitOk(['add', file], cwd);
    await this.gitOk(['commit', '-q', '-m', `edit ${file}`], cwd);
    return this.gitOk(['rev-parse', 'HEAD'], cwd);
  }

  /** The backend's value of `ref`, or null when it does not exist. */
  async backendRef(ref: string): Promise<string | null> {
    const r = await this.git(['--git-dir', this.bare, 'rev-parse', '--verify', '-q', ref], this.root);
    return r.exitCode === 0 ? r.stdout.trim() : null;
  }

  /** What the next push's decision will be (see git-relay.mjs). */
  decide(decision: Record<string, unknown>): void {
    this.writeDecision(join(this.control, 'decision.json'), decision);
  }

  /** Writes a decision file whole (rename), so a relay polling for it never reads half of it. */
  writeDecision(file: string, decision: Record<string, unknown>): void {
    writeFileSync(`${file}.tmp`, JSON.stringify(decision));
    renameSync(`${file}.tmp`, file);
  }

  /** Every session the relay recorded, oldest first. */
  records(): Array<Record<string, any>> {
    const file = join(this.control, 'records.jsonl');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, any>);
  }

  lastRecord(): Record<string, any> {
    const all = this.records();
    if (all.length === 0) throw new Error('no relay record');
    return all.at(-1)!;
  }

  /**
   * Starts git and resolves `seen` once its stderr contains `text`, so a test can act while git
   * is still waiting (a held push) and then await `done`.
   */
  spawnGit(args: readonly string[], text: string): { seen: Promise<string>; done: Promise<GitResult> } {
    const child = spawn('git', args, { cwd: this.work, env: { ...process.env, ...this.env() }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let onSeen: (s: string) => void = () => {};
    const seen = new Promise<string>((res, rej) => {
      onSeen = res;
      child.once('exit', () => rej(new Error(`git exited before printing ${JSON.stringify(text)}: ${stderr}`)));
    });
    seen.catch(() => {});
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (stderr.includes(text)) onSeen(stderr);
    });
    const done = new Promise<GitResult>((res) => child.once('close', (code) => res({ exitCode: code ?? -1, stdout, stderr })));
    return { seen, done };
  }

  /** Waits until the relay has created `name` in the control directory. */
  async waitForControlFile(name: string): Promise<void> {
    while (!existsSync(join(this.control, name))) await new Promise((r) => setTimeout(r, 25));
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
