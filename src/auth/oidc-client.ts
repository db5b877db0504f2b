import type * as OidcClient from 'openid-client';
import { AuthError, HoopError, UsageError, errorMessage } from '../errors.js';
import type { StoredLogin } from '../cli/credentials.js';

/** What the gateway tells the CLI about its identity provider (`GET /v1/auth/config`). */
export interface GatewayAuthConfig {
  readonly oidc: { readonly issuer: string; readonly clientId: string; readonly audience: string } | null;
}

/** The scopes a person's login asks for: identity, and a refresh token so sessions outlive one access token. */
export const LOGIN_SCOPES = 'openid profile email offline_access';

function isLoopbackHttp(url: URL): boolean {
  return url.protocol === 'http:' && (url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]');
}

async function load(): Promise<typeof OidcClient> {
  return import('openid-client');
}

/**
 * Discovers the issuer. Plain HTTP is allowed only for a loopback issuer (the demo's built-in IdP
 * and tests); anywhere else it would expose tokens.
 */
export async function discover(issuer: string, clientId: string, clientSecret?: string): Promise<OidcClient.Configuration> {
  const client = await load();
  const url = new URL(issuer);
  if (url.protocol !== 'https:' && !isLoopbackHttp(url)) {
    throw new AuthError(`the identity provider ${issuer} is not served over HTTPS`, 'configure an https:// issuer at the gateway');
  }
  try {
    return await client.discovery(
      url,
      clientId,
      clientSecret === undefined ? undefined : { client_secret: clientSecret },
      clientSecret === undefined ? client.None() : client.ClientSecretPost(clientSecret),
      isLoopbackHttp(url) ? { execute: [client.allowInsecureRequests] } : undefined,
    );
  } catch (err) {
    throw new AuthError(`cannot reach the identity provider ${issuer}: ${errorMessage(err)}`);
  }
}

/** Resource indicator (RFC 8707) for the gateway, when its audience is an absolute URI. */
function resourceParams(audience: string): Record<string, string> {
  try {
    new URL(audience);
    return { resource: audience };
  } catch {
    return {};
  }
}

function toLogin(
  gateway: string,
  method: StoredLogin['method'],
  oidc: NonNullable<GatewayAuthConfig['oidc']>,
  tokens: OidcClient.TokenEndpointResponse,
  previousRefresh?: string,
): StoredLogin {
  const refreshToken = tokens.refresh_token ?? previousRefresh;
  return {
    gateway,
    method,
    accessToken: tokens.access_token,
    ...(refreshToken ? { refreshToken } : {}),
    ...(tokens.id_token ? { idToken: tokens.id_token } : {}),
    obtainedAt: Date.now(),
    ...(tokens.expires_in !== undefined ? { expiresAt: Date.now() + tokens.expires_in * 1000 } : {}),
    issuer: oidc.issuer,
    clientId: oidc.clientId,
    audience: oidc.audience,
  };
}

export interface DevicePrompt {
  readonly verificationUri: string;
  readonly verificationUriComplete: string | undefined;
  readonly userCode: string;
  readonly expiresInSeconds: number;
}

/** OAuth error code of a failed grant, e.g. `access_denied`, `expired_token`. */
function oauthError(err: unknown): string | undefined {
  const e = err as { error?: unknown; code?: unknown; cause?: { error?: unknown } };
  if (typeof e.error === 'string') return e.error;
  if (typeof e.cause?.error === 'string') return e.cause.error;
  return undefined;
}

/**
 * RFC 8628 device authorization grant: the person approves in any browser, on any machine,
 * while the CLI polls at the interval the server asks for (openid-client honours `slow_down`).
 */
export async function deviceLogin(
  gateway: string,
  authConfig: GatewayAuthConfig,
  onPrompt: (prompt: DevicePrompt) => void,
  signal?: AbortSignal,
): Promise<StoredLogin> {
  const oidc = authConfig.oidc;
  if (!oidc) throw new UsageError(`the gateway at ${gateway} has no identity provider configured`, 'use a service-account token: hoop login --token … (or HOOP_TOKEN)');
  const client = await load();
  const config = await discover(oidc.issuer, oidc.clientId);
  let response: OidcClient.DeviceAuthorizationResponse;
  try {
    response = await client.initiateDeviceAuthorization(config, { scope: LOGIN_SCOPES, ...resourceParams(oidc.audience) });
  } catch (err) {
    throw new AuthError(`the identity provider refused to start a device login: ${errorMessage(err)}`, `is client ${oidc.clientId} allowed the device grant?`);
  }
  onPrompt({
    verificationUri: response.verification_uri,
    verificationUriComplete: response.verification_uri_complete,
    userCode: response.user_code,
    expiresInSeconds: response.expires_in,
  });
  try {
    const tokens = await client.pollDeviceAuthorizationGrant(config, response, undefined, signal ? { signal } : undefined);
    return toLogin(gateway, 'device', oidc, tokens);
  } catch (err) {
    const code = oauthError(err);
    if (code === 'access_denied') throw new AuthError('the login was denied in the browser', 'run hoop login again to retry');
    if (code === 'expired_token') throw new AuthError('the code expired before it was approved', 'run hoop login again and approve within the time shown');
    if (signal?.aborted) throw new HoopError('HOOP_ABORTED', 'login cancelled');
    throw new AuthError(`device login failed: ${code ?? errorMessage(err)}`);
  }
}

/** OAuth client-credentials grant for an agent with its own client id and secret. */
export async function clientCredentialsLogin(gateway: string, authConfig: GatewayAuthConfig, clientId: string, clientSecret: string): Promise<StoredLogin> {
  const oidc = authConfig.oidc;
  if (!oidc) throw new UsageError(`the gateway at ${gateway} has no identity provider configured`);
  const client = await load();
  const config = await discover(oidc.issuer, clientId, clientSecret);
  try {
    const tokens = await client.clientCredentialsGrant(config, resourceParams(oidc.audience));
    return toLogin(gateway, 'client-credentials', { ...oidc, clientId }, tokens);
  } catch (err) {
    throw new AuthError(`client-credentials login failed: ${oauthError(err) ?? errorMessage(err)}`, 'check HOOP_CLIENT_ID and HOOP_CLIENT_SECRET');
  }
}

/** A fresh access token for a saved login: refresh grant for people, a new grant for workloads. */
export async function renewLogin(login: StoredLogin): Promise<StoredLogin> {
  if (!login.issuer || !login.clientId || !login.audience) throw new AuthError('the saved login cannot be renewed', 'run hoop login');
  const oidc = { issuer: login.issuer, clientId: login.clientId, audience: login.audience };
  if (login.method === 'client-credentials') {
    const id = process.env.HOOP_CLIENT_ID;
    const secret = process.env.HOOP_CLIENT_SECRET;
    if (!id || !secret) throw new AuthError('the access token expired and HOOP_CLIENT_ID / HOOP_CLIENT_SECRET are not set to renew it', 'set them, or run hoop login --client-credentials');
    return clientCredentialsLogin(login.gateway, { oidc }, id, secret);
  }
  if (!login.refreshToken) throw new AuthError('the access token expired and there is no refresh token', 'run hoop login');
  const client = await load();
  const config = await discover(oidc.issuer, oidc.clientId);
  try {
    const tokens = await client.refreshTokenGrant(config, login.refreshToken, resourceParams(oidc.audience));
    return toLogin(login.gateway, 'device', oidc, tokens, login.refreshToken);
  } catch (err) {
    throw new AuthError(`the login expired and could not be renewed: ${oauthError(err) ?? errorMessage(err)}`, 'run hoop login');
  }
}
