import { defineCommand, gatewayOptions, jsonOption } from '../cli/command.js';
import { UsageError } from '../errors.js';
import type { ApprovalRequest } from '../store/store.js';

export default defineCommand({
  name: 'deny',
  summary: 'deny a held statement, with a reason the requester sees',
  args: [{ name: 'id', description: 'approval request id (ar_…)', required: true }],
  options: [{ flags: '-r, --reason <text>', description: 'why (shown to the client in its error)' }, jsonOption, ...gatewayOptions],
  examples: ['hoop deny ar_k3j9x2m4pq --reason "use the migration pipeline"'],
  async run(ctx, args, options) {
    if (!options.reason) throw new UsageError('a denial needs --reason "…"', 'the requester sees it in the error');
    const [{ resolveGatewayAuth }, { apiPost }] = await Promise.all([import('../cli/settings.js'), import('../cli/api.js')]);
    const { request } = await apiPost<{ request: ApprovalRequest }>(await resolveGatewayAuth(options), `/v1/approvals/${encodeURIComponent(args[0]!)}/deny`, { reason: options.reason });
    if (options.json) return ctx.out(JSON.stringify({ request }));
    ctx.status(`denied ${request.id}`);
  },
});
