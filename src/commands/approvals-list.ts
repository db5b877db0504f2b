import { defineCommand, gatewayOptions, jsonOption } from '../cli/command.js';
import { APPROVAL_COLUMNS, approvalRow } from '../cli/approvals-format.js';
import { renderTable } from '../cli/table.js';
import type { ApprovalRequest } from '../store/store.js';

export default defineCommand({
  name: 'approvals list',
  summary: 'list approval requests (pending by default)',
  options: [{ flags: '--status <status>', description: 'pending, approved, denied, expired, cancelled or all', default: 'pending' }, jsonOption, ...gatewayOptions],
  async run(ctx, _args, options) {
    const [{ resolveGatewayAuth }, { apiGet }] = await Promise.all([import('../cli/settings.js'), import('../cli/api.js')]);
    const { requests } = await apiGet<{ requests: ApprovalRequest[] }>(await resolveGatewayAuth(options), `/v1/approvals?status=${encodeURIComponent(String(options.status))}`);
    if (options.json) return ctx.out(JSON.stringify({ requests }));
    if (requests.length === 0) return ctx.status(`no ${options.status === 'all' ? '' : `${String(options.status)} `}approval requests`);
    ctx.out(renderTable(APPROVAL_COLUMNS, requests.map((r) => approvalRow(r))));
  },
});
