import { spawn, type ChildProcess } from 'node:child_process';
import { globSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { execa, type Result } from 'execa';
import { afterAll } from 'vitest';
import { approveDevice } from './device-flow.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const HOOP_BIN = join(ROOT, 'bin/hoop');

/** PostgreSQL's own client binaries (psql, pgbench) of the installed major version. */
export function pgBin(name: string): string {
  const found = globSync(`/usr/lib/postgresql/*/bin/${name}`).sort();
  return found.at(-1) ?? name;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `hoop-test-${prefix}-`));
}

/** A `tempDir` whose directories are removed once the calling test file's tests are done (call at module level). */
export function tempDirsRemovedAfterAll(): (prefix: string) => string {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return (prefix) => {
    const dir = tempDir(prefix);
    dirs.push(dir);
    return dir;
  };
}

/** Runs the real CLI as a user would, with its own config dir so tests never touch the machine's login. */
export function hoop(args: readonly string[], opts: { env?: Record<string, string>; input?: string; configDir?: string } = {}): Promise<Result> {
  return execa('node', [HOOP_BIN, ...args], {
    reject: false,
    env: { HOOP_CONFIG_DIR: opts.configDir ?? join(tmpdir(), 'hoop-test-cli-none'), ...opts.env },
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' }),
    timeout: 120_000,
  });
}

export interface GatewayProcess {
  readonly url: string;
  /** The native PostgreSQL listener's port, when `listeners.postgres` is configured. */
  readonly postgresPort: number | undefined;
  readonly dir: string;
  readonly configPath: string;
  readonly child: ChildProcess;
  /** Everything the gateway wrote on stderr (its log). */
  readonly log: () => string;
  /** Creates a service account through the real CLI and returns its token. */
  createToken(name: string, groups?: readonly string[]): Promise<string>;
  revoke(name: string): Promise<void>;
  stop(): Promise<void>;
}

export interface GatewayOptions {
  /** The `connections:` list (YAML), default: pg-local. */
  readonly connectionsYaml?: string;
  /** More top-level YAML (auth:, listeners:…). */
  readonly extraYaml?: string;
  readonly env?: Record<string, string>;
  /** Start on an existing gateway folder (its config, store and keys): a restart. */
  readonly reuseDir?: string;
}

/** The real 127.0.0.1:5432 PostgreSQL as connection `pg-local`. */
export const LOCAL_PG_CONNECTION = `
  - name: pg-local
    type: postgres
    host: 127.0.0.1
    port: 5432
    database: test
    user: postgres
    tls: disable
`;

/**
 * Tests of the data path itself run with everything allowed, so they exercise relaying rather than
 * policy; tests of policy bring their own `policy:` in extraYaml.
 */
export const ALLOW_ALL_POLICY = `policy:\n  rules:\n    - name: test-allow-all\n      action: allow\n`;

