// In-process measurements of the compiled modules in dist/: masking engine throughput, SQL
// classification per statement (cold and cached), and the CLI's cold start.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createCorpus, maskThroughput } from './corpus.mjs';
import { hoopBin, median } from './lib.mjs';

const distUrl = (rel) => pathToFileURL(resolve(import.meta.dirname, '../dist', rel)).href;

/**
 * maskText with the built-in detectors (the gateway's default masker) over PII-free and PII-dense
 * text in 64 KiB calls; best of `rounds`, MB/s per CPU-second and per wall-clock second.
 */
export async function benchMasking({ mb, rounds }) {
  const { createMasker } = await import(distUrl('mask/index.js'));
  const corpus = await createCorpus(42);
  const masker = createMasker({});
  const out = [];
  for (const [input, text] of [
    ['PII-free (words, log lines, order numbers, UUIDs, versions, URLs)', corpus.clean(mb)],
    ['PII-dense (a card, email, SSN, phone or token every ~60 bytes)', corpus.dense(mb)],
  ]) {
    const r = maskThroughput(masker, text, 64 * 1024, rounds);
    out.push({ input, mb, cpuMBs: r.cpuMBs, wallMBs: r.wallMBs, hits: r.hits });
  }
  return out;
}

// Statement shapes from short to long; `k` makes each text unique so the cache misses.
const STATEMENT_SHAPES = [
  { name: 'pgbench -S select', sql: (k) => `SELECT abalance FROM pgbench_accounts WHERE aid = ${k};` },
  { name: 'update with WHERE', sql: (k) => `UPDATE pgbench_accounts SET abalance = abalance + ${k % 5000} WHERE aid = ${k}` },
  {
    name: 'join + aggregate (~300 chars)',
    sql: (k) =>
      `select c.id, c.name, count(o.id) as orders, sum(o.total) as spent from customers c join orders o on o.customer_id = c.id ` +
      `where o.created_at > now() - interval '${k % 365} days' and c.region in ('north', 'south') group by c.id, c.name ` +
      `having sum(o.total) > ${k} order by spent desc limit 50`,
  },
  {
    name: 'CTE + subquery (~400 chars)',
    sql: (k) =>
      `with recent as (select customer_id, max(created_at) as last_order from orders where status <> 'cancelled' group by customer_id), ` +
      `vip as (select customer_id from recent where last_order > now() - interval '30 days') ` +
      `select c.id, c.email, (select count(*) from tickets t where t.customer_id = c.id and t.open) as open_tickets ` +
      `from customers c where c.id in (select customer_id from vip) and c.id > ${k} order by c.id limit 100`,
  },
];

/**
 * classifySql per statement. Cold: the first classification of a text never seen (parse with
 * libpg_query, walk, cache insert); each round uses fresh texts, median of rounds. Cached: the same
 * texts again (a cache hit, what a repeated or prepared statement costs); best of rounds. Same
 * shape: what the gateway's policy pays (classifyForPolicy) for a text never seen whose shape is
 * known, i.e. the same statement with other literal values; best of rounds.
 */
export async function benchClassification({ unique, rounds, hitsPerRound }) {
  const { initClassifier, classifySql, classifyForPolicy, clearClassifierCache } = await import(distUrl('policy/sql/classify.js'));
  await initClassifier();
  // JIT and WASM warm-up on texts that are not measured.
  for (const shape of STATEMENT_SHAPES) for (let k = 0; k < 200; k++) classifySql(shape.sql(10_000_000 + k));
  const out = [];
  for (const shape of STATEMENT_SHAPES) {
    clearClassifierCache();
    const coldUs = [];
    let texts = [];
    for (let round = 0; round < rounds; round++) {
      texts = Array.from({ length: unique }, (_, i) => shape.sql(round * unique + i + 1));
      const t0 = process.hrtime.bigint();
      for (const t of texts) classifySql(t);
      coldUs.push(Number(process.hrtime.bigint() - t0) / 1e3 / unique);
    }
    // Hits over a small working set (what a busy connection repeats), all of them cached above.
    const hot = texts.slice(0, 100);
    let bestHitNs = Infinity;
    let sink = 0;
    for (let round = 0; round < rounds; round++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < hitsPerRound; i++) sink += classifySql(hot[i % hot.length]).statements.length;
      bestHitNs = Math.min(bestHitNs, Number(process.hrtime.bigint() - t0) / hitsPerRound);
    }
    if (sink === 0) throw new Error('classification returned no statements');
    clearClassifierCache();
    classifyForPolicy(shape.sql(1));
    let bestShapeNs = Infinity;
    for (let round = 0; round < rounds; round++) {
      const fresh = Array.from({ length: unique }, (_, i) => shape.sql(1_000_000 + round * unique + i));
      const t0 = process.hrtime.bigint();
      for (const t of fresh) sink += classifyForPolicy(t).statementCount;
      bestShapeNs = Math.min(bestShapeNs, Number(process.hrtime.bigint() - t0) / unique);
    }
    out.push({ shape: shape.name, chars: texts[0].length, coldUs: median(coldUs), cachedUs: bestHitNs / 1000, shapeUs: bestShapeNs / 1000, unique, rounds });
  }
  return out;
}

/**
 * Wall time of `bin/hoop --version` as a new process (through its `#!/usr/bin/env node` line, as a
 * user types it), `runs` times after one untimed run that warms the file cache.
 */
export function benchVersion({ runs }) {
  const once = () => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(hoopBin, ['--version'], { encoding: 'utf8' });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`hoop --version exited with ${r.status}: ${r.stderr}`);
    return { ms, version: r.stdout.trim() };
  };
  const first = once();
  const times = Array.from({ length: runs }, () => once().ms);
  return { version: first.version, runs, medianMs: median(times), minMs: Math.min(...times), maxMs: Math.max(...times), firstMs: first.ms };
}
