import { parseGroups } from '../cli/args.js';
import { configOption, defineCommand, jsonOption } from '../cli/command.js';
import { loadConfig } from '../config/load.js';
import { UsageError } from '../errors.js';

export default defineCommand({
  name: 'admin service-account create',
  summary: 'create a service account for an agent; prints its token once',
  args: [{ name: 'name', description: 'account name, e.g. ci-agent', required: true }],
  options: [{ flags: '-g, --groups <groups>', description: 'comma-separated groups, e.g. engineers,readers' }, configOption, jsonOption],
  examples: ['hoop admin service-account create claude-agent --groups engineers --config hoop.yaml'],
  async run(ctx, args, options) {
    const name = args[0]!;
    if (!/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$/.test(name)) {
      throw new UsageError(`bad account name "${name}"`, 'use letters, digits, "_", ".", "@" and "-"');
    }
    const { config } = loadConfig(options.config as string, { resolveSecrets: false });
    const { openStore } = await import('../store/open.js');
    const store = openStore(config.store);
    try {
      const { createServiceAccount } = await import('../auth/service-accounts.js');
      const { account, token } = await createServiceAccount(store, name, parseGroups(options.groups));
      if (options.json) ctx.out(JSON.stringify({ id: account.id, name: account.name, groups: account.groups, token }));
      else {
        ctx.out(token);
        ctx.status(`created service account ${account.name} (${account.groups.join(', ') || 'no groups'}); the token is shown only this once`);
      }
    } finally {
      await store.close();
    }
  },
});
