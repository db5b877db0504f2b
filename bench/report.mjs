// The bench's markdown report and its targets (issue 8), from the raw results run.mjs collects.

const GATEWAY_TARGETS = ['gw-record', 'gw-default', 'gw-full', 'gw-full-tunnel'];

const num = (x, digits = 0) => (x === undefined || x === null || Number.isNaN(x) ? '–' : x.toFixed(digits));
const int = (x) => (x === undefined || x === null || Number.isNaN(x) ? '–' : Math.round(x).toLocaleString('en-US'));
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN);
const times = (x) => (Number.isNaN(x) ? '–' : `${x.toFixed(2)}×`);
const ok = (section) => Array.isArray(section);

function findRow(rows, target, mode, clients, connectEach = false) {
  return rows.find((r) => r.target === target && r.mode === mode && r.clients === clients && r.connectEach === connectEach && r.measured);
}

/**
 * Each target: what it asks, what was measured, and whether it is met (true/false, or null when
 * this run did not measure it).
 */
export function evaluateTargets(results) {
  const out = [];
  const add = (target, goal, measured, met, detail) => out.push({ target, goal, measured, met, detail });
  const pg = ok(results.pgbench) ? results.pgbench : [];

  for (const clients of [4, 16]) {
    for (const mode of ['simple', 'prepared']) {
      const gw = findRow(pg, 'gw-full', mode, clients);
      const pb = findRow(pg, 'pgbouncer', mode, clients);
      const r = ratio(gw?.tps, pb?.tps);
      add(
        `full gateway TPS vs PgBouncer, ${mode}, -c ${clients}`,
        '≥ 1.00×',
        Number.isNaN(r) ? null : `${r.toFixed(2)}× (${int(gw.tps)} vs ${int(pb.tps)} TPS)`,
        Number.isNaN(r) ? null : r >= 1,
        Number.isNaN(r) ? null : r >= 1 ? `${(r - 1).toFixed(2)}× to spare` : `${(1 - r).toFixed(2)}× short`,
      );
    }
  }
  for (const [pct, limitUs] of [['p50', 100], ['p99', 300]]) {
    for (const mode of ['simple', 'prepared']) {
      const gw = findRow(pg, 'gw-full', mode, 1);
      const d = findRow(pg, 'direct', mode, 1);
      const added = gw && d ? (gw[`${pct}Ms`] - d[`${pct}Ms`]) * 1000 : NaN;
      add(
        `added ${pct} latency at 1 client, ${mode} (full gateway − direct)`,
        `≤ ${limitUs} µs`,
        Number.isNaN(added) ? null : `${added.toFixed(0)} µs (${(gw[`${pct}Ms`] * 1000).toFixed(0)} vs ${(d[`${pct}Ms`] * 1000).toFixed(0)} µs)`,
        Number.isNaN(added) ? null : added <= limitUs,
        Number.isNaN(added) ? null : added <= limitUs ? `${(limitUs - added).toFixed(0)} µs to spare` : `over by ${(added - limitUs).toFixed(0)} µs`,
      );
    }
  }
  {
    const gwRows = pg.filter((r) => GATEWAY_TARGETS.includes(r.target) && r.measured);
    const stalls = gwRows.reduce((s, r) => s + r.over40ms, 0);
    const count = gwRows.reduce((s, r) => s + r.transactions, 0);
    const max = gwRows.reduce((m, r) => Math.max(m, r.maxMs), 0);
    // Direct's own slow transactions say how much of this the machine's load explains.
    const directRows = pg.filter((r) => r.target === 'direct' && r.measured);
    const directStalls = directRows.reduce((s, r) => s + r.over40ms, 0);
    const directCount = directRows.reduce((s, r) => s + r.transactions, 0);
    add(
      'never a 40 ms stall (every gateway pgbench transaction)',
      '0 transactions > 40 ms',
      gwRows.length
        ? `max ${max.toFixed(1)} ms; ${int(stalls)} of ${int(count)} > 40 ms` + (directRows.length ? ` (direct: ${int(directStalls)} of ${int(directCount)})` : '')
        : null,
      gwRows.length ? stalls === 0 : null,
      gwRows.length ? (stalls === 0 ? 'none' : `${stalls} stalled`) : null,
    );
  }
  {
    const c = ok(results.classify) ? results.classify : [];
    const worst = c.reduce((m, r) => Math.max(m, r.cachedUs), 0);
    add(
      'classification on a cache hit (slowest statement shape)',
      '≤ 1 µs',
      c.length ? `${worst.toFixed(2)} µs` : null,
      c.length ? worst <= 1 : null,
      c.length ? (worst <= 1 ? `${(1 - worst).toFixed(2)} µs to spare` : `over by ${(worst - 1).toFixed(2)} µs`) : null,
    );
  }
  {
    const s = ok(results.stream) ? results.stream : [];
    const d = s.find((r) => r.target === 'direct' && r.measured);
    const on = s.find((r) => r.target === 'gw-mask-on' && r.measured);
    const r = ratio(on?.rowsPerSecond, d?.rowsPerSecond);
    const mb = d?.mb ?? on?.mb;
    add(
      `${mb ? `${(mb / 1000).toFixed(2)} GB` : 'large'} result, masking on, no PII: rows/s vs direct`,
      '≥ 0.80×',
      Number.isNaN(r) ? null : `${r.toFixed(2)}× (${int(on.rowsPerSecond)} vs ${int(d.rowsPerSecond)} rows/s)`,
      Number.isNaN(r) ? null : r >= 0.8,
      Number.isNaN(r) ? null : r >= 0.8 ? `${(r - 0.8).toFixed(2)}× to spare` : `${(0.8 - r).toFixed(2)}× short`,
    );
    const gws = s.filter((x) => x.target !== 'direct' && x.measured);
    const peak = gws.reduce((m, x) => Math.max(m, x.peakRssMb), 0);
    add(
      'gateway peak RSS while streaming it',
      '≤ 150 MB',
      gws.length ? `${peak.toFixed(0)} MB` : null,
      gws.length ? peak <= 150 : null,
      gws.length ? (peak <= 150 ? `${(150 - peak).toFixed(0)} MB to spare` : `over by ${(peak - 150).toFixed(0)} MB`) : null,
    );
  }
  {
    const v = results.version && !results.version.error ? results.version : null;
    add(
      '`hoop --version` cold start (median)',
      '≤ 150 ms',
      v ? `${v.medianMs.toFixed(0)} ms` : null,
      v ? v.medianMs <= 150 : null,
      v ? (v.medianMs <= 150 ? `${(150 - v.medianMs).toFixed(0)} ms to spare` : `over by ${(v.medianMs - 150).toFixed(0)} ms`) : null,
    );
  }
  return out;
}

