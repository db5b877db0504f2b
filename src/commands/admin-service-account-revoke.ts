import { configOption, defineCommand } from '../cli/command.js';
import { loadConfig } from '../config/load.js';
import { NotFoundError } from '../errors.js';

export default defineCommand({
  name: 'admin service-account revoke',
  summary: 'revoke a service account: its token stops working at once',
  args: [{ name: 'name', description: 'account name', required: true }],
  options: [configOption],
  async run(ctx, args, options) {
    const { config } = loadConfig(options.config as string, { resolveSecrets: false });
    const { openStore } = await import('../store/open.js');
    const store = openStore(config.store);
    try {
      if (!(await store.revokeServiceAccount(args[0]!))) throw new NotFoundError(`no active service account named ${args[0]}`);
      ctx.status(`revoked ${args[0]}`);
    } finally {
      await store.close();
    }
  },
});
