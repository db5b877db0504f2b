import { AuthError, GatewayUnavailableError, HoopError, NotFoundError, errorMessage } from '../errors.js';
import type { GatewayAuth } from '../tunnel/local-end.js';

/** GET a JSON resource from the gateway's API, turning HTTP failures into errors a user can act on. */
export async function apiGet<T>(auth: GatewayAuth, path: string): Promise<T> {
  let res: Response;
  const token = await auth.token();
  try {
    res = await fetch(`${auth.gateway}${path}`, { headers: { Authorization: `Bearer ${token}` } });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? errorMessage(err);
    throw new GatewayUnavailableError(`cannot reach the gateway at ${auth.gateway}: ${cause}`, 'is `hoop gateway` running? check --gateway / HOOP_GATEWAY');
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (res.ok) return body as T;
  const message = (body as { error?: { message?: string } } | undefined)?.error?.message ?? `HTTP ${res.status}`;
  if (res.status === 401) throw new AuthError(`the gateway refused the token: ${message}`, 'log in again or pass a valid --token / HOOP_TOKEN');
  if (res.status === 403) throw new AuthError(`not allowed: ${message}`);
  if (res.status === 404) throw new NotFoundError(message);
  throw new HoopError('HOOP_GATEWAY_ERROR', `gateway error: ${message}`);
}

export interface ConnectionInfo {
  readonly name: string;
  readonly type: string;
}

export async function findConnection(auth: GatewayAuth, name: string): Promise<ConnectionInfo> {
  const { connections } = await apiGet<{ connections: ConnectionInfo[] }>(auth, '/v1/connections');
  const c = connections.find((x) => x.name === name);
  if (!c) {
    const names = connections.map((x) => x.name).join(', ') || '(none)';
    throw new NotFoundError(`the gateway has no connection named ${name}`, `available: ${names}`);
  }
  return c;
}
