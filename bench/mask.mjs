#!/usr/bin/env node
// Throughput of the masking engine: maskText on PII-free and PII-dense text (MB/s, one core),
// and maskValue on short cell values (ns/value). Not a test: prints a markdown table, asserts
// nothing. Needs `npm run build` first (imports dist/mask), or HOOP_MASK_MODULE=/path/to/index.js.
//
//   node bench/mask.mjs [--mb 8] [--rounds 5] [--values 200000]
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { cpus, loadavg } from 'node:os';

const { values: args } = parseArgs({
  options: {
    mb: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '5' },
    values: { type: 'string', default: '200000' },
  },
});
const modulePath = process.env.HOOP_MASK_MODULE ?? resolve(import.meta.dirname, '../dist/mask/index.js');
const { createMasker } = await import(pathToFileURL(modulePath).href);

// Reproducible inputs, so runs compare.
const { createRng: rng } = await import(pathToFileURL(resolve(import.meta.dirname, '../dist/demo/random.js')).href);
const r = rng(42);
const int = (a, b) => a + Math.floor(r() * (b - a + 1));
const pick = (xs) => xs[Math.floor(r() * xs.length)];
const digits = (n) => Array.from({ length: n }, () => int(0, 9)).join('');
const hex = (n) => Array.from({ length: n }, () => '0123456789abcdef'[int(0, 15)]).join('');
const alnum = (n) => Array.from({ length: n }, () => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'[int(0, 61)]).join('');

const WORDS = ('the customer order was shipped after payment cleared and the invoice went out to the billing team ' +
  'who reviewed the account balance before closing the ticket with a short note about delivery times').split(' ');
function luhnComplete(partial) {
  let sum = 0;
  for (let i = 0; i < partial.length; i++) {
    let d = Number(partial[partial.length - 1 - i]);
    if (i % 2 === 0) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
  }
  return partial + ((10 - (sum % 10)) % 10);
}

const cleanPieces = [
  () => Array.from({ length: int(6, 16) }, () => pick(WORDS)).join(' ') + '. ',
  () => `2024-${String(int(1, 12)).padStart(2, '0')}-${String(int(1, 28)).padStart(2, '0')}T${String(int(0, 23)).padStart(2, '0')}:${String(int(0, 59)).padStart(2, '0')}:${String(int(0, 59)).padStart(2, '0')}.${digits(3)}Z INFO request_id=${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)} status=200 duration_ms=${int(1, 900)}\n`,
  () => `order ORD-${int(2019, 2025)}-${digits(6)} total $${int(1, 999)}.${digits(2)} qty ${int(1, 9)} `,
  () => `version ${int(0, 9)}.${int(0, 30)}.${int(0, 99)} build ${hex(40)} `,
  () => `GET /api/v2/customers/${int(1, 99999)}/orders?page=${int(1, 9)} HTTP/1.1 `,
];
const piiPieces = [
  () => `card ${luhnComplete('4' + digits(14))} `,
  () => `card ${luhnComplete('5' + int(1, 5) + digits(13)).replace(/(\d{4})(?=\d)/g, '$1 ')} `,
  () => `mail ${pick(WORDS)}.${pick(WORDS)}${int(1, 99)}@example.com `,
  () => `ssn ${String(int(1, 665)).padStart(3, '0')}-${String(int(1, 99)).padStart(2, '0')}-${String(int(1, 9999)).padStart(4, '0')} `,
  () => `call +1 ${int(201, 989)}-555-01${digits(2)} `,
  () => `token=ghp_${alnum(36)} `,
  () => `key sk_live_${alnum(24)} `,
];

function generate(bytes, pieces) {
  const parts = [];
  let len = 0;
  while (len < bytes) {
    const p = pick(pieces)();
    parts.push(p);
    len += p.length;
  }
  return parts.join('');
}

const mb = Number(args.mb);
const rounds = Number(args.rounds);
const clean = generate(mb * 1e6, cleanPieces);
// Roughly one PII value per 60 bytes of surrounding clean text.
const dense = generate(mb * 1e6, [...cleanPieces, ...piiPieces, ...piiPieces, ...piiPieces]);
const prose = generate(mb * 1e6, [cleanPieces[0]]);

const masker = createMasker({});
const hashMasker = createMasker({ style: 'hash' }, { key: Buffer.alloc(32, 7) });

// CPU time of this process (user + system), not wall time: "per core" even when other work
// shares the machine. Both are printed; on an idle machine they agree.
function cpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function measure(fn) {
  let bestCpu = Infinity;
  let bestWall = Infinity;
  for (let k = 0; k < rounds; k++) {
    const c0 = cpuSeconds();
    const t0 = process.hrtime.bigint();
    fn();
    bestWall = Math.min(bestWall, Number(process.hrtime.bigint() - t0) / 1e9);
    bestCpu = Math.min(bestCpu, cpuSeconds() - c0);
  }
  return { cpu: bestCpu, wall: bestWall };
}

function throughput(m, text, chunk) {
  // Cells and log lines arrive as separate strings; chunking shows per-call overhead too.
  const chunks = [];
  for (let i = 0; i < text.length; i += chunk) chunks.push(text.slice(i, i + chunk));
  for (const c of chunks.slice(0, 200)) m.maskText(c);
  let hits = 0;
  const t = measure(() => {
    hits = 0;
    for (const c of chunks) {
      const res = m.maskText(c);
      for (const v of Object.values(res.counts)) hits += v;
    }
  });
  const mb = text.length / 1e6;
  return { cpu: `${(mb / t.cpu).toFixed(0)} MB/s`, wall: `${(mb / t.wall).toFixed(0)} MB/s`, hits };
}

const rows = [];
for (const [name, text] of [['PII-free prose', prose], ['PII-free logs/mixed', clean], ['PII-dense', dense]]) {
  for (const chunk of [64 * 1024, 1024]) {
    const res = throughput(masker, text, chunk);
    rows.push([name, `${chunk / 1024} KiB chunks`, 'redact', res.cpu, res.wall, String(res.hits)]);
  }
}
{
  const res = throughput(hashMasker, dense, 64 * 1024);
  rows.push(['PII-dense', '64 KiB chunks', 'hash', res.cpu, res.wall, String(res.hits)]);
}

const shortValues = [];
const nValues = Number(args.values);
for (let i = 0; i < nValues; i++) {
  shortValues.push(
    pick([
      () => String(int(1, 1e6)),
      () => `${pick(WORDS)} ${pick(WORDS)}`,
      () => `2024-0${int(1, 9)}-1${int(0, 9)} 12:${int(10, 59)}:00+00`,
      () => `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`,
      () => `${int(1, 999)}.${digits(2)}`,
      () => `${pick(WORDS)}${int(1, 99)}@example.com`,
      () => luhnComplete('4' + digits(14)),
    ])(),
  );
}
function perValue(fn) {
  for (let i = 0; i < 20000; i++) fn(shortValues[i % shortValues.length]);
  const t = measure(() => {
    for (const v of shortValues) fn(v);
  });
  const ns = (s) => `${((s * 1e9) / shortValues.length).toFixed(0)} ns/value`;
  return [ns(t.cpu), ns(t.wall)];
}
const ruleMasker = createMasker({ rules: [{ columns: ['*.card_number'], style: 'hash', label: 'card' }] }, { key: Buffer.alloc(32, 7) });
const [cardEntry] = ruleMasker.planColumns([{ name: 'card_number', table: 'customers' }]);
const counts = {};
rows.push(['short values (mix)', 'maskValue', 'detect', ...perValue((v) => masker.maskValue(v, 'detect', counts)), '']);
rows.push(['short values (mix)', 'maskValue', 'pass (exempt)', ...perValue((v) => masker.maskValue(v, 'pass')), '']);
rows.push(['short values (mix)', 'maskValue', 'whole-value hash', ...perValue((v) => ruleMasker.maskValue(v, cardEntry)), '']);
rows.push(['short values (mix)', 'maskValue', 'detect, hash style', ...perValue((v) => hashMasker.maskValue(v, 'detect')), '']);

console.log(`node ${process.version}, ${cpus()[0]?.model ?? 'cpu'}; ${mb} MB per text, best of ${rounds}; load ${loadavg()[0].toFixed(2)} on ${cpus().length} cores\n`);
console.log('| input | calls | style | per CPU-second | wall clock | hits |');
console.log('|---|---|---|---|---|---|');
for (const row of rows) console.log(`| ${row.join(' | ')} |`);

// ---- Streaming through the gateway: rows/s with masking off and on, same run ----
// A PII-free result of 10 text columns, read to the end by psql, straight and through the
// gateway's native port with masking off and on. Skipped when PostgreSQL is not reachable.
{
  const { spawn } = await import('node:child_process');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { pgTool, run, startBenchGateway, peakRssMb } = await import('./lib.mjs');
  const rows = Number(process.env.HOOP_BENCH_STREAM_ROWS ?? 300_000);
  const direct = { PGHOST: '127.0.0.1', PGPORT: '5432', PGUSER: 'postgres', PGSSLMODE: 'disable' };
  let reachable = true;
  try {
    run(pgTool('psql'), ['-d', 'test', '-Atqc', 'select 1'], direct);
  } catch {
    reachable = false;
    console.log('\n(streaming part skipped: no PostgreSQL at 127.0.0.1:5432)');
  }
  if (reachable) {
    const work = mkdtempSync(join(tmpdir(), 'hoop-bench-mask-'));
    const children = [];
    try {
      const off = await startBenchGateway({ dir: join(work, 'off'), extraYaml: 'masking:\n  enabled: false\n', host: '127.0.0.1', port: '5432', database: 'test', children });
      const on = await startBenchGateway({ dir: join(work, 'on'), extraYaml: '', host: '127.0.0.1', port: '5432', database: 'test', children });
      const cols = Array.from({ length: 10 }, (_, i) => `'order ' || g || ' status shipped item ${i} qty ' || (g % 7) || ' warehouse north'`).join(', ');
      const sql = `select ${cols} from generate_series(1, ${rows}) g`;
      const stream = (env, database) =>
        new Promise((done, fail) => {
          const started = performance.now();
          const child = spawn(pgTool('psql'), ['-d', database, '-X', '-Atqc', sql], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
          let bytes = 0;
          child.stdout.on('data', (d) => (bytes += d.length));
          child.once('exit', (code) => (code === 0 ? done({ seconds: (performance.now() - started) / 1000, bytes }) : fail(new Error(`psql exited ${code}`))));
        });
      const results = [];
      for (const [name, env, database, pid] of [
        ['direct', direct, 'test', null],
        ['gateway, masking off', off.native, 'bench', off.pid],
        ['gateway, masking on', on.native, 'bench', on.pid],
      ]) {
        await stream(env, database); // warm-up
        const r = await stream(env, database);
        results.push({ name, rowsPerSecond: rows / r.seconds, mb: r.bytes / 1e6, rss: pid ? peakRssMb(pid) : NaN });
      }
      const base = results[1].rowsPerSecond;
      console.log(`\nstreaming ${rows} rows × 10 text columns (no PII), psql reading to the end:\n`);
      console.log('| target | rows/s | MB received | vs masking off | gateway peak RSS (MB) |');
      console.log('|---|---:|---:|---:|---:|');
      for (const r of results) {
        console.log(`| ${r.name} | ${r.rowsPerSecond.toFixed(0)} | ${r.mb.toFixed(0)} | ${r.name === 'direct' ? '' : (r.rowsPerSecond / base).toFixed(2)} | ${Number.isNaN(r.rss) ? '' : r.rss.toFixed(0)} |`);
      }
    } finally {
      for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
      rmSync(work, { recursive: true, force: true });
    }
  }
}
