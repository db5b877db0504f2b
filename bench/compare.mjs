#!/usr/bin/env node
// Before/after for a hot-path change: compares two JSON files written by bench/run.mjs (on the same
// machine) and prints one markdown table of every figure both measured, with the change in %.
//
//   node bench/compare.mjs before.json after.json
//
// Positive is better in every row (throughput up, or latency/CPU/memory/time down). Changes
// within a few percent are usually noise; proxy CPU µs/tx moves least with outside load.
import { readFileSync } from 'node:fs';

const [beforePath, afterPath] = process.argv.slice(2);
if (!beforePath || !afterPath) {
  console.error('usage: node bench/compare.mjs before.json after.json');
  process.exit(2);
}
const load = (p) => {
  try {
    return JSON.parse(readFileSync(p, 'utf8'));
  } catch (err) {
    console.error(`bench/compare: cannot read ${p}: ${err.message}`);
    process.exit(2);
  }
};
const before = load(beforePath);
const after = load(afterPath);

// [name, unit, value, higherIsBetter]
function figures(results) {
  const out = new Map();
  const put = (name, unit, value, higherIsBetter) => {
    if (typeof value === 'number' && Number.isFinite(value)) out.set(name, { unit, value, higherIsBetter });
  };
  const pg = Array.isArray(results.pgbench) ? results.pgbench : [];
  for (const r of pg) {
    if (!r.measured) continue;
    const cell = `pgbench ${r.mode}${r.connectEach ? ' -C' : ''} -c ${r.clients}, ${r.label}`;
    put(`${cell}: TPS`, 'TPS', r.tps, true);
    // The ratio to direct in the same run cancels part of the machine's load.
    const direct = pg.find((d) => d.target === 'direct' && d.measured && d.mode === r.mode && d.clients === r.clients && d.connectEach === r.connectEach);
    if (r.target !== 'direct' && direct) put(`${cell}: TPS vs direct`, '×', r.tps / direct.tps, true);
    put(`${cell}: p50`, 'ms', r.p50Ms, false);
    put(`${cell}: p99`, 'ms', r.p99Ms, false);
    put(`${cell}: proxy CPU`, 'µs/tx', r.proxyCpuUsPerTx, false);
  }
  for (const r of Array.isArray(results.stream) ? results.stream : []) {
    if (!r.measured) continue;
    put(`stream, ${r.label}: rows/s`, 'rows/s', r.rowsPerSecond, true);
    put(`stream, ${r.label}: peak RSS`, 'MB', r.peakRssMb, false);
  }
  for (const r of Array.isArray(results.mask) ? results.mask : []) put(`masking, ${r.input.replace(/ \(.*/, '')}`, 'MB/s', r.wallMBs, true);
  for (const r of Array.isArray(results.classify) ? results.classify : []) {
    put(`classify ${r.shape}: cold`, 'µs', r.coldUs, false);
    put(`classify ${r.shape}: cached`, 'µs', r.cachedUs, false);
    if (r.shapeUs !== undefined) put(`classify ${r.shape}: same shape`, 'µs', r.shapeUs, false);
  }
  if (results.version && !results.version.error) put('hoop --version', 'ms', results.version.medianMs, false);
  return out;
}

const a = figures(before);
const b = figures(after);
const fmt = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3));
const rows = [];
for (const [name, x] of a) {
  const y = b.get(name);
  if (!y) continue;
  const change = x.value === 0 ? 0 : ((y.value - x.value) / x.value) * 100;
  const better = x.higherIsBetter ? change : -change;
  rows.push(`| ${name} | ${fmt(x.value)} | ${fmt(y.value)} | ${x.unit} | ${better >= 0 ? '+' : ''}${better.toFixed(1)}% |`);
}
console.log(`before: ${beforePath} (${before.meta?.date ?? '?'}, hoop ${before.meta?.software?.hoop ?? '?'}, load ${before.meta?.machine?.loadStart?.toFixed?.(2) ?? '?'})`);
console.log(`after:  ${afterPath} (${after.meta?.date ?? '?'}, hoop ${after.meta?.software?.hoop ?? '?'}, load ${after.meta?.machine?.loadStart?.toFixed?.(2) ?? '?'})`);
if (before.meta?.machine?.model !== after.meta?.machine?.model || before.meta?.machine?.cores !== after.meta?.machine?.cores) {
  console.log('\nwarning: the two runs are from different machines; the comparison says little.');
}
console.log('\n| figure | before | after | unit | better by |\n|---|---:|---:|---|---:|');
console.log(rows.join('\n'));
if (rows.length === 0) console.log('| (no figure measured by both runs) | | | | |');
