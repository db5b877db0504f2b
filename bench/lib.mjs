// Shared by the bench scripts: finding PostgreSQL's tools, and running a real gateway with a
// service account, `hoop connect` and its native PostgreSQL port on loopback.
import { execFileSync, spawn } from 'node:child_process';
import { globSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

export const hoopBin = resolve(import.meta.dirname, '../bin/hoop');

export function pgTool(name) {
  const found = globSync(`/usr/lib/postgresql/*/bin/${name}`).sort().at(-1);
  if (found) return found;
  try {
    return execFileSync('which', [name], { encoding: 'utf8' }).trim();
  } catch {
    console.error(`bench: ${name} not found; install PostgreSQL's client tools (apt-get install postgresql-client)`);
    process.exit(2);
  }
}

export function run(cmd, argv, env) {
  return execFileSync(cmd, argv, { env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
}

function waitForJson(stream, predicate, what, child) {
  return new Promise((resolveLine, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start`)), 30_000);
    createInterface({ input: stream }).on('line', (line) => {
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
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code}`)));
  });
}

/**
 * Starts `hoop gateway` in `dir` with `extraYaml` (policy, masking…) and one connection `bench`
 * to the given database, plus `hoop connect bench`. Returns libpq environments for the tunnel
 * and for the native port, and the gateway's pid. Children are pushed to `children` for cleanup.
 */
export async function startBenchGateway({ dir, extraYaml, host, port, database, children }) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'hoop.yaml'),
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
  const gateway = spawn('node', [hoopBin, 'gateway', '--config', join(dir, 'hoop.yaml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(gateway);
  let pgPort = 0;
  const listening = await waitForJson(
    gateway.stderr,
    (j) => {
      if (j.msg === 'native PostgreSQL listener ready') pgPort = j.port;
      return j.msg === 'gateway listening';
    },
    'hoop gateway',
    gateway,
  );
  const token = run('node', [hoopBin, 'admin', 'service-account', 'create', 'bench', '--config', join(dir, 'hoop.yaml')], {}).trim();
  const connect = spawn('node', [hoopBin, 'connect', 'bench', '--json', '--gateway', listening.url, '--token', token], {
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, HOOP_CONFIG_DIR: dir },
  });
  children.push(connect);
  const ready = await waitForJson(connect.stdout, (j) => j.status === 'ready', 'hoop connect', connect);
  return {
    pid: gateway.pid,
    tunnel: { PGHOST: '127.0.0.1', PGPORT: String(ready.port), PGUSER: 'hoop', PGSSLMODE: 'disable' },
    native: { PGHOST: '127.0.0.1', PGPORT: String(pgPort), PGUSER: 'bench', PGPASSWORD: token, PGSSLMODE: 'disable' },
  };
}

/** Peak resident set size of a process so far (Linux VmHWM), in MB. */
export function peakRssMb(pid) {
  try {
    const status = execFileSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' });
    return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return NaN;
  }
}
