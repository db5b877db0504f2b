import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * A real OpenSSH server for tests: its own sshd_config, host key, client key and authorized_keys
 * in a temp dir, listening on a free loopback port. Logins are public-key only, as the current OS
 * user (as root in CI; as a non-root user sshd can only let that same user in, which is all the
 * tests need).
 */

export const SSHD_BIN = '/usr/sbin/sshd';
const SSH_KEYGEN = 'ssh-keygen';
const HOST = '127.0.0.1';
/** sshd's privilege-separation chroot on Debian; sshd refuses to start as root without it. */
const PRIVSEP_DIR = '/run/sshd';
const START_ATTEMPTS = 5;
const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;
const POLL_MS = 50;

export interface SshdOptions {
  /**
   * More sshd_config lines. They are written before the fixture's own settings, because sshd keeps
   * the first value it reads for a keyword; so they override. No `Match` blocks.
   */
  readonly extraConfig?: readonly string[];
  /** More authorized_keys lines (public keys in OpenSSH format), besides the fixture's client key. */
  readonly extraAuthorizedKeys?: readonly string[];
}

export interface Sshd {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Temp dir holding config, keys, log and repositories; removed by stop(). */
  readonly dir: string;
  /** The OS user that can log in (the current one). */
  readonly user: string;
  /** Private key (ed25519, no passphrase) in authorized_keys: the one the gateway logs in with. */
  readonly clientKeyPath: string;
  /** The same private key as text (OpenSSH PEM format). */
  readonly clientPrivateKey: string;
  /** `ssh-ed25519 AAAA…` of the client key. */
  readonly clientPublicKey: string;
  readonly hostKeyPath: string;
  /** `ssh-ed25519 AAAA…` of the host key being served now: changes after rotateHostKey(). */
  readonly hostPublicKey: string;
  /** `[127.0.0.1]:PORT ssh-ed25519 AAAA…` for a known_hosts file; changes after rotateHostKey(). */
  readonly knownHostsLine: string;
  /** sshd's own log (-e, LogLevel VERBOSE). */
  readonly logPath: string;
  /** sshd's log so far. */
  log(): Promise<string>;
  /** Writes knownHostsLine to a file (default: DIR/known_hosts) and returns its path. */
  writeKnownHosts(file?: string): Promise<string>;
  /**
   * A bare repository DIR/repos/NAME.git with one commit on `main` (HEAD → main);
   * returns its absolute path.
   */
  bareRepo(name: string): Promise<string>;
  /** `ssh://USER@127.0.0.1:PORT/ABS/PATH` for git. */
  repoUrl(repoPath: string): string;
  /** Replaces the host key and restarts sshd (SIGHUP) on the same port; resolves once the new key is served. */
  rotateHostKey(): Promise<void>;
  /** Kills sshd and every process it started, and removes the dir. Idempotent. */
  stop(): Promise<void>;
}

