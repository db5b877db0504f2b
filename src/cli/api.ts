import { AuthError, GatewayUnavailableError, HoopError, NotFoundError, errorMessage } from '../errors.js';
import type { GatewayAuth } from '../tunnel/local-end.js';

/** GET a JSON resource from the gateway's API, turning HTTP failures into errors a user can act on. */
export async function apiGet<T>(auth: GatewayAuth, path: string): Promise<T> {
  return apiRequest<T>(auth, 'GET', path);
}

export async function apiPost<T>(auth: GatewayAuth, path: string, body: unknown): Promise<T> {
  return apiRequest<T>(auth, 'POST', path, body);
}

async function apiRequest<T>(auth: GatewayAuth, method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  const token = await auth.token();
  try {
    res = await fetch(`${auth.gateway}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? errorMessage(err);
    throw new GatewayUnavailableError(`cannot reach the gateway at ${auth.gateway}: ${cause}`, 'is `hoop gateway` running? check --gateway / HOOP_GATEWAY');
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (res.ok) return parsed as T;
  const message = (parsed as { error?: { message?: string } } | undefined)?.error?.message ?? `HTTP ${res.status}`;
  const code = (parsed as { error?: { code?: string } } | undefined)?.error?.code;
  if (res.status === 401) throw new AuthError(`the gateway refused the token: ${message}`, 'log in again or pass a valid --token / HOOP_TOKEN');
  if (res.status === 403) throw new AuthError(`not allowed: ${message}`);
  if (res.status === 404) throw new NotFoundError(message);
  if (res.status === 409 || res.status === 400) throw new HoopError(code ?? 'HOOP_CONFLICT', message, { exitCode: res.status === 400 ? 2 : 1 });
  throw new HoopError('HOOP_GATEWAY_ERROR', `gateway error: ${message}`);
}

export interface ConnectionInfo {
  readonly name: string;
  readonly type: string;
  /** SSH and git connections: the gateway's host key (`ssh-ed25519 AAAA…`), pinned by `hoop connect`. */
  readonly sshHostKey?: string;
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
