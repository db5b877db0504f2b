#!/usr/bin/env node
// hoop's benchmark suite: `npm run bench` (which builds first). Not a test: timings are noisy and
// nothing here asserts; it measures, prints one markdown report on stdout (progress on stderr),
// and writes it to bench/RESULTS.md (plus the raw figures as JSON beside it, for bench/compare.mjs).
//
//   node bench/run.mjs [--quick] [--duration S] [--warmup S] [--reps N]
//                      [--only pgbench,stream,mask,classify,version] [--out FILE] [--host H] [--port P]
//
// Needs PostgreSQL (trust auth for user postgres on --host/--port), its pgbench and psql, and
// optionally pgbouncer (apt-get install pgbouncer); installs nothing. Everything it starts listens
// on loopback and is stopped on exit, Ctrl-C included. See docs/benchmarks.md.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  ensureBenchDb,
  findPgBouncer,
  findPgTool,
  libpqDirect,
  median,
  onCleanup,
  peakRssMb,
  repoRoot,
  rssMb,
  run,
  startBenchGateway,
  startPgBouncer,
  stopChild,
} from './lib.mjs';
import { benchClassification, benchMasking, benchVersion } from './micro.mjs';
import { concatLatencies, latencyStats, pgbenchRun } from './pgbench.mjs';
import { streamQuery } from './pgwire.mjs';
import { evaluateTargets, renderReport } from './report.mjs';

const SECTIONS = ['version', 'classify', 'mask', 'pgbench', 'stream'];

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    reps: { type: 'string' },
    only: { type: 'string' },
    out: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '5432' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help) {
  console.log(`usage: npm run bench -- [--quick] [--duration S] [--warmup S] [--reps N] [--only ${SECTIONS.join(',')}] [--out FILE] [--host H] [--port P]

  --quick       a ~40 s subset (direct, PgBouncer and the full gateway at -c 4 simple, a short stream, micro benches)
  --duration S  seconds per measured pgbench run (default 6; 3 with --quick)
  --warmup S    seconds of warm-up per pgbench target and cell (default 2; 1 with --quick)
  --reps N      measured pgbench runs per target and cell (default 3; TPS is their median)
  --only LIST   comma-separated sections to run
  --out FILE    where to write the markdown (default bench/RESULTS.md; bench/results-quick.md for
                --quick or --only); the raw figures go to the same name with .json
See docs/benchmarks.md.`);
  process.exit(0);
}

// What a full run and a quick run measure. A full run takes about 15 minutes on 2 cores: 36
// pgbench cells × (warm-up + 3 runs) dominate.
const profile = args.quick
  ? {
      name: 'quick',
      duration: 3,
      warmup: 1,
      reps: 3,
      modes: ['simple'],
      clients: [4],
      connectEach: [],
      // PgBouncer too (when installed): the throughput target is a ratio to it.
      targets: ['direct', 'pgbouncer', 'gw-full'],
      tunnelReference: null,
      streamRows: 60_000,
      streamTargets: ['direct', 'gw-mask-on'],
      maskMb: 2,
      maskRounds: 2,
      classifyUnique: 500,
      classifyRounds: 3,
      classifyHits: 200_000,
      versionRuns: 5,
    }
  : {
      name: 'full',
      duration: 6,
      warmup: 2,
      reps: 3,
      modes: ['simple', 'prepared'],
      clients: [1, 4, 16],
      connectEach: [{ mode: 'simple', clients: 4 }],
      targets: ['direct', 'pgbouncer', 'gw-record', 'gw-default', 'gw-full'],
      // One row through `hoop connect` (client → local tunnel → gateway) for reference.
      tunnelReference: { mode: 'simple', clients: 1 },
      // ~1.0 GB of DataRows: about 930 bytes per row.
      streamRows: 1_100_000,
      streamTargets: ['direct', 'gw-mask-off', 'gw-mask-on'],
      maskMb: 8,
      maskRounds: 3,
      classifyUnique: 2000,
      classifyRounds: 3,
      classifyHits: 1_000_000,
      versionRuns: 20,
    };