/** Starts `hoop gateway` as its own process (as in production) on a free loopback port. */
export async function startGateway(opts: GatewayOptions = {}): Promise<GatewayProcess> {
  const dir = opts.reuseDir ?? tempDir('gw');
  const configPath = join(dir, 'hoop.yaml');
  if (!opts.reuseDir) writeFileSync(
    configPath,
    `listen: 127.0.0.1:0\nstore: sqlite:./data/hoop.db\nlog:\n  level: info\n${opts.extraYaml ?? ''}\n${opts.extraYaml?.includes('policy:') ? '' : ALLOW_ALL_POLICY}\nconnections:${opts.connectionsYaml ?? LOCAL_PG_CONNECTION}`,
  );
  // Through the launcher, as a user starts it (its shell line execs node with the flags it needs, same pid).
  const child = spawn(HOOP_BIN, ['gateway', '--config', configPath], {
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  let postgresPort: number | undefined;
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${log}`)), 30_000);
    const rl = createInterface({ input: child.stderr! });
    rl.on('line', (line) => {
      log += `${line}\n`;
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string; port?: number };
        if (entry.msg === 'native PostgreSQL listener ready') postgresPort = entry.port;
        if (entry.msg === 'gateway listening' && entry.url) {
          clearTimeout(timer);
          resolveUrl(entry.url);
        }
      } catch {
        // a plain status line
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code}:\n${log}`));
    });
  });
  child.stdout!.resume();
  return {
    url,
    postgresPort,
    dir,
    configPath,
    child,
    log: () => log,
    async createToken(name, groups = ['engineers']) {
      const r = await hoop(['admin', 'service-account', 'create', name, '--groups', groups.join(','), '--config', configPath]);
      if (r.exitCode !== 0) throw new Error(`service-account create failed: ${String(r.stderr)}`);
      return String(r.stdout).trim();
    },
    async revoke(name) {
      const r = await hoop(['admin', 'service-account', 'revoke', name, '--config', configPath]);
      if (r.exitCode !== 0) throw new Error(`revoke failed: ${String(r.stderr)}`);
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ConnectProcess {
  readonly port: number;
  readonly child: ChildProcess;
  /** JSON lines printed so far. */
  readonly lines: () => Record<string, unknown>[];
  stop(): Promise<void>;
}

/** Runs `hoop connect NAME --json` and waits for its ready line. */
export async function startConnect(connection: string, gateway: string, token: string): Promise<ConnectProcess> {
  const child = spawn('node', [HOOP_BIN, 'connect', connection, '--json', '--gateway', gateway, '--token', token], {
    env: { ...process.env, HOOP_CONFIG_DIR: join(tmpdir(), 'hoop-test-cli-none') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`hoop connect did not become ready: ${stderr}`)), 30_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const j = JSON.parse(line) as Record<string, unknown>;
      lines.push(j);
      if (j.status === 'ready') {
        clearTimeout(timer);
        resolvePort(j.port as number);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`hoop connect exited with ${code}: ${stderr}`));
    });
  });
  return {
    port,
    child,
    lines: () => lines,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGINT');
        await new Promise((r) => child.once('exit', r));
      }
    },
  };
}

/** Resident set size of a process in bytes (Linux). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/** Runs psql against a local tunnel port. */
export function psql(port: number, args: readonly string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<Result> {
  return execa(pgBin('psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'hoop', '-d', 'pg-local', '-X', '-v', 'ON_ERROR_STOP=0', ...args], {
    reject: false,
    env: { PGSSLMODE: 'disable', PGCONNECT_TIMEOUT: '20', ...opts.env },
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' }),
    timeout: 120_000,
  });
}

/** Direct query against the real server (for assertions, not through hoop). */
export async function directQuery(sql: string): Promise<string> {
  const r = await execa(pgBin('psql'), ['-h', '127.0.0.1', '-p', '5432', '-U', 'postgres', '-d', 'test', '-X', '-Atqc', sql], { reject: true });
  return String(r.stdout).trim();
}

/** Runs `hoop login` with the device flow and approves it in the IdP's pages, as a person would in a browser. */
export async function hoopDeviceLogin(
  gatewayUrl: string | undefined,
  configDir: string,
  user: { username: string; password: string },
  opts: { deny?: boolean } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('node', [HOOP_BIN, 'login', ...(gatewayUrl ? ['--gateway', gatewayUrl] : []), '--no-browser', '--json'], {
    env: { ...process.env, HOOP_CONFIG_DIR: configDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout });
  const approved = new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => {
      stdout += `${line}\n`;
      const j = JSON.parse(line) as { status: string; verificationUriComplete?: string };
      if (j.status === 'pending') approveDevice(j.verificationUriComplete!, user.username, user.password, opts.deny ? { deny: true } : {}).then(resolve, reject);
    });
  });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  await approved;
  return { code, stdout, stderr };
}

/** A pending approval request as `hoop approvals list --json` shows it to an approver. */
export interface PendingRequest {
  readonly id: string;
  readonly statement: string;
  readonly identityName: string;
}

/** Waits until a pending approval request whose held text contains `fragment` shows up, as an approver would see it. */
export async function waitForRequest(gw: GatewayProcess, token: string, fragment: string, attempts = 300): Promise<PendingRequest> {
  for (let i = 0; i < attempts; i++) {
    const r = await hoop(['approvals', 'list', '--json', '--gateway', gw.url, '--token', token]);
    const { requests } = JSON.parse(String(r.stdout)) as { requests: PendingRequest[] };
    const found = requests.find((q) => q.statement.includes(fragment));
    if (found) return found;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`no approval request for ${fragment}`);
}
