import { defineCommand, gatewayOptions, jsonOption } from '../cli/command.js';
import { apiGet, type ConnectionInfo } from '../cli/api.js';
import { resolveGatewayAuth } from '../cli/settings.js';
import { renderTable } from '../cli/table.js';

export default defineCommand({
  name: 'connections',
  summary: 'list the connections the gateway offers',
  options: [jsonOption, ...gatewayOptions],
  async run(ctx, _args, options) {
    const { connections } = await apiGet<{ connections: ConnectionInfo[] }>(await resolveGatewayAuth(options), '/v1/connections');
    if (options.json) return ctx.out(JSON.stringify({ connections }));
    ctx.out(renderTable(['name', 'type'], connections.map((c) => [c.name, c.type])));
  },
});
