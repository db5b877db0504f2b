// One pgbench run (select-only, -S) with per-transaction logs, and the latency statistics read
// back from those logs.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { runAsync } from './lib.mjs';

/**
 * Runs `pgbench -S` against `database` with libpq `env`. `logPrefix` (a path in a temp dir) makes
 * pgbench write one line per transaction; each line is
 *   client_id transaction_no time_us script_no epoch_s epoch_us
 * where time_us is that transaction's latency (with -C, without the connection time, which pgbench
 * reports separately as "average connection time").
 * Returns TPS (pgbench's own figure: without initial connection time, or, with -C, including the
 * reconnections), failed transactions, the latencies in µs, and the average connection time.
 */
export async function pgbenchRun({ pgbench, env, database, mode, clients, duration, connectEach = false, logPrefix }) {
  const argv = ['-S', '-n', '-M', mode, '-c', String(clients), '-j', String(clients), '-T', String(duration)];
  if (connectEach) argv.push('-C');
  if (logPrefix) argv.push('-l', `--log-prefix=${logPrefix}`);
  argv.push(database);
  const { stdout } = await runAsync(pgbench, argv, { env });
  const tps = Number(/tps = ([\d.]+) \((?:without initial connection time|including reconnection times)\)/.exec(stdout)?.[1] ?? NaN);
  const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
  const connectMs = Number(/average connection time = ([\d.]+) ms/.exec(stdout)?.[1] ?? NaN);
  const latencies = logPrefix ? readLatencies(logPrefix) : new Float64Array(0);
  return { tps, failed, connectMs, latencies };
}

/** Reads and deletes the per-transaction logs written under `prefix` (`prefix.PID[.THREAD]`). */
function readLatencies(prefix) {
  const dir = dirname(prefix);
  const stem = `${basename(prefix)}.`;
  const files = readdirSync(dir).filter((f) => f.startsWith(stem));
  const values = [];
  for (const f of files) {
    const path = `${dir}/${f}`;
    const text = readFileSync(path, 'utf8');
    rmSync(path);
    let lineStart = 0;
    while (lineStart < text.length) {
      let lineEnd = text.indexOf('\n', lineStart);
      if (lineEnd === -1) lineEnd = text.length;
      // Third field: latency in µs. Split by hand: a 16-client run logs a few hundred thousand lines.
      const a = text.indexOf(' ', lineStart);
      const b = a === -1 ? -1 : text.indexOf(' ', a + 1);
      const c = b === -1 ? -1 : text.indexOf(' ', b + 1);
      if (c !== -1 && c < lineEnd) values.push(Number(text.slice(b + 1, c)));
      lineStart = lineEnd + 1;
    }
  }
  return Float64Array.from(values);
}

/** Percentiles and stall counts of latencies (µs), sorted in place. */
export function latencyStats(latencies, stallUs = 40_000) {
  latencies.sort();
  const n = latencies.length;
  const pct = (p) => (n === 0 ? NaN : latencies[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]);
  let stalls = 0;
  for (let i = n - 1; i >= 0 && latencies[i] > stallUs; i--) stalls++;
  return { count: n, p50: pct(50), p99: pct(99), max: n ? latencies[n - 1] : NaN, stalls };
}

/** Concatenates latency arrays. */
export function concatLatencies(arrays) {
  const out = new Float64Array(arrays.reduce((s, a) => s + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}