export async function startSshd(opts: SshdOptions = {}): Promise<Sshd> {
  const user = os.userInfo().username;
  const asRoot = process.getuid?.() === 0;
  if (asRoot && !existsSync(PRIVSEP_DIR)) mkdirSync(PRIVSEP_DIR, { recursive: true, mode: 0o755 });

  const dir = await mkdtemp(path.join(os.tmpdir(), 'hoop-sshd-'));
  const configPath = path.join(dir, 'sshd_config');
  const hostKeyPath = path.join(dir, 'ssh_host_ed25519_key');
  const clientKeyPath = path.join(dir, 'client_ed25519');
  const authorizedKeysPath = path.join(dir, 'authorized_keys');
  const logPath = path.join(dir, 'sshd.log');

  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let stopped = false;

  const stopSync = (): void => {
    if (stopped) return;
    stopped = true;
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) killTree(child.pid);
    rmSync(dir, { recursive: true, force: true });
  };
  // A test run that dies must not leave sshd listening behind it.
  process.once('exit', stopSync);

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.off('exit', stopSync);
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      killTree(child.pid);
      await Promise.race([exited, sleep(STOP_TIMEOUT_MS)]);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await keygen(hostKeyPath, 'hoop-test-host');
    await keygen(clientKeyPath, 'hoop-test-client');
    let hostPublicKey = await publicKeyOf(hostKeyPath);
    const clientPublicKey = await publicKeyOf(clientKeyPath);
    await writeFile(authorizedKeysPath, [clientPublicKey, ...(opts.extraAuthorizedKeys ?? [])].join('\n') + '\n');

    const baseConfig = (port: number): string[] => [
      ...(opts.extraConfig ?? []),
      `ListenAddress ${HOST}`,
      `Port ${port}`,
      `HostKey ${hostKeyPath}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorizedKeysPath}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'HostbasedAuthentication no',
      'UsePAM no',
      // The temp dir and keys belong to whoever runs the tests, not to the login user's home.
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'AcceptEnv LANG LC_* GIT_PROTOCOL',
      'Subsystem sftp internal-sftp',
      'AllowTcpForwarding yes',
      'X11Forwarding no',
      'PrintMotd no',
      'PrintLastLog no',
      'UseDNS no',
      'LogLevel VERBOSE',
      // Tests open many connections at once; the default 10:30:100 starts dropping them early.
      'MaxStartups 100',
      'MaxSessions 100',
      'LoginGraceTime 30',
    ];

    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const lines = baseConfig(port);
      // OpenSSH ≥ 9.8 penalises addresses whose logins fail; tests fail logins on purpose from 127.0.0.1.
      if (await sshdAccepts([...lines, 'PerSourcePenalties no'], configPath)) lines.push('PerSourcePenalties no');
      await writeFile(configPath, lines.join('\n') + '\n');
      const started = await launch(configPath, logPath, port);
      if (started.kind === 'ready') {
        child = started.child;
        exited = started.exited;
        break;
      }
      const log = await readFile(logPath, 'utf8').catch(() => '');
      // Another process took the port between our probe and sshd's bind: pick another.
      if (started.kind === 'bind-failed' && attempt < START_ATTEMPTS) continue;
      throw new Error(`sshd did not start (${started.kind}):\n${log.slice(-4000)}`);
    }

    const sshdPort = port;
    const clientPrivateKey = await readFile(clientKeyPath, 'utf8');
    const knownHostsLine = (): string => `[${HOST}]:${sshdPort} ${hostPublicKey}`;

    const sshd: Sshd = {
      host: HOST,
      port: sshdPort,
      dir,
      user,
      clientKeyPath,
      clientPrivateKey,
      clientPublicKey,
      hostKeyPath,
      get hostPublicKey() {
        return hostPublicKey;
      },
      get knownHostsLine() {
        return knownHostsLine();
      },
      logPath,
      log: () => readFile(logPath, 'utf8'),
      async writeKnownHosts(file = path.join(dir, 'known_hosts')) {
        await writeFile(file, knownHostsLine() + '\n');
        return file;
      },
      bareRepo: (name) => makeBareRepo(dir, name),
      repoUrl: (repoPath) => `ssh://${user}@${HOST}:${sshdPort}${path.resolve(repoPath)}`,
      async rotateHostKey() {
        const fresh = path.join(dir, 'ssh_host_ed25519_key.next');
        await keygen(fresh, 'hoop-test-host-rotated');
        const next = await publicKeyOf(fresh);
        await rename(fresh, hostKeyPath);
        await rename(`${fresh}.pub`, `${hostKeyPath}.pub`);
        const pid = child?.pid;
        if (pid === undefined || child?.exitCode !== null) throw new Error('sshd is not running');
        // sshd re-executes itself on SIGHUP (same pid, same arguments) and so reads the new key.
        process.kill(pid, 'SIGHUP');
        const deadline = Date.now() + START_TIMEOUT_MS;
        while ((await scanHostKey(sshdPort)) !== next) {
          if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
            throw new Error(`sshd did not come back with the new host key:\n${(await sshd.log()).slice(-4000)}`);
          }
          await sleep(POLL_MS);
        }
        hostPublicKey = next;
      },
      stop,
    };
    return sshd;
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * ssh options that trust exactly the host key in `knownHostsFile`, log in with the fixture's client
 * key, and ignore the machine's and the user's ssh config. Follow with `USER@127.0.0.1 [command]`.
 */
export function sshClientArgs(sshd: Pick<Sshd, 'port' | 'clientKeyPath'>, knownHostsFile: string): string[] {
  return [...sshClientOptions(sshd, knownHostsFile), '-p', String(sshd.port)];
}

