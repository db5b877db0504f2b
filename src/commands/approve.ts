import { defineCommand, gatewayOptions, jsonOption } from '../cli/command.js';
import type { ApprovalRequest } from '../store/store.js';

export default defineCommand({
  name: 'approve',
  summary: 'approve a held statement; with no id, open the approvals screen',
  args: [{ name: 'id', description: 'approval request id (ar_…)' }],
  options: [{ flags: '--for <duration>', description: 'also let the same identity run this class on this connection for a while (just-in-time access), e.g. 30m' }, jsonOption, ...gatewayOptions],
  examples: ['hoop approve', 'hoop approve ar_k3j9x2m4pq', 'hoop approve ar_k3j9x2m4pq --for 30m'],
  async run(ctx, args, options) {
    const { resolveGatewayAuth } = await import('../cli/settings.js');
    const auth = await resolveGatewayAuth(options);
    if (!args[0]) {
      const { runApprovalsTui } = await import('../tui/approvals-app.js');
      return runApprovalsTui(auth);
    }
    const { apiPost } = await import('../cli/api.js');
    const { request } = await apiPost<{ request: ApprovalRequest }>(auth, `/v1/approvals/${encodeURIComponent(args[0])}/approve`, options.for ? { window: options.for } : {});
    if (options.json) return ctx.out(JSON.stringify({ request }));
    const approvals = request.votes.filter((v) => v.decision === 'approve').length;
    ctx.status(
      request.status === 'approved'
        ? `approved ${request.id}: ${request.identityName}'s ${request.class} statement on ${request.connection} runs now${options.for ? ` (window ${String(options.for)})` : ''}`
        : `approval recorded for ${request.id} (${approvals} of ${request.approvalsNeeded}); it still needs ${request.approvalsNeeded - approvals} more`,
    );
  },
});
