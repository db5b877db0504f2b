import type { GatewayAuthConfig } from '../auth/oidc-client.js';
import { GatewayUnavailableError, errorMessage } from '../errors.js';

/** Asks the gateway which identity provider it trusts (no token needed). */
export async function getAuthConfig(gateway: string): Promise<GatewayAuthConfig> {
  let res: Response;
  try {
    res = await fetch(`${gateway}/v1/auth/config`);
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? errorMessage(err);
    throw new GatewayUnavailableError(`cannot reach the gateway at ${gateway}: ${cause}`, 'check --gateway / HOOP_GATEWAY');
  }
  if (!res.ok) throw new GatewayUnavailableError(`the gateway at ${gateway} answered ${res.status} for its auth config`, 'is that URL a hoop gateway?');
  return (await res.json()) as GatewayAuthConfig;
}
