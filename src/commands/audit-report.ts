import { configOption, defineCommand, jsonOption } from '../cli/command.js';
import { errorMessage } from '../errors.js';

export default defineCommand({
  name: 'audit report',
  summary: 'summarise the trail for auditors: sessions, statements by class, denials, approvals, masking',
  options: [
    configOption,
    { flags: '--since <time>', description: 'from (30d, 12h, 2025-01-01, an ISO time)', default: '30d' },
    { flags: '--until <time>', description: 'to, exclusive (default: now)' },
    { flags: '--format <format>', description: 'text or markdown', default: 'text', choices: ['text', 'markdown'] },
    jsonOption,
  ],
  examples: ['hoop audit report --config hoop.yaml --since 30d', 'hoop audit report --config hoop.yaml --since 2025-01-01 --until 2025-04-01 --format markdown > q1.md'],
  async run(ctx, _args, options) {
    const { timeRange } = await import('../audit/time-range.js');
    const range = timeRange(options);
    const { keysFor, openAuditStore } = await import('../audit/cli-support.js');
    const { buildReport, integritySummary, renderReportMarkdown, renderReportText } = await import('../audit/report.js');
    const { verifyStore } = await import('../audit/verify.js');
    const opened = await openAuditStore(options.config as string);
    try {
      // The figures are only as good as the trail: say whether it verifies, without failing the report.
      let integrity;
      try {
        const { keys } = keysFor({}, opened);
        integrity = integritySummary(await verifyStore(opened.store, keys, opened.storeName));
      } catch (err) {
        integrity = { error: errorMessage(err) };
      }
      const report = await buildReport(opened.store, range, integrity);
      if (options.json) return ctx.out(JSON.stringify(report));
      ctx.out(options.format === 'markdown' ? renderReportMarkdown(report) : renderReportText(report));
    } finally {
      await opened.store.close();
    }
  },
});
