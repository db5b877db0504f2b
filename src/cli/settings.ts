import Conf from 'conf';
import { parseAgentMeta } from '../auth/agent-meta.js';
import { AuthError } from '../errors.js';
import type { GatewayAuth } from '../tunnel/local-end.js';
import { loadLogin, saveLogin, withCredentialsLock, type CredentialStore, type StoredLogin } from './credentials.js';

interface Settings {
  /** The gateway of the last login, so `hoop login` can be run again without --gateway. */
  gateway?: string;
}

/**
 * The CLI's own non-secret settings, in the user's config directory or $HOOP_CONFIG_DIR.
 * Tokens are not kept here: see credentials.ts.
 */
export function cliSettings(): Conf<Settings> {
  return new Conf<Settings>({
    projectName: 'hoop',
    projectSuffix: '',
    configFileMode: 0o600,
    ...(process.env.HOOP_CONFIG_DIR ? { cwd: process.env.HOOP_CONFIG_DIR } : {}),
  });
}

/**
 * Renew this long before expiry, so a token never lapses between being read and being checked:
 * a minute, or half the token's lifetime when it is shorter than two minutes.
 */
function renewBeforeMs(login: StoredLogin): number {
  const lifetime = login.expiresAt !== undefined && login.obtainedAt !== undefined ? login.expiresAt - login.obtainedAt : Infinity;
  return Math.min(60_000, lifetime / 2);
}

/**
 * A saved login's access token, renewed silently when it is about to expire. Each new tunnel asks
 * again, so a long `hoop connect` keeps opening sessions across many token lifetimes.
 */
export function tokenSource(initial: StoredLogin, store: CredentialStore): () => Promise<string> {
  let login = initial;
  let renewing: Promise<string> | null = null;
  return async () => {
    if (login.expiresAt === undefined || login.expiresAt - Date.now() > renewBeforeMs(login)) return login.accessToken;
    renewing ??= withCredentialsLock(async () => {
      // Another hoop process may have renewed already: use its tokens rather than spend an old refresh token.
      const latest = (await loadLogin())?.login;
      if (latest && latest.gateway === login.gateway && latest.accessToken !== login.accessToken) {
        login = latest;
        if (latest.expiresAt === undefined || latest.expiresAt - Date.now() > renewBeforeMs(latest)) return login.accessToken;
      }
      const { renewLogin } = await import('../auth/oidc-client.js');
      login = await renewLogin(login);
      await (store.kind === 'file' ? store.save(login) : saveLogin(login));
      return login.accessToken;
    }).finally(() => {
      renewing = null;
    });
    return renewing;
  };
}

function nonEmpty(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * Where the gateway URL and token come from: flags, then the environment (HOOP_GATEWAY, HOOP_TOKEN),
 * then the saved login. Agent metadata comes from --agent-meta or HOOP_AGENT_META.
 */
export async function resolveGatewayAuth(options: Record<string, unknown>): Promise<GatewayAuth> {
  const agentMeta = parseAgentMeta(nonEmpty(options.agentMeta) ?? nonEmpty(process.env.HOOP_AGENT_META));
  const explicitToken = nonEmpty(options.token) ?? nonEmpty(process.env.HOOP_TOKEN);
  const saved = explicitToken ? undefined : await loadLogin();
  const gateway = (nonEmpty(options.gateway) ?? nonEmpty(process.env.HOOP_GATEWAY) ?? saved?.login.gateway ?? cliSettings().get('gateway'))?.replace(/\/$/, '');
  if (!gateway) throw new AuthError('no gateway configured', 'pass --gateway URL, set HOOP_GATEWAY, or run `hoop login --gateway URL` (or `hoop demo`)');
  const base = { gateway, ...(agentMeta ? { agentMeta } : {}) };
  if (explicitToken) return { ...base, token: async () => explicitToken };
  if (!saved) throw new AuthError('not logged in', `run \`hoop login --gateway ${gateway}\`, or set HOOP_TOKEN`);
  if (saved.login.gateway.replace(/\/$/, '') !== gateway) {
    throw new AuthError(`the saved login is for ${saved.login.gateway}, not ${gateway}`, `run \`hoop login --gateway ${gateway}\``);
  }
  return { ...base, token: tokenSource(saved.login, saved.store) };
}
