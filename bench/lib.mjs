// Shared by the bench scripts: finding PostgreSQL's tools, the bench database, and running real
// processes on loopback (a gateway with a service account, `hoop connect`, PgBouncer), with
// cleanup that also runs on Ctrl-C.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, globSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

export const hoopBin = resolve(import.meta.dirname, '../bin/hoop');
export const repoRoot = resolve(import.meta.dirname, '..');

/** A PostgreSQL client tool (newest server version's copy first), or null when absent. */
export function findPgTool(name) {
  const found = globSync(`/usr/lib/postgresql/*/bin/${name}`).sort().at(-1);
  if (found) return found;
  return which(name);
}

export function which(name) {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

export function pgTool(name) {
  const found = findPgTool(name);
  if (found) return found;
  console.error(`bench: ${name} not found; install PostgreSQL's client tools (apt-get install postgresql-client)`);
  process.exit(2);
}

export function run(cmd, argv, env) {
  return execFileSync(cmd, argv, { env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
}

/** Like `run`, without blocking the event loop (signal handlers and timers keep working). */
export function runAsync(cmd, argv, { env = {}, cwd } = {}) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, argv, { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    track(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolveRun({ stdout, stderr });
      else reject(new Error(`${cmd} ${argv.join(' ')} exited with ${code ?? signal}: ${stderr.trim().split('\n').slice(-3).join(' / ')}`));
    });
  });
}

// ---- children and cleanup ----

const children = new Set();
const cleanups = [];
let cleanupInstalled = false;

/** Registers a child process to be killed when the bench exits, however it exits. */
export function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  installCleanup();
  return child;
}

/** Registers a synchronous cleanup step (e.g. removing a temp dir), run after children are killed. */
export function onCleanup(fn) {
  cleanups.push(fn);
  installCleanup();
}

function cleanupNow() {
  for (const c of children) {
    try {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    } catch {
      // already gone
    }
  }
  children.clear();
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      fn();
    } catch {
      // best effort: the process is exiting
    }
  }
}

function installCleanup() {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', cleanupNow);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
    process.on(signal, () => {
      console.error(`\nbench: ${signal}, stopping children`);
      process.exit(code);
    });
  }
}

/** Stops one tracked child and waits for it to be gone. */
export function stopChild(child, timeoutMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    child.kill('SIGTERM');
  });
}

/** A port that was free a moment ago on 127.0.0.1 (for programs that cannot take port 0). */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

/** Resolves with the first JSON line on `stream` that `predicate` accepts; rejects when `child` exits first or 30 s pass. */
export function waitForJson(stream, predicate, what, child) {
  return new Promise((resolveLine, reject) => {
    // The last lines, to say why a child that exits early did not start.
    const tail = [];
    const why = () => (tail.length ? `: ${tail.join(' / ').slice(-600)}` : '');
    const timer = setTimeout(() => reject(new Error(`${what} did not start within 30 s${why()}`)), 30_000);
    createInterface({ input: stream }).on('line', (line) => {
      tail.push(line.trim());
      if (tail.length > 3) tail.shift();
      try {
        const j = JSON.parse(line);
        if (predicate(j)) {
          clearTimeout(timer);
          resolveLine(j);
        }
      } catch {
        // status text
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      // Let the last lines arrive before saying why.
      setImmediate(() => reject(new Error(`${what} exited with ${code}${why()}`)));
    });
  });
}

// ---- the bench database ----

export const libpqDirect = (host = '127.0.0.1', port = '5432') => ({ PGHOST: host, PGPORT: String(port), PGUSER: 'postgres', PGSSLMODE: 'disable' });

/**
 * Creates `db` and initialises it with pgbench at `scale`, unless it already holds exactly that
 * scale (pgbench -i takes a while and would make runs depend on a fresh VACUUM).
 */
export function ensureBenchDb({ psql, pgbench, env, db = 'hoop_bench', scale = 10, log = console.error }) {
  const exists = run(psql, ['-X', '-d', 'postgres', '-Atqc', `select 1 from pg_database where datname = '${db}'`], env).trim();
  if (exists !== '1') run(psql, ['-X', '-d', 'postgres', '-qc', `create database ${db}`], env);
  let current = 0;
  try {
    current = Number(run(psql, ['-X', '-d', db, '-Atqc', 'select count(*) from pgbench_branches'], env).trim());
  } catch {
    current = 0;
  }
  if (current === Number(scale)) {
    log(`bench: ${db} already at pgbench scale ${scale}, reusing it`);
    return;
  }
  log(`bench: pgbench -i -s ${scale} ${db} …`);
  run(pgbench, ['-i', '-q', '-s', String(scale), db], env);
}

// ---- the gateway ----

/**
 * Starts `hoop gateway --config configPath` through the launcher, as users start it (it gives node
 * the flags the gateway runs with), waits until it listens, and creates the service account
 * `account`, whose token it returns. `onLog` sees each log line until then; the log is drained
 * after, so a full pipe never stalls the gateway. The child goes to `children` when given.
 */
export async function launchGateway({ configPath, account, children: list, onLog }) {
  const gateway = track(spawn(hoopBin, ['gateway', '--config', configPath], { stdio: ['ignore', 'ignore', 'pipe'] }));
  list?.push(gateway);
  const listening = await waitForJson(
    gateway.stderr,
    (j) => {
      onLog?.(j);
      return j.msg === 'gateway listening';
    },
    'hoop gateway',
    gateway,
  );
  gateway.stderr.resume();
  const token = run(process.execPath, [hoopBin, 'admin', 'service-account', 'create', account, '--config', configPath], {}).trim();
  return { process: gateway, url: listening.url, token };
}

/**
 * Starts `hoop gateway` in `dir` with `extraYaml` (policy, masking…) and one connection `bench`
 * to the given database, plus (unless `tunnel: false`) `hoop connect bench`. Returns libpq
 * environments for the tunnel and for the native port, and the gateway's pid. Children are pushed
 * to `children` (when given) and tracked for cleanup on exit.
 */
export async function startBenchGateway({ dir, extraYaml, host, port, database, children: list, tunnel = true }) {
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, 'hoop.yaml');
  writeFileSync(
    configPath,
    `listen: 127.0.0.1:0
store: sqlite:./hoop.db
log:
  level: info
listeners:
  postgres: 127.0.0.1:0
${extraYaml}
connections:
  - name: bench
    type: postgres
    host: ${host}
    port: ${port}
    database: ${database}
    user: postgres
`,
  );
  let pgPort = 0;
  const { process: gateway, url, token } = await launchGateway({
    configPath,
    account: 'bench',
    children: list,
    onLog: (j) => {
      if (j.msg === 'native PostgreSQL listener ready') pgPort = j.port;
    },
  });
  const result = {
    pid: gateway.pid,
    process: gateway,
    url,
    token,
    native: { PGHOST: '127.0.0.1', PGPORT: String(pgPort), PGUSER: 'bench', PGPASSWORD: token, PGSSLMODE: 'disable' },
    tunnel: null,
  };
  if (tunnel) {
    const connect = track(
      spawn(process.execPath, [hoopBin, 'connect', 'bench', '--json', '--gateway', url, '--token', token], {
        stdio: ['ignore', 'pipe', 'ignore'],
        env: { ...process.env, HOOP_CONFIG_DIR: dir },
      }),
    );
    list?.push(connect);
    const ready = await waitForJson(connect.stdout, (j) => j.status === 'ready', 'hoop connect', connect);
    connect.stdout.resume();
    result.tunnel = { PGHOST: '127.0.0.1', PGPORT: String(ready.port), PGUSER: 'hoop', PGSSLMODE: 'disable' };
    result.connectProcess = connect;
  }
  return result;
}