/** sshClientArgs without the port, for tools that pass their own (git's GIT_SSH_COMMAND). */
export function sshClientOptions(sshd: Pick<Sshd, 'clientKeyPath'>, knownHostsFile: string): string[] {
  return [
    '-F', '/dev/null',
    '-i', sshd.clientKeyPath,
    '-o', 'IdentitiesOnly=yes',
    '-o', 'IdentityAgent=none',
    '-o', 'BatchMode=yes',
    '-o', `UserKnownHostsFile=${knownHostsFile}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'UpdateHostKeys=no',
    '-o', 'ConnectTimeout=20',
  ];
}

/** A GIT_SSH_COMMAND value (git runs it through a shell) equivalent to sshClientOptions. */
export function gitSshCommand(sshd: Pick<Sshd, 'clientKeyPath'>, knownHostsFile: string): string {
  return ['ssh', ...sshClientOptions(sshd, knownHostsFile)].map(shellQuote).join(' ');
}

export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

type Launch =
  | { kind: 'ready'; child: ChildProcess; exited: Promise<void> }
  | { kind: 'bind-failed' | 'exited' | 'timeout' };

async function launch(configPath: string, logPath: string, port: number): Promise<Launch> {
  const logFd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    // -D: stay in the foreground as our child; -e: log to stderr (the log file), not syslog.
    child = spawn(SSHD_BIN, ['-D', '-e', '-f', configPath], { stdio: ['ignore', logFd, logFd] });
  } finally {
    closeSync(logFd);
  }
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  let spawnError: Error | null = null;
  child.once('error', (err) => {
    spawnError = err;
  });
  const listening = `Server listening on ${HOST} port ${port}.`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (spawnError !== null) throw spawnError;
    const log = await readFile(logPath, 'utf8').catch(() => '');
    if (child.exitCode !== null || child.signalCode !== null) {
      return { kind: /Address already in use|Cannot bind any address/.test(log) ? 'bind-failed' : 'exited' };
    }
    // Both: the log line proves it is our sshd on the port, the banner that it serves connections.
    if (log.includes(listening) && (await readsBanner(port))) return { kind: 'ready', child, exited };
    if (Date.now() > deadline) {
      if (child.pid !== undefined) killTree(child.pid);
      await exited;
      return { kind: 'timeout' };
    }
    await sleep(POLL_MS);
  }
}

/** True when the port accepts a connection and sends an SSH-2.0 identification line. */
function readsBanner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    let seen = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('data', (data) => {
      seen += data.toString('latin1');
      if (seen.includes('\n')) done(seen.startsWith('SSH-2.0-'));
    });
    socket.on('end', () => done(false));
  });
}

/** The ed25519 host key the server at the port serves now, via the real ssh-keyscan. */
async function scanHostKey(port: number): Promise<string | null> {
  const { code, stdout } = await runTool('ssh-keyscan', ['-T', '2', '-t', 'ed25519', '-p', String(port), HOST]);
  if (code !== 0) return null;
  const line = stdout.split('\n').find((l) => l.startsWith(`[${HOST}]:${port} `));
  return line === undefined ? null : line.slice(line.indexOf(' ') + 1).trim();
}

/** Whether sshd's config test accepts these lines (for keywords newer OpenSSH versions know). */
async function sshdAccepts(lines: readonly string[], scratchPath: string): Promise<boolean> {
  await writeFile(scratchPath, lines.join('\n') + '\n');
  const { code } = await runTool(SSHD_BIN, ['-t', '-f', scratchPath]);
  return code === 0;
}

async function keygen(file: string, comment: string): Promise<void> {
  const { code, stderr } = await runTool(SSH_KEYGEN, ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  if (code !== 0) throw new Error(`ssh-keygen failed: ${stderr}`);
}

/** `ssh-ed25519 AAAA…` without the comment. */
async function publicKeyOf(privateKeyPath: string): Promise<string> {
  const [type, blob] = (await readFile(`${privateKeyPath}.pub`, 'utf8')).trim().split(/\s+/);
  if (type === undefined || blob === undefined) throw new Error(`unreadable public key ${privateKeyPath}.pub`);
  return `${type} ${blob}`;
}

const GIT_IDENTITY = {
  GIT_AUTHOR_NAME: 'hoop test',
  GIT_AUTHOR_EMAIL: 'test@hoop.invalid',
  GIT_AUTHOR_DATE: '2024-01-01T00:00:00Z',
  GIT_COMMITTER_NAME: 'hoop test',
  GIT_COMMITTER_EMAIL: 'test@hoop.invalid',
  GIT_COMMITTER_DATE: '2024-01-01T00:00:00Z',
  GIT_CONFIG_NOSYSTEM: '1',
};

/** Builds the initial commit with plumbing, so no working tree and no user git config are involved. */
async function makeBareRepo(dir: string, name: string): Promise<string> {
  if (!/^[\w.-]+$/.test(name) || name.startsWith('.')) throw new Error(`bad repository name ${JSON.stringify(name)}`);
  const repo = path.join(dir, 'repos', name.endsWith('.git') ? name : `${name}.git`);
  await mkdir(path.dirname(repo), { recursive: true });
  const git = async (args: string[], input?: string): Promise<string> => {
    const { code, stdout, stderr } = await runTool('git', ['--git-dir', repo, ...args], { input, env: GIT_IDENTITY });
    if (code !== 0) throw new Error(`git ${args.join(' ')} failed: ${stderr}`);
    return stdout.trim();
  };
  const init = await runTool('git', ['init', '--bare', '--quiet', '--initial-branch=main', repo], { env: GIT_IDENTITY });
  if (init.code !== 0) throw new Error(`git init failed: ${init.stderr}`);
  const blob = await git(['hash-object', '-w', '--stdin'], `# ${name}\n`);
  const tree = await git(['mktree'], `100644 blob ${blob}\tREADME.md\n`);
  const commit = await git(['commit-tree', tree, '-m', 'initial commit']);
  await git(['update-ref', 'refs/heads/main', commit]);
  await git(['symbolic-ref', 'HEAD', 'refs/heads/main']);
  return repo;
}

function runTool(
  file: string,
  args: readonly string[],
  opts: { input?: string | undefined; env?: Record<string, string> } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * sshd gives each connection its own session (setsid), so killing its process group would miss
 * them: freeze the listener so it forks no more, then kill it and every descendant found in /proc.
 */
function killTree(pid: number): void {
  try {
    process.kill(pid, 'SIGSTOP');
  } catch {
    return;
  }
  for (const p of [...descendantsOf(pid), pid]) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so parse after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const kid of children.get(queue.shift()!) ?? []) {
      found.push(kid);
      queue.push(kid);
    }
  }
  return found;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
