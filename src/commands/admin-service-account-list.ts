import { configOption, defineCommand, jsonOption } from '../cli/command.js';
import { formatTime, renderTable } from '../cli/table.js';
import { loadConfig } from '../config/load.js';

export default defineCommand({
  name: 'admin service-account list',
  summary: 'list service accounts (never their tokens)',
  options: [configOption, jsonOption],
  async run(ctx, _args, options) {
    const { config } = loadConfig(options.config as string, { resolveSecrets: false });
    const { openStore } = await import('../store/open.js');
    const store = openStore(config.store);
    try {
      const accounts = await store.listServiceAccounts();
      if (options.json) return ctx.out(JSON.stringify({ accounts }));
      ctx.out(
        renderTable(
          ['name', 'groups', 'created', 'status'],
          accounts.map((a) => [a.name, a.groups.join(','), formatTime(a.createdAt), a.revokedAt ? `revoked ${formatTime(a.revokedAt)}` : 'active']),
        ),
      );
    } finally {
      await store.close();
    }
  },
});
