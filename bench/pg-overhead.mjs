#!/usr/bin/env node
// pgbench -S (select-only) straight at PostgreSQL and through hoop, in the same run, and prints a
// markdown table with each target's ratio to direct: a quick look at a few gateway variants
// (async acks included). The full comparison, PgBouncer included, is `npm run bench`.
// Not a test: timings are noisy, so nothing here asserts. Needs `npm run build` first.
//
//   node bench/pg-overhead.mjs [--duration 10] [--clients 1,4] [--modes simple,prepared] [--scale 10]
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureBenchDb, pgTool, run, startBenchGateway } from './lib.mjs';

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

const pgbench = pgTool('pgbench');
const psql = pgTool('psql');
const db = 'hoop_bench';
const direct = { PGHOST: args.host, PGPORT: args.port, PGUSER: 'postgres', PGSSLMODE: 'disable' };

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
  ensureBenchDb({ psql, pgbench, env: direct, db, scale: Number(args.scale) });

  // Two gateways: one that only records (every statement allowed), one with the default policy
  // (every statement parsed, classified and decided). Each is measured through `hoop connect`
  // (client → local tunnel → gateway) and through its native PostgreSQL port (client → gateway,
  // the same topology as PgBouncer).
  const gateway = (name, extraYaml) => startBenchGateway({ dir: join(work, name), extraYaml, host: args.host, port: args.port, database: db, children });
  const recordOnly = await gateway('record-only', 'policy:\n  rules:\n    - name: allow-all\n      action: allow\n');
  const withPolicy = await gateway('default-policy', '');
  const asyncAcks = await gateway('record-only-async', 'recording:\n  mode: async\npolicy:\n  rules:\n    - name: allow-all\n      action: allow\n');
  const targets = [
    { name: 'direct', env: direct, database: db },
    { name: 'hoop native port, recording only', env: recordOnly.native, database: 'bench' },
    { name: 'hoop native port, recording only, async acks', env: asyncAcks.native, database: 'bench' },
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