// ---- PgBouncer ----

/** PgBouncer's binary: HOOP_BENCH_PGBOUNCER (a path, or `none`), else the usual places. */
export function findPgBouncer() {
  const override = process.env.HOOP_BENCH_PGBOUNCER;
  if (override === 'none') return null;
  if (override) return existsSync(override) ? override : null;
  for (const p of ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer']) if (existsSync(p)) return p;
  return which('pgbouncer');
}

/**
 * Runs PgBouncer in the foreground (session pooling, `auth_type = any`: it logs in to the server as
 * the configured user whatever the client says) on a free loopback port. PgBouncer refuses to run
 * as root, so as root it is started with `-u postgres` and its folder is handed to that user.
 */
export async function startPgBouncer({ bin, dir, host, port, database, poolSize = 40 }) {
  mkdirSync(dir, { recursive: true });
  const listenPort = await freePort();
  const ini = join(dir, 'pgbouncer.ini');
  writeFileSync(
    ini,
    `[databases]
${database} = host=${host} port=${port} dbname=${database} user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${listenPort}
unix_socket_dir =
auth_type = any
pool_mode = session
max_client_conn = 200
default_pool_size = ${poolSize}
log_connections = 0
log_disconnections = 0
logfile = ${join(dir, 'pgbouncer.log')}
`,
  );
  const argv = [];
  if (process.getuid?.() === 0) {
    const uid = Number(run('id', ['-u', 'postgres']).trim());
    const gid = Number(run('id', ['-g', 'postgres']).trim());
    chownSync(dir, uid, gid);
    chownSync(ini, uid, gid);
    chmodSync(dir, 0o755);
    argv.push('-u', 'postgres');
  }
  argv.push(ini);
  const child = track(spawn(bin, argv, { stdio: ['ignore', 'ignore', 'pipe'] }));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited with ${child.exitCode}: ${stderr.trim()} ${readLog(dir)}`);
    if (await canConnect(listenPort)) break;
    if (Date.now() > deadline) throw new Error(`pgbouncer did not listen on ${listenPort}: ${readLog(dir)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { process: child, env: { PGHOST: '127.0.0.1', PGPORT: String(listenPort), PGUSER: 'postgres', PGSSLMODE: 'disable' } };
}

function readLog(dir) {
  try {
    return readFileSync(join(dir, 'pgbouncer.log'), 'utf8').trim().split('\n').slice(-3).join(' / ');
  } catch {
    return '';
  }
}

function canConnect(port) {
  return new Promise((resolveConnect) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolveConnect(true);
    });
    s.once('error', () => resolveConnect(false));
  });
}

/** Peak resident set size of a process so far (Linux VmHWM), in MB. */
export function peakRssMb(pid) {
  return procStatusMb(pid, 'VmHWM');
}

/** Resident set size of a process now (Linux VmRSS), in MB. */
export function rssMb(pid) {
  return procStatusMb(pid, 'VmRSS');
}

function procStatusMb(pid, field) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1];
    return kb === undefined ? NaN : Number(kb) / 1024;
  } catch {
    return NaN;
  }
}

export function median(xs) {
  const s = [...xs].filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