function table(header, align, rows) {
  return [`| ${header.join(' | ')} |`, `|${align.map((a) => (a === 'r' ? '---:' : '---')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function sectionError(section) {
  return section && !Array.isArray(section) && section.error ? `_This section failed: ${section.error}_` : null;
}

export function renderReport(results) {
  const { meta } = results;
  const m = meta.machine;
  const s = meta.software;
  const lines = [];
  const minutes = Math.floor(meta.seconds / 60);
  lines.push('# hoop benchmark results', '');
  lines.push(
    `Written by \`npm run bench\`${meta.profile === 'quick' ? ' -- --quick' : ''}${meta.sections.length < 5 ? ` (sections: ${meta.sections.join(', ')})` : ''}. ` +
      'Timings depend on the machine and on whatever else runs on it: compare rows of the same run, ' +
      'and runs on the same machine (docs/benchmarks.md).',
    '',
  );
  lines.push(
    table(
      ['', ''],
      ['l', 'l'],
      [
        ['date', `${meta.date.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}, ${minutes} min ${meta.seconds % 60} s`],
        ['machine', `${m.cores} × ${m.model}, ${m.memoryGiB.toFixed(1)} GiB memory, ${m.os}`],
        ['load average (1 min)', `${m.loadStart.toFixed(2)} at start, ${num(m.loadEnd, 2)} at end`],
        ['node', s.node],
        ['PostgreSQL', s.postgres],
        ['pgbench', s.pgbench],
        ['PgBouncer', s.pgbouncer],
        ['hoop', s.hoop],
      ],
    ),
    '',
  );

  // Targets first: the question a reader comes with.
  lines.push('## Targets', '');
  const allTargets = results.targets ?? evaluateTargets(results);
  // A partial run lists only what it measured.
  const partial = meta.profile === 'quick' || meta.sections.length < 5;
  const targets = partial ? allTargets.filter((t) => t.met !== null) : allTargets;
  const skipped = allTargets.length - targets.length;
  lines.push(
    table(
      ['target', 'goal', 'measured', 'result'],
      ['l', 'l', 'l', 'l'],
      targets.map((t) => [t.target, t.goal, t.measured ?? '–', t.met === null ? 'not measured' : t.met ? `**met** (${t.detail})` : `**missed** (${t.detail})`]),
    ),
    '',
  );
  if (skipped) lines.push(`${skipped} more target(s) need the full run (\`npm run bench\`).`, '');

  if (meta.sections.includes('pgbench')) {
    lines.push('## pgbench -S (select only), scale 10', '');
    const err = sectionError(results.pgbench);
    if (err) lines.push(err, '');
    else {
      const st = meta.settings;
      lines.push(
        `Each cell: a ${st.warmup} s warm-up per target, then ${st.reps} runs of ${st.duration} s per target, interleaved; ` +
          `TPS is the median of the ${st.reps} runs, latency percentiles are over every transaction of the ${st.reps} runs ` +
          "(pgbench `--log`). Ratios compare with direct and with PgBouncer at the same protocol and clients. " +
          '“proxy CPU” is the CPU time the proxy process (PgBouncer or the gateway) used per transaction.',
        '',
      );
      const rows = results.pgbench;
      const render = (subset, connectEach) =>
        table(
          ['protocol', 'clients', 'target', 'TPS', 'p50 ms', 'p99 ms', 'max ms', '> 40 ms', ...(connectEach ? ['connect ms'] : []), 'vs direct', 'vs PgBouncer', 'proxy CPU µs/tx', 'failed'],
          ['l', 'r', 'l', 'r', 'r', 'r', 'r', 'r', ...(connectEach ? ['r'] : []), 'r', 'r', 'r', 'r'],
          subset.map((r) => {
            if (!r.measured) {
              return [r.mode, String(r.clients), r.label, r.reason ?? 'not measured', '', '', '', '', ...(connectEach ? [''] : []), '', '', '', ''];
            }
            const d = findRow(rows, 'direct', r.mode, r.clients, r.connectEach);
            const b = findRow(rows, 'pgbouncer', r.mode, r.clients, r.connectEach);
            const isGw = GATEWAY_TARGETS.includes(r.target);
            return [
              r.mode,
              String(r.clients),
              r.label,
              int(r.tps),
              num(r.p50Ms, 3),
              num(r.p99Ms, 3),
              num(r.maxMs, 1),
              int(r.over40ms),
              ...(connectEach ? [num(r.connectMs, 2)] : []),
              r.target === 'direct' ? '' : times(ratio(r.tps, d?.tps)),
              isGw ? times(ratio(r.tps, b?.tps)) : '',
              num(r.proxyCpuUsPerTx, 0),
              String(r.failed),
            ];
          }),
        );
      const persistent = rows.filter((r) => !r.connectEach);
      const reconnect = rows.filter((r) => r.connectEach);
      if (persistent.length) lines.push('### One connection per client', '', render(persistent, false), '');
      if (reconnect.length) {
        lines.push(
          '### A new connection per transaction (`-C`)',
          '',
          'TPS includes connecting; the latency columns are the transaction alone, and “connect ms” is pgbench’s average connection time.',
          '',
          render(reconnect, true),
          '',
        );
      }
    }
  }

  if (meta.sections.includes('stream')) {
    lines.push('## Streaming a large result', '');
    const err = sectionError(results.stream);
    if (err) lines.push(err, '');
    else {
      const d = results.stream.find((r) => r.target === 'direct' && r.measured);
      lines.push(
        '`select` of 10 text columns (about 930 bytes a row, no PII) from `generate_series`, read to the end by a ' +
          'minimal client that counts DataRows without decoding them (bench/pgwire.mjs); one run after a 20,000-row warm-up. ' +
          'Each gateway is started fresh for its run. RSS before: after the warm-up; in run: the highest VmRSS sampled every 20 ms ' +
          'during the measured run; peak: VmHWM, the highest over the gateway’s life (start and warm-up included), which the target uses.',
        '',
        table(
          ['target', 'rows', 'MB', 'seconds', 'rows/s', 'MB/s', 'vs direct', 'RSS before (MB)', 'RSS in run (MB)', 'peak RSS (MB)'],
          ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
          results.stream.map((r) =>
            r.measured
              ? [r.label, int(r.rows), int(r.mb), num(r.seconds, 1), int(r.rowsPerSecond), num(r.mbPerSecond, 0), r.target === 'direct' ? '' : times(ratio(r.rowsPerSecond, d?.rowsPerSecond)), num(r.rssBeforeMb, 0), num(r.rssSampledPeakMb, 0), num(r.peakRssMb, 0)]
              : [r.label, r.reason ?? 'not measured', '', '', '', '', '', '', '', ''],
          ),
        ),
        '',
      );
    }
  }

  if (meta.sections.includes('mask')) {
    lines.push('## Masking engine', '');
    const err = sectionError(results.mask);
    if (err) lines.push(err, '');
    else {
      lines.push(
        '`maskText` with the built-in detectors, 64 KiB per call, one thread; best of several rounds. ' +
          'Per CPU-second counts the process’s CPU time (garbage collection threads included). `node bench/mask.mjs` has the detailed table.',
        '',
        table(
          ['input', 'MB', 'MB/s (wall)', 'MB/s per CPU-second', 'values masked'],
          ['l', 'r', 'r', 'r', 'r'],
          results.mask.map((r) => [r.input, String(r.mb), num(r.wallMBs, 0), num(r.cpuMBs, 0), int(r.hits)]),
        ),
        '',
      );
    }
  }

  if (meta.sections.includes('classify')) {
    lines.push('## SQL classification', '');
    const err = sectionError(results.classify);
    if (err) lines.push(err, '');
    else {
      const c = results.classify[0];
      lines.push(
        `\`classifySql\` (libpg_query parse + analysis). Cold: the first time a text is seen, median over ${c?.rounds ?? '?'} rounds of ` +
          `${int(c?.unique)} distinct texts; cached: the same text again (what a repeated or prepared statement costs), best round; ` +
          'same shape: a text never seen that differs from a classified one only in its literal values (`classifyForPolicy`, ' +
          'what the gateway pays for `… WHERE aid = 17` after `… aid = 16`), best round.',
        '',
        table(
          ['statement', 'chars', 'cold µs', 'cached µs', 'same shape µs'],
          ['l', 'r', 'r', 'r', 'r'],
          results.classify.map((r) => [r.shape, String(r.chars), num(r.coldUs, 1), num(r.cachedUs, 3), r.shapeUs === undefined ? '–' : num(r.shapeUs, 3)]),
        ),
        '',
      );
    }
  }

  if (meta.sections.includes('version')) {
    lines.push('## CLI cold start', '');
    const v = results.version;
    if (!v || v.error) lines.push(`_This section failed: ${v?.error ?? 'no result'}_`, '');
    else {
      lines.push(
        table(
          ['command', 'runs', 'median ms', 'min ms', 'max ms'],
          ['l', 'r', 'r', 'r', 'r'],
          [[`\`hoop --version\` (${v.version}) as a new process`, String(v.runs), num(v.medianMs, 1), num(v.minMs, 1), num(v.maxMs, 1)]],
        ),
        '',
      );
    }
  }
  return `${lines.join('\n').trimEnd()}\n`;
}
