import { configOption, defineCommand, jsonOption } from '../cli/command.js';
import { UsageError } from '../errors.js';

export default defineCommand({
  name: 'audit export',
  summary: 'write a signed, self-verifying export of the audit trail (events, checkpoints, manifest)',
  options: [
    configOption,
    { flags: '--since <time>', description: 'from (30d, 12h, 2025-01-01, an ISO time; default: the beginning)' },
    { flags: '--until <time>', description: 'to, exclusive (default: now)' },
    { flags: '--out <dir>', description: 'a new or empty folder' },
    { flags: '--format <format>', description: 'jsonl: the chained events; ocsf: also events.ocsf.jsonl', default: 'jsonl', choices: ['jsonl', 'ocsf'] },
    jsonOption,
  ],
  examples: ['hoop audit export --config hoop.yaml --since 2025-01-01 --until 2025-04-01 --out ./audit-2025-q1', 'hoop audit export --config hoop.yaml --since 30d --out ./audit --format ocsf'],
  async run(ctx, _args, options) {
    if (typeof options.out !== 'string') throw new UsageError('--out DIR is required');
    const { timeRange } = await import('../audit/time-range.js');
    const range = timeRange(options);
    const { openAuditStore } = await import('../audit/cli-support.js');
    const { signerFromConfig } = await import('../audit/keys.js');
    const { exportTrail } = await import('../audit/export.js');
    const opened = await openAuditStore(options.config as string);
    try {
      const signer = signerFromConfig(opened.config, opened.configDir);
      const manifest = await exportTrail(opened.store, signer, { ...range, out: options.out, ocsf: options.format === 'ocsf' });
      const summary = {
        out: options.out,
        chains: manifest.counts.chains,
        events: manifest.counts.events,
        checkpoints: manifest.counts.checkpoints,
        keyFingerprint: manifest.keyFingerprint,
        files: Object.keys(manifest.files).concat('manifest.json'),
      };
      if (options.json) return ctx.out(JSON.stringify(summary));
      ctx.out(`${options.out}: ${summary.events} event(s) from ${summary.chains} chain(s), ${summary.checkpoints} checkpoint(s); signed by ${summary.keyFingerprint}`);
      ctx.status(`verify it anywhere with: hoop audit verify --export ${options.out} --public-key hoop-audit.pub`);
    } finally {
      await opened.store.close();
    }
  },
});
