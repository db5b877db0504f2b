import Conf from 'conf';
import { AuthError } from '../errors.js';
import type { GatewayAuth } from '../tunnel/local-end.js';

interface Settings {
  gateway?: string;
  token?: string;
}

/**
 * The CLI's own settings (the saved login). Kept in the user's config directory, or in
 * $HOOP_CONFIG_DIR, readable by the owner only because it holds a token.
 */
export function cliSettings(): Conf<Settings> {
  return new Conf<Settings>({
    projectName: 'hoop',
    projectSuffix: '',
    configFileMode: 0o600,
    ...(process.env.HOOP_CONFIG_DIR ? { cwd: process.env.HOOP_CONFIG_DIR } : {}),
  });
}

/** Where the gateway URL and token come from: flags, then environment, then the saved login. */
export function resolveGatewayAuth(options: Record<string, unknown>): GatewayAuth {
  const settings = cliSettings();
  const gateway = (options.gateway as string | undefined) ?? process.env.HOOP_GATEWAY ?? settings.get('gateway');
  const token = (options.token as string | undefined) ?? process.env.HOOP_TOKEN ?? settings.get('token');
  if (!gateway) throw new AuthError('no gateway configured', 'pass --gateway URL, set HOOP_GATEWAY, or run `hoop demo` / `hoop login`');
  if (!token) throw new AuthError('no token', 'pass --token, set HOOP_TOKEN, or log in with `hoop login`');
  return { gateway: gateway.replace(/\/$/, ''), token };
}
