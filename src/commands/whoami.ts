import { defineCommand, gatewayOptions, jsonOption } from '../cli/command.js';

export default defineCommand({
  name: 'whoami',
  summary: 'show who the gateway takes you for: identity, groups, token expiry',
  options: [jsonOption, ...gatewayOptions],
  async run(ctx, _args, options) {
    const [{ resolveGatewayAuth }, { apiGet }, { loadLogin }] = await Promise.all([
      import('../cli/settings.js'),
      import('../cli/api.js'),
      import('../cli/credentials.js'),
    ]);
    const auth = await resolveGatewayAuth(options);
    const who = await apiGet<{ kind: string; subject: string; name: string; groups: string[] }>(auth, '/v1/whoami');
    const explicit = Boolean(options.token ?? process.env.HOOP_TOKEN);
    const saved = explicit ? undefined : await loadLogin();
    const expiresAt = saved?.login.expiresAt;
    const source = explicit ? (options.token ? '--token' : 'HOOP_TOKEN') : saved ? (saved.store.kind === 'keychain' ? 'OS keychain' : saved.store.where) : 'unknown';
    if (options.json) {
      return ctx.out(
        JSON.stringify({ gateway: auth.gateway, ...who, ...(auth.agentMeta ? { agentMeta: auth.agentMeta } : {}), tokenExpiresAt: expiresAt ? new Date(expiresAt).toISOString() : null, tokenSource: source }),
      );
    }
    ctx.out(`identity  ${who.name} (${who.kind})`);
    ctx.out(`subject   ${who.subject}`);
    ctx.out(`groups    ${who.groups.join(', ') || '(none)'}`);
    ctx.out(`gateway   ${auth.gateway}`);
    ctx.out(`token     from ${source}${expiresAt ? `, expires ${new Date(expiresAt).toISOString()}` : ', does not expire'}`);
    if (auth.agentMeta) ctx.out(`agent     ${Object.entries(auth.agentMeta).map(([k, v]) => `${k}=${v}`).join(', ')}`);
  },
});
