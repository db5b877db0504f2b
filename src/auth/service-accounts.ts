import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { AuthError } from '../errors.js';
import type { ServiceAccount, Store } from '../store/store.js';
import type { Authenticator, Identity } from './identity.js';

/** Service-account tokens carry this prefix so secret scanners and the authenticator chain can tell them apart. */
export const SERVICE_ACCOUNT_TOKEN_PREFIX = 'hoop_sa_';

/** Only the hash is stored: a stolen store does not yield working tokens. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export async function createServiceAccount(
  store: Store,
  name: string,
  groups: readonly string[],
): Promise<{ account: ServiceAccount; token: string }> {
  const token = SERVICE_ACCOUNT_TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const account = await store.createServiceAccount({ id: `sa_${randomUUID()}`, name, groups, tokenHash: hashToken(token) });
  return { account, token };
}

export class ServiceAccountAuthenticator implements Authenticator {
  readonly name = 'service-account';
  constructor(private readonly store: Store) {}

  recognises(token: string): boolean {
    return token.startsWith(SERVICE_ACCOUNT_TOKEN_PREFIX);
  }

  async authenticate(token: string): Promise<Identity> {
    const account = await this.store.findServiceAccountByTokenHash(hashToken(token));
    if (!account) throw new AuthError('unknown service-account token', 'create one with `hoop admin service-account create`');
    if (account.revokedAt !== null) throw new AuthError(`service account ${account.name} was revoked`);
    return { kind: 'service-account', subject: account.id, name: account.name, groups: account.groups };
  }
}

/** Tries each authenticator that recognises the token's shape; the first one that does decides. */
export class AuthenticatorChain implements Authenticator {
  readonly name = 'chain';
  constructor(private readonly authenticators: readonly Authenticator[]) {}

  recognises(token: string): boolean {
    return this.authenticators.some((a) => a.recognises(token));
  }

  async authenticate(token: string): Promise<Identity> {
    const a = this.authenticators.find((x) => x.recognises(token));
    if (!a) throw new AuthError('token format not recognised', 'use a service-account token (hoop_sa_…) or log in with `hoop login`');
    return a.authenticate(token);
  }
}

/** Extracts the token from an `Authorization: Bearer …` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}
