import { defineCommand, jsonOption } from '../cli/command.js';
import { UsageError } from '../errors.js';

export default defineCommand({
  name: 'login',
  summary: "log in to a gateway: device code in the browser (people), client credentials or a token (agents)",
  options: [
    { flags: '--gateway <url>', description: 'gateway URL (default: $HOOP_GATEWAY, then the last login)' },
    { flags: '--no-browser', description: 'do not try to open a browser; just print the URL and code' },
    { flags: '--client-credentials', description: 'log in as a workload with $HOOP_CLIENT_ID and $HOOP_CLIENT_SECRET' },
    { flags: '--token <token>', description: 'save a service-account token instead of logging in through the identity provider' },
    jsonOption,
  ],
  examples: ['hoop login --gateway https://hoop.example.com', 'HOOP_CLIENT_ID=… HOOP_CLIENT_SECRET=… hoop login --client-credentials', 'hoop login --token hoop_sa_…'],
  async run(ctx, _args, options) {
    const [{ cliSettings }, { saveLogin }, { apiGet }] = await Promise.all([
      import('../cli/settings.js'),
      import('../cli/credentials.js'),
      import('../cli/api.js'),
    ]);
    const gateway = ((options.gateway as string | undefined) ?? process.env.HOOP_GATEWAY ?? cliSettings().get('gateway'))?.replace(/\/$/, '');
    if (!gateway) throw new UsageError('which gateway?', 'pass --gateway URL (or set HOOP_GATEWAY)');
    const { getAuthConfig } = await import('../cli/auth-config.js');

    let login;
    if (typeof options.token === 'string') {
      login = { gateway, method: 'service-account' as const, accessToken: options.token };
    } else if (options.clientCredentials) {
      const id = process.env.HOOP_CLIENT_ID;
      const secret = process.env.HOOP_CLIENT_SECRET;
      if (!id || !secret) throw new UsageError('--client-credentials needs HOOP_CLIENT_ID and HOOP_CLIENT_SECRET in the environment');
      const { clientCredentialsLogin } = await import('../auth/oidc-client.js');
      login = await clientCredentialsLogin(gateway, await getAuthConfig(gateway), id, secret);
    } else {
      const { deviceLogin } = await import('../auth/oidc-client.js');
      const { openBrowser } = await import('../cli/browser.js');
      login = await deviceLogin(
        gateway,
        await getAuthConfig(gateway),
        (prompt) => {
          const url = prompt.verificationUriComplete ?? prompt.verificationUri;
          if (options.json) {
            ctx.out(JSON.stringify({ status: 'pending', verificationUri: prompt.verificationUri, verificationUriComplete: prompt.verificationUriComplete ?? null, userCode: prompt.userCode, expiresIn: prompt.expiresInSeconds }));
          }
          ctx.status(`To log in, open ${url}\nand check that it shows the code ${prompt.userCode} (it expires in ${Math.round(prompt.expiresInSeconds / 60)} min).`);
          if (options.browser !== false && openBrowser(url)) ctx.status('(opened in your browser)');
          ctx.status('Waiting for approval…');
        },
        ctx.signal,
      );
    }

    // Prove the token works at this gateway before keeping it.
    const who = await apiGet<{ kind: string; name: string; groups: string[] }>({ gateway, token: async () => login.accessToken }, '/v1/whoami');
    const store = await saveLogin(login);
    cliSettings().set('gateway', gateway);
    const where = store.kind === 'keychain' ? 'the OS keychain' : `${store.where} (mode 0600; no OS keychain is available here)`;
    if (options.json) {
      ctx.out(JSON.stringify({ status: 'logged-in', gateway, identity: who, credentialStore: store.kind, ...(store.kind === 'file' ? { path: store.where } : {}) }));
    }
    ctx.status(`Logged in to ${gateway} as ${who.name} (${who.kind}; groups: ${who.groups.join(', ') || 'none'}).`);
    ctx.status(`Tokens saved in ${where}.`);
  },
});
