import { defineCommand } from '../cli/command.js';

export default defineCommand({
  name: 'logout',
  summary: 'forget the saved login (keychain and file)',
  async run(ctx) {
    const { removeLogin, loadLogin } = await import('../cli/credentials.js');
    const had = await loadLogin();
    await removeLogin();
    ctx.status(had ? `Logged out of ${had.login.gateway}.` : 'Not logged in.');
  },
});
