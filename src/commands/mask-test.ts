import { readFileSync } from 'node:fs';
import { defineCommand, jsonOption } from '../cli/command.js';
import { UsageError } from '../errors.js';

export default defineCommand({
  name: 'mask test',
  summary: 'show what masking would hide in text or a CSV on stdin, and by which detector or rule',
  options: [
    { flags: '--csv', description: 'read CSV: column rules apply by header name' },
    { flags: '--no-header', description: 'the CSV has no header row' },
    { flags: '-c, --config <file>', description: "use this gateway config's masking settings (default: the built-in ones)" },
    { flags: '--connection <name>', description: "with --config: that connection's masking settings" },
    jsonOption,
  ],
  examples: ['echo "card 4242 4242 4242 4242, mail a@b.com" | hoop mask test', 'hoop mask test --csv --config hoop.yaml < customers.csv'],
  async run(ctx, _args, options) {
    const { createMasker, explainText, explainCsv } = await import('../mask/index.js');
    let settings: import('../mask/index.js').MaskingConfigInput = {};
    if (typeof options.config === 'string') {
      const { loadConfig } = await import('../config/load.js');
      const { config } = loadConfig(options.config, { resolveSecrets: false });
      const conn = options.connection ? config.connections.find((c) => c.name === options.connection) : undefined;
      if (options.connection && !conn) throw new UsageError(`no connection named ${String(options.connection)} in ${options.config}`);
      settings = conn?.masking ?? config.masking;
    }
    // A throwaway key: tokens shown here are not the gateway's (its key never leaves it).
    const { randomBytes } = await import('node:crypto');
    const masker = createMasker(settings, { key: randomBytes(32) });
    if (process.stdin.isTTY) throw new UsageError('pipe text or CSV on stdin', 'e.g. hoop mask test < sample.txt');
    const input = readFileSync(0, 'utf8');
    if (options.csv) {
      const r = explainCsv(masker, input, { header: options.header !== false });
      if (options.json) return ctx.out(JSON.stringify(r));
      for (const cell of r.cells) {
        const how = cell.entry === 'detect' ? cell.findings.map((f) => f.detector).join(', ') : `rule ${cell.entry.label} (${cell.entry.style})`;
        ctx.out(`row ${cell.row} ${cell.column}: ${how} → ${cell.masked ?? 'NULL'}`);
      }
      ctx.status(`${r.rows} rows, ${r.cells.length} cells masked; by detector/rule: ${JSON.stringify(r.counts)}`);
      return 0;
    }
    const lines = input.split('\n');
    const results = lines.map((line, i) => ({ line: i + 1, findings: explainText(masker, line), masked: masker.maskText(line).text }));
    if (options.json) return ctx.out(JSON.stringify({ lines: results.filter((r) => r.findings.length > 0) }));
    let total = 0;
    for (const r of results) {
      for (const f of r.findings) {
        total++;
        ctx.out(`line ${r.line} [${f.start}-${f.end}] ${f.detector} → ${f.replacement ?? 'NULL'}`);
      }
    }
    ctx.status(`${total} value${total === 1 ? '' : 's'} would be masked`);
    ctx.out('');
    ctx.out(results.map((r) => r.masked).join('\n'));
  },
});
