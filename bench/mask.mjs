#!/usr/bin/env node
// Throughput of the masking engine in detail: maskText on PII-free and PII-dense text (MB/s, one
// core) in large and small chunks, and maskValue on short cell values (ns/value). Not a test:
// prints a markdown table, asserts nothing. `npm run bench` reports the headline figures.
// Needs `npm run build` first (imports dist/mask), or HOOP_MASK_MODULE=/path/to/index.js.
//
//   node bench/mask.mjs [--mb 8] [--rounds 5] [--values 200000]
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { cpus, loadavg } from 'node:os';
import { createCorpus, maskThroughput, measureBest } from './corpus.mjs';

const { values: args } = parseArgs({
  options: {
    mb: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '5' },
    values: { type: 'string', default: '200000' },
  },
});
const modulePath = process.env.HOOP_MASK_MODULE ?? resolve(import.meta.dirname, '../dist/mask/index.js');
const { createMasker } = await import(pathToFileURL(modulePath).href);

const { clean: makeClean, dense: makeDense, prose: makeProse, shortValues: makeShortValues } = await createCorpus(42);
const measure = (fn) => measureBest(fn, rounds);

const mb = Number(args.mb);
const rounds = Number(args.rounds);
const clean = makeClean(mb);
const dense = makeDense(mb);
const prose = makeProse(mb);

const masker = createMasker({});
const hashMasker = createMasker({ style: 'hash' }, { key: Buffer.alloc(32, 7) });

function throughput(m, text, chunk) {
  const res = maskThroughput(m, text, chunk, rounds);
  return { cpu: `${res.cpuMBs.toFixed(0)} MB/s`, wall: `${res.wallMBs.toFixed(0)} MB/s`, hits: res.hits };
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

const shortValues = makeShortValues(Number(args.values));
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

// Streaming rows through the gateway (masking off and on) is part of the full bench:
//   npm run bench -- --only stream
