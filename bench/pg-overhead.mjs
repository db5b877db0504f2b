#!/usr/bin/env node
// pgbench -S (select-only) straight at PostgreSQL and through hoop, in the same run, and prints a
// markdown table with each target's ratio to direct.
// Not a test: timings are noisy, so nothing here asserts. Needs `npm run build` first.
//
//   node bench/pg-overhead.mjs [--duration 10] [--clients 1,4] [--modes simple,prepared] [--scale 10]
import { spawn, execFileSync } from 'node:child_process';
import { globSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const root = resolve(import.meta.dirname, '..');
const hoopBin = join(root, 'bin/hoop');
const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    clients: { type: 'string', default: '1,4' },
    modes: { type: 'string', default: 'simple,prepared' },
    scale: { type: 'string', default: '10' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '5432' },
  },
});

function pgTool(name) {
  const found = globSync(`/usr/lib/postgresql/*/bin/${name}`).sort().at(-1);
  if (found) return found;
  try {
    return execFileSync('which', [name], { encoding: 'utf8' }).trim();
  } catch {
    console.error(`bench: ${name} not found; install PostgreSQL's client tools (apt-get install postgresql-client)`);
    process.exit(2);
  }
}

const pgbench = pgTool('pgbench');
const psql = pgTool('psql');
const db = 'hoop_bench';
const direct = { PGHOST: args.host, PGPORT: args.port, PGUSER: 'postgres', PGSSLMODE: 'disable' };

function run(cmd, argv, env) {
  return execFileSync(cmd, argv, { env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function waitForLine(child, stream, predicate, what) {
  return new Promise((resolveLine, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start`)), 30_000);
    createInterface({ input: child[stream] }).on('line', (line) => {
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

function bench(env, database, mode, clients, duration) {
  const out = run(pgbench, ['-S', '-n', '-M', mode, '-c', String(clients), '-j', String(clients), '-T', String(duration), database], env);
  const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(out)?.[1] ?? NaN);
  const latency = Number(/latency average = ([\d.]+) ms/.exec(out)?.[1] ?? NaN);
  const failed = Number(/number of failed transactions: (\d+)/.exec(out)?.[1] ?? 0);
  return { tps, latency, failed };
}

const work = mkdtempSync(join(tmpdir(), 'hoop-bench-'));
const children = [];
const cleanup = () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

try {
  const exists = run(psql, ['-d', 'postgres', '-Atqc', `select 1 from pg_database where datname = '${db}'`], direct).trim();
  if (exists !== '1') run(psql, ['-d', 'postgres', '-qc', `create database ${db}`], direct);
  console.error(`bench: pgbench -i -s ${args.scale} ${db} …`);
  run(pgbench, ['-i', '-q', '-s', args.scale, db], direct);

  // Two gateways: one that only records (every statement allowed), one with the default policy
  // (every statement parsed, classified and decided). Each is measured through `hoop connect`
  // (client → local tunnel → gateway) and through its native PostgreSQL port (client → gateway,
  // the same topology as PgBouncer).
  async function gateway(name, policyYaml) {
    const dir = join(work, name);
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'hoop.yaml'),
      `listen: 127.0.0.1:0
store: sqlite:./hoop.db
log:
  level: info
listeners:
  postgres: 127.0.0.1:0
${policyYaml}
connections:
  - name: bench
    type: postgres
    host: ${args.host}
    port: ${args.port}
    database: ${db}
    user: postgres
`,
    );
    const child = spawn('node', [hoopBin, 'gateway', '--config', join(dir, 'hoop.yaml')], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let pgPort = 0;
    const url = await new Promise((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error('gateway did not start')), 30_000);
      createInterface({ input: child.stderr }).on('line', (line) => {
        try {
          const j = JSON.parse(line);
          if (j.msg === 'native PostgreSQL listener ready') pgPort = j.port;
          if (j.msg === 'gateway listening') {
            clearTimeout(timer);
            resolveUrl(j.url);
          }
        } catch {
          // status text
        }
      });
    });
    const token = run('node', [hoopBin, 'admin', 'service-account', 'create', 'bench', '--config', join(dir, 'hoop.yaml')], {}).trim();
    const connect = spawn('node', [hoopBin, 'connect', 'bench', '--json', '--gateway', url, '--token', token], {
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, HOOP_CONFIG_DIR: dir },
    });
    children.push(connect);
    const ready = await waitForLine(connect, 'stdout', (j) => j.status === 'ready', 'hoop connect');
    return {
      tunnel: { PGHOST: '127.0.0.1', PGPORT: String(ready.port), PGUSER: 'hoop', PGSSLMODE: 'disable' },
      native: { PGHOST: '127.0.0.1', PGPORT: String(pgPort), PGUSER: 'bench', PGPASSWORD: token, PGSSLMODE: 'disable' },
    };
  }
  const recordOnly = await gateway('record-only', 'policy:\n  rules:\n    - name: allow-all\n      action: allow\n');
  const withPolicy = await gateway('default-policy', '');
  const targets = [
    { name: 'direct', env: direct, database: db },
    { name: 'hoop native port, recording only', env: recordOnly.native, database: 'bench' },
    { name: 'hoop native port, default policy', env: withPolicy.native, database: 'bench' },
    { name: 'hoop connect tunnel, default policy', env: withPolicy.tunnel, database: 'bench' },
  ];

  const duration = Number(args.duration);
  const rows = [];
  for (const mode of args.modes.split(',')) {
    for (const clients of args.clients.split(',').map(Number)) {
      // Warm-up: connections, caches, JIT.
      for (const t of targets) bench(t.env, t.database, mode, clients, 2);
      const results = targets.map((t) => ({ target: t.name, ...bench(t.env, t.database, mode, clients, duration) }));
      rows.push({ mode, clients, results });
      console.error(`bench: ${mode} c=${clients}: ${results.map((r) => `${r.target} ${r.tps.toFixed(0)}`).join(' · ')}`);
    }
  }

  const cpu = cpus();
  const lines = [
    `pgbench -S, scale ${args.scale}, ${duration}s per run; ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}`,
    '',
    '| protocol | clients | target | TPS | vs direct | latency avg (ms) | added latency (µs) | failed tx |',
    '|---|---:|---|---:|---:|---:|---:|---:|',
  ];
  for (const { mode, clients, results } of rows) {
    const d = results[0];
    for (const r of results) {
      lines.push(
        `| ${mode} | ${clients} | ${r.target} | ${r.tps.toFixed(0)} | ${(r.tps / d.tps).toFixed(2)} | ${r.latency.toFixed(3)} | ${r === d ? '' : ((r.latency - d.latency) * 1000).toFixed(0)} | ${r.failed} |`,
      );
    }
  }
  console.log(lines.join('\n'));
} finally {
  cleanup();
}