if (args.duration !== undefined) {
  profile.duration = Number(args.duration);
  // pgbench -T takes whole seconds.
  if (!Number.isInteger(profile.duration) || profile.duration < 1) fail(`--duration must be a whole number of seconds ≥ 1, not ${args.duration}`);
}
for (const [flag, key, min] of [['warmup', 'warmup', 1], ['reps', 'reps', 1]]) {
  if (args[flag] === undefined) continue;
  profile[key] = Number(args[flag]);
  if (!Number.isInteger(profile[key]) || profile[key] < min) fail(`--${flag} must be a whole number ≥ ${min}, not ${args[flag]}`);
}
const only = args.only ? args.only.split(',').map((s) => s.trim()).filter(Boolean) : SECTIONS;
for (const s of only) if (!SECTIONS.includes(s)) fail(`--only: unknown section ${s} (sections: ${SECTIONS.join(', ')})`);
const partial = args.quick || args.only !== undefined;
const outPath = resolve(args.out ?? join(import.meta.dirname, partial ? 'results-quick.md' : 'RESULTS.md'));
const jsonPath = outPath.replace(/\.md$/i, '') + '.json';

function fail(message) {
  console.error(`bench: ${message}`);
  process.exit(2);
}

const startedAt = Date.now();
const elapsed = () => {
  const s = Math.round((Date.now() - startedAt) / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};
const progress = (msg) => console.error(`bench [${elapsed()}] ${msg}`);

// ---- preflight: what is installed, what is reachable ----

if (!existsSync(join(repoRoot, 'dist/cli/main.js'))) fail('dist/ is missing: run `npm run build` first (`npm run bench` does)');
const pgbench = findPgTool('pgbench');
const psql = findPgTool('psql');
const needsPg = only.includes('pgbench') || only.includes('stream');
if (needsPg && (!pgbench || !psql)) {
  fail('pgbench and psql are needed: install PostgreSQL and its client tools (apt-get install postgresql postgresql-contrib)');
}
const direct = libpqDirect(args.host, args.port);
let pgVersion = 'not used';
if (needsPg) {
  try {
    pgVersion = run(psql, ['-X', '-d', 'postgres', '-Atqc', 'show server_version'], direct).trim();
  } catch (err) {
    fail(`cannot reach PostgreSQL at ${args.host}:${args.port} as user postgres (trust auth expected): ${String(err.stderr ?? err.message).trim()}`);
  }
}
const pgbouncerBin = only.includes('pgbench') && profile.targets.includes('pgbouncer') ? findPgBouncer() : null;
let pgbouncerVersion = 'not used';
if (only.includes('pgbench') && profile.targets.includes('pgbouncer')) {
  if (pgbouncerBin) pgbouncerVersion = run(pgbouncerBin, ['--version']).split('\n')[0].trim();
  else {
    pgbouncerVersion = 'not installed';
    progress('pgbouncer not found: PgBouncer rows are "not measured" (install it with `apt-get install pgbouncer`)');
  }
}

function gitDescribe() {
  try {
    return execFileSync('git', ['-C', repoRoot, 'describe', '--always', '--dirty'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

const cpu = cpus();
const meta = {
  date: new Date().toISOString(),
  profile: profile.name,
  sections: only,
  machine: {
    cores: cpu.length,
    model: cpu[0]?.model?.trim() ?? 'unknown',
    memoryGiB: totalmem() / 2 ** 30,
    os: `${process.platform} ${release()}`,
    loadStart: loadavg()[0],
  },
  software: {
    node: process.version,
    postgres: pgVersion,
    pgbench: pgbench && needsPg ? run(pgbench, ['--version']).trim() : 'not used',
    pgbouncer: pgbouncerVersion,
    hoop: `${JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version} (${gitDescribe()})`,
  },
  settings: {
    scale: 10,
    duration: profile.duration,
    warmup: profile.warmup,
    reps: profile.reps,
  },
};

const work = mkdtempSync(join(tmpdir(), 'hoop-bench-'));
onCleanup(() => rmSync(work, { recursive: true, force: true }));

const results = { meta, pgbench: null, stream: null, mask: null, classify: null, version: null };

// ---- gateway configurations ----

const ALLOW_ALL = 'policy:\n  rules:\n    - name: allow-all\n      action: allow\n';
const MASKING_OFF = 'masking:\n  enabled: false\n';
// The built-in detectors (all defaults) plus column rules and per-detector styles, as a real
// deployment would have them (docs/masking.md).
const MASKING_FULL = `masking:
  styles: { email: hash, card: partial }
  rules:
    - columns: ['*.ssn', '*password*', '*secret*']
      style: hash
    - columns: ['/^(.*\\.)?card_?number$/i']
      style: partial
      label: card
`;
const GATEWAYS = {
  'gw-record': { label: 'gateway: recording only', yaml: ALLOW_ALL + MASKING_OFF },
  'gw-default': { label: 'gateway: default policy', yaml: MASKING_OFF },
  'gw-full': { label: 'gateway: policy + masking + recording', yaml: MASKING_FULL },
};
const TARGET_LABELS = {
  direct: 'direct',
  pgbouncer: 'PgBouncer (session)',
  ...Object.fromEntries(Object.entries(GATEWAYS).map(([k, g]) => [k, g.label])),
  'gw-full-tunnel': 'gateway (full) via hoop connect',
};

const startGateway = (name, yaml, tunnel = false) =>
  startBenchGateway({ dir: join(work, name), extraYaml: yaml, host: args.host, port: args.port, database: 'hoop_bench', tunnel });

// CPU seconds a process has used so far (utime + stime from /proc/PID/stat), to report a proxy's
// CPU per transaction: steadier than TPS on a shared machine.
const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();
function cpuSecondsOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return NaN;
  }
}

// ---- sections ----

async function sectionVersion() {
  progress(`hoop --version × ${profile.versionRuns}`);
  results.version = benchVersion({ runs: profile.versionRuns });
}

async function sectionClassify() {
  progress('SQL classification, cold and cached');
  results.classify = await benchClassification({ unique: profile.classifyUnique, rounds: profile.classifyRounds, hitsPerRound: profile.classifyHits });
}

async function sectionMask() {
  progress(`masking engine, ${profile.maskMb} MB per input`);
  results.mask = await benchMasking({ mb: profile.maskMb, rounds: profile.maskRounds });
}

async function sectionPgbench() {
  ensureBenchDb({ psql, pgbench, env: direct, db: 'hoop_bench', scale: meta.settings.scale, log: progress });
  const targets = {};
  // Why a target has no figures: shown in its rows instead of failing the whole section.
  const unavailable = {};
  const stoppers = [];
  targets.direct = { env: direct, database: 'hoop_bench', pids: [] };
  if (profile.targets.includes('pgbouncer')) {
    if (!pgbouncerBin) unavailable.pgbouncer = 'not measured: pgbouncer not installed (apt-get install pgbouncer)';
    else {
      progress('starting PgBouncer (session pooling)');
      try {
        const bouncerDir = mkdtempSync(join(tmpdir(), 'hoop-bench-pgbouncer-'));
        // PgBouncer runs as postgres when the bench runs as root: it must read its folder.
        chmodSync(bouncerDir, 0o755);
        onCleanup(() => rmSync(bouncerDir, { recursive: true, force: true }));
        const b = await startPgBouncer({ bin: pgbouncerBin, dir: bouncerDir, host: args.host, port: args.port, database: 'hoop_bench' });
        targets.pgbouncer = { env: b.env, database: 'hoop_bench', pids: [b.process.pid] };
        stoppers.push(b.process);
      } catch (err) {
        unavailable.pgbouncer = `not measured: PgBouncer did not start (${err.message})`;
        progress(unavailable.pgbouncer);
      }
    }
  }
  for (const key of profile.targets.filter((t) => t in GATEWAYS)) {
    const withTunnel = key === 'gw-full' && profile.tunnelReference !== null;
    progress(`starting ${GATEWAYS[key].label}${withTunnel ? ' (and hoop connect)' : ''}`);
    try {
      const gw = await startGateway(key, GATEWAYS[key].yaml, withTunnel);
      targets[key] = { env: gw.native, database: 'bench', pids: [gw.pid] };
      // Through the tunnel, the proxy is two processes: `hoop connect` and the gateway.
      if (withTunnel) targets['gw-full-tunnel'] = { env: gw.tunnel, database: 'bench', pids: [gw.pid, gw.connectProcess.pid] };
      stoppers.push(gw.process);
      if (gw.connectProcess) stoppers.push(gw.connectProcess);
    } catch (err) {
      unavailable[key] = `not measured: the gateway did not start (${err.message})`;
      if (withTunnel) unavailable['gw-full-tunnel'] = unavailable[key];
      progress(unavailable[key]);
    }
  }

  const cells = [];
  for (const mode of profile.modes) for (const clients of profile.clients) cells.push({ mode, clients, connectEach: false });
  for (const c of profile.connectEach) cells.push({ ...c, connectEach: true });
  const cellTargets = (cell) => {
    const list = [...profile.targets];
    const ref = profile.tunnelReference;
    if (ref && !cell.connectEach && ref.mode === cell.mode && ref.clients === cell.clients) list.push('gw-full-tunnel');
    return list;
  };
  const totalRuns = cells.reduce((s, c) => s + cellTargets(c).length, 0);
  const plannedSeconds = totalRuns * (profile.warmup + profile.reps * profile.duration + 0.5 * (profile.reps + 1));
  progress(`pgbench -S scale 10: ${cells.length} cells, ${totalRuns} targets, ${profile.reps} × ${profile.duration}s after a ${profile.warmup}s warm-up each; about ${Math.ceil(plannedSeconds / 60)} min`);

  const rows = [];
  for (const cell of cells) {
    const keys = cellTargets(cell);
    const runs = Object.fromEntries(keys.map((k) => [k, { tps: [], latencies: [], connectMs: [], failed: 0, cpuPerTx: [], errors: [] }]));
    const cellName = `${cell.mode}${cell.connectEach ? ' -C' : ''} -c ${cell.clients}`;
    const once = async (key, duration, logPrefix) => {
      const t = targets[key];
      if (!t) return null;
      const cpuOf = () => (t.pids.length ? t.pids.reduce((sum, pid) => sum + cpuSecondsOf(pid), 0) : NaN);
      const cpu0 = cpuOf();
      const r = await pgbenchRun({ pgbench, env: t.env, database: t.database, mode: cell.mode, clients: cell.clients, duration, connectEach: cell.connectEach, logPrefix });
      const cpu1 = cpuOf();
      return { ...r, cpuPerTxUs: r.latencies.length ? ((cpu1 - cpu0) / r.latencies.length) * 1e6 : NaN };
    };
    // Warm-up: connections, the server's caches, the gateway's JIT and classification cache.
    for (const key of keys) {
      try {
        await once(key, profile.warmup, null);
      } catch (err) {
        runs[key].errors.push(err.message);
      }
    }
    // Repetitions interleave the targets, so a burst of load from elsewhere hits them all alike.
    for (let rep = 0; rep < profile.reps; rep++) {
      for (const key of keys) {
        if (!targets[key] || runs[key].errors.length) continue;
        try {
          const r = await once(key, profile.duration, join(work, `log-${key}-${rep}`));
          runs[key].tps.push(r.tps);
          runs[key].latencies.push(r.latencies);
          runs[key].connectMs.push(r.connectMs);
          runs[key].failed += r.failed;
          runs[key].cpuPerTx.push(r.cpuPerTxUs);
        } catch (err) {
          runs[key].errors.push(err.message);
        }
      }
      progress(`pgbench ${cellName}: round ${rep + 1}/${profile.reps} done`);
    }
    for (const key of keys) {
      const r = runs[key];
      const measured = targets[key] !== undefined && r.tps.length > 0;
      const stats = measured ? latencyStats(concatLatencies(r.latencies)) : null;
      rows.push({
        mode: cell.mode,
        clients: cell.clients,
        connectEach: cell.connectEach,
        target: key,
        label: TARGET_LABELS[key],
        measured,
        reason: !targets[key] ? (unavailable[key] ?? 'not measured') : r.errors.length ? `failed: ${r.errors[0]}` : null,
        tpsRuns: r.tps,
        tps: measured ? median(r.tps) : NaN,
        p50Ms: stats ? stats.p50 / 1000 : NaN,
        p99Ms: stats ? stats.p99 / 1000 : NaN,
        maxMs: stats ? stats.max / 1000 : NaN,
        over40ms: stats ? stats.stalls : NaN,
        transactions: stats ? stats.count : 0,
        connectMs: cell.connectEach && measured ? median(r.connectMs) : NaN,
        proxyCpuUsPerTx: measured ? median(r.cpuPerTx) : NaN,
        failed: r.failed,
      });
      if (r.errors.length) progress(`pgbench ${cellName} ${key}: ${r.errors[0]}`);
    }
    const summary = rows
      .filter((row) => row.mode === cell.mode && row.clients === cell.clients && row.connectEach === cell.connectEach && row.measured)
      .map((row) => `${row.target} ${row.tps.toFixed(0)}`)
      .join(' · ');
    progress(`pgbench ${cellName}: ${summary}`);
  }
  for (const child of stoppers) await stopChild(child);
  results.pgbench = rows;
}

async function sectionStream() {
  ensureBenchDb({ psql, pgbench, env: direct, db: 'hoop_bench', scale: meta.settings.scale, log: progress });
  const rows = profile.streamRows;
  const col = (i) => `'order ' || g || ' status shipped, item ${i} of 10, qty ' || (g % 7) || ', warehouse north aisle ' || (g % 40) || ' shelf ' || (g % 9) || ' packed'`;
  const select = (n) => `select ${Array.from({ length: 10 }, (_, i) => col(i)).join(', ')} from generate_series(1, ${n}) g`;
  const out = [];
  for (const key of profile.streamTargets) {
    let conn;
    let gw = null;
    if (key === 'direct') conn = { port: args.port, host: args.host, user: 'postgres', database: 'hoop_bench' };
    else {
      const yaml = key === 'gw-mask-on' ? MASKING_FULL : MASKING_OFF;
      progress(`starting a fresh gateway (masking ${key === 'gw-mask-on' ? 'on' : 'off'}) for the stream, so its peak RSS is this test's`);
      gw = await startGateway(`stream-${key}`, yaml);
      conn = { port: gw.native.PGPORT, host: '127.0.0.1', user: 'bench', database: 'bench', password: gw.token };
    }
    const label = { direct: 'direct', 'gw-mask-off': 'gateway, masking off', 'gw-mask-on': 'gateway, masking on (detectors + rules)' }[key];
    try {
      await streamQuery({ ...conn, sql: select(20_000) }); // warm-up
      const rssBefore = gw ? rssMb(gw.pid) : NaN;
      // VmHWM is the peak over the gateway's life (start and warm-up included); sampling VmRSS
      // shows the peak of this run alone.
      let sampledPeak = rssBefore;
      const sampler = gw ? setInterval(() => (sampledPeak = Math.max(sampledPeak, rssMb(gw.pid))), 20) : null;
      progress(`streaming ${rows.toLocaleString('en-US')} rows × 10 text columns: ${label}`);
      let r;
      try {
        r = await streamQuery({ ...conn, sql: select(rows) });
      } finally {
        if (sampler) clearInterval(sampler);
      }
      if (r.rows !== rows) throw new Error(`expected ${rows} rows, got ${r.rows}`);
      out.push({
        target: key,
        label,
        measured: true,
        rows: r.rows,
        mb: r.bytes / 1e6,
        seconds: r.seconds,
        rowsPerSecond: r.rows / r.seconds,
        mbPerSecond: r.bytes / 1e6 / r.seconds,
        rssBeforeMb: rssBefore,
        rssSampledPeakMb: gw ? sampledPeak : NaN,
        peakRssMb: gw ? peakRssMb(gw.pid) : NaN,
      });
      progress(`  ${(r.rows / r.seconds).toFixed(0)} rows/s, ${(r.bytes / 1e6 / r.seconds).toFixed(0)} MB/s${gw ? `, gateway peak RSS ${peakRssMb(gw.pid).toFixed(0)} MB` : ''}`);
    } catch (err) {
      out.push({ target: key, label, measured: false, reason: `failed: ${err.message}` });
      progress(`stream ${key}: ${err.message}`);
    }
    if (gw) await stopChild(gw.process);
  }
  results.stream = out;
}

const runners = { version: sectionVersion, classify: sectionClassify, mask: sectionMask, pgbench: sectionPgbench, stream: sectionStream };
progress(`${profile.name} run: ${only.join(', ')}; writing ${outPath}`);
for (const section of SECTIONS) {
  if (!only.includes(section)) continue;
  try {
    await runners[section]();
  } catch (err) {
    progress(`section ${section} failed: ${err.stack ?? err.message}`);
    results[section] = { error: err.message };
  }
}
meta.machine.loadEnd = loadavg()[0];
meta.seconds = Math.round((Date.now() - startedAt) / 1000);

results.targets = evaluateTargets(results);
const markdown = renderReport(results);
writeFileSync(outPath, markdown);
writeFileSync(jsonPath, `${JSON.stringify(results, null, 1)}\n`);
console.log(markdown);
progress(`done in ${elapsed()}: wrote ${outPath} and ${jsonPath}`);
process.exit(0);
