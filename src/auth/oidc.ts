import { type JWTPayload, type JWTVerifyGetKey, createRemoteJWKSet, errors, jwtVerify } from 'jose';
import { AuthError, ConfigError, errorMessage } from '../errors.js';
import type { Authenticator, Identity } from './identity.js';
import { SERVICE_ACCOUNT_TOKEN_PREFIX } from './service-accounts.js';

export interface OidcSettings {
  readonly issuer: string;
  /** hoop's own client at the identity provider (used by `hoop login`; tokens are checked against `audience`). */
  readonly clientId: string;
  readonly audience: string;
  readonly groupsClaim: string;
}

export interface OidcAuthenticatorOptions {
  /** Seconds of clock skew allowed on `exp` and `nbf`; default 30. */
  readonly clockToleranceSeconds?: number;
  /** Minimum time between JWKS refetches triggered by an unknown `kid`; default 30 s. */
  readonly jwksCooldownMs?: number;
  /** The JWKS is refetched when older than this even without an unknown `kid`; default 10 min. */
  readonly jwksCacheMaxAgeMs?: number;
}

/**
 * Asymmetric algorithms only. Symmetric (HS*) would let anyone holding the *public* JWKS forge
 * tokens if a key were ever used as an HMAC secret, and `none` is no signature at all.
 */
export const OIDC_ALLOWED_ALGORITHMS: readonly string[] = [
  'RS256', 'RS384', 'RS512',
  'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512',
  'EdDSA',
];

/** Claims only present when a person is behind the token; their absence is half of the client-credentials test. */
const USER_CLAIMS = ['email', 'preferred_username', 'name', 'given_name', 'family_name', 'nickname', 'upn'] as const;

/** Larger than any real IdP token, small enough that a hostile header cannot make us decode megabytes. */
const MAX_TOKEN_LENGTH = 32 * 1024;
/** `recognises` must stay cheap: real JOSE headers are a few hundred characters. */
const MAX_HEADER_SEGMENT_LENGTH = 4096;
const FETCH_TIMEOUT_MS = 5_000;
/** Claim values come from the token; keep messages short and single-line. */
const MAX_QUOTED_LENGTH = 120;

const BASE64URL = /^[A-Za-z0-9_-]*$/;

interface DecodedToken {
  readonly header: Record<string, unknown> & { readonly alg: string };
  readonly payload: Record<string, unknown> | undefined;
}

interface Provider {
  readonly jwksUri: string;
  readonly getKey: JWTVerifyGetKey;
}

/** A JWKS download failed (network, status, timeout, bad JSON): distinct from "the key is not in the set". */
class KeySetUnavailable extends Error {
  constructor(readonly jwksUri: string, cause: unknown) {
    super(errorMessage(cause), { cause });
  }
}

/**
 * Accepts OIDC access/ID tokens (JWTs) issued by one configured identity provider.
 *
 * `subject` is `oidc:<issuer>#<sub>`: OIDC only guarantees `sub` unique per issuer, and the prefix
 * keeps it from colliding with service-account ids (`sa_…`) or with another issuer configured later.
 * `#` cannot occur in an issuer (OIDC forbids fragments there), so the split is unambiguous.
 */
export class OidcAuthenticator implements Authenticator {
  readonly name = 'oidc';
  private readonly settings: OidcSettings;
  private readonly clockTolerance: number;
  private readonly jwksCooldownMs: number;
  private readonly jwksCacheMaxAgeMs: number;
  private readonly discoveryUrl: string;
  private provider: Promise<Provider> | undefined;

  constructor(settings: OidcSettings, opts: OidcAuthenticatorOptions = {}) {
    this.settings = settings;
    this.discoveryUrl = discoveryUrlFor(settings.issuer);
    this.clockTolerance = nonNegative(opts.clockToleranceSeconds, 30, 'clockToleranceSeconds');
    this.jwksCooldownMs = nonNegative(opts.jwksCooldownMs, 30_000, 'jwksCooldownMs');
    this.jwksCacheMaxAgeMs = nonNegative(opts.jwksCacheMaxAgeMs, 10 * 60_000, 'jwksCacheMaxAgeMs');
    if (!settings.audience) throw new ConfigError('OIDC audience is empty', 'set the audience your identity provider puts in tokens for hoop');
  }

  recognises(token: string): boolean {
    if (token.startsWith(SERVICE_ACCOUNT_TOKEN_PREFIX)) return false;
    const parts = token.split('.');
    if (parts.length !== 3) return false;
    const [h, p, s] = parts as [string, string, string];
    if (!h || !p || h.length > MAX_HEADER_SEGMENT_LENGTH) return false;
    // An empty signature is still "ours" so that `alg: none` gets a specific refusal rather than "not recognised".
    if (!BASE64URL.test(h) || !BASE64URL.test(p) || !BASE64URL.test(s)) return false;
    return decodeHeader(h) !== undefined;
  }

  async authenticate(token: string): Promise<Identity> {
    const { header, payload } = this.decode(token);
    const alg = header.alg;
    // Checked before any network I/O: a forged or foreign token must not make us fetch anything.
    if (alg === 'none') throw new AuthError('unsigned token (alg "none") refused', 'use a token signed by the identity provider');
    if (!OIDC_ALLOWED_ALGORITHMS.includes(alg)) throw this.algorithmRefused(alg);
    if (!payload) throw malformed('its payload is not a JSON object');
    // The unverified `iss` is only used to refuse early with the right message: a token from
    // another issuer would otherwise fail as "bad signature" or "unknown kid" and trigger a JWKS refetch.
    if (payload.iss !== this.settings.issuer) throw this.wrongIssuer(payload.iss);

    const provider = await this.getProvider();
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, provider.getKey, {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        algorithms: [...OIDC_ALLOWED_ALGORITHMS],
        clockTolerance: this.clockTolerance,
        // A bearer token that never expires cannot be contained once leaked.
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (err) {
      throw this.refusal(err, header, provider);
    }
    return this.identity(claims);
  }

  private decode(token: string): DecodedToken {
    if (token.startsWith(SERVICE_ACCOUNT_TOKEN_PREFIX)) throw malformed('it is a service-account token, not a JWT');
    if (token.length > MAX_TOKEN_LENGTH) throw malformed(`it is ${token.length} characters, over the ${MAX_TOKEN_LENGTH} limit`);
    const parts = token.split('.');
    if (parts.length !== 3) throw malformed(`a JWT has 3 dot-separated parts, this has ${parts.length}`);
    const [h, p, s] = parts as [string, string, string];
    if (!BASE64URL.test(h) || !BASE64URL.test(p) || !BASE64URL.test(s)) throw malformed('it is not base64url-encoded');
    const header = decodeHeader(h);
    if (!header) throw malformed('its header is not JSON with an "alg"');
    return { header, payload: decodeJsonObject(p) };
  }

  /** Discovery is lazy and shared by concurrent callers; a failure is forgotten so the next request retries. */
  private getProvider(): Promise<Provider> {
    if (!this.provider) {
      const pending = this.discover();
      this.provider = pending;
      pending.catch(() => {
        if (this.provider === pending) this.provider = undefined;
      });
    }
    return this.provider;
  }

  private async discover(): Promise<Provider> {
    const issuer = this.settings.issuer;
    let doc: unknown;
    try {
      const res = await fetch(this.discoveryUrl, {
        headers: { accept: 'application/json' },
        // A redirect could hand us someone else's document; the issuer must answer itself.
        redirect: 'manual',
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      });
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      doc = await res.json();
    } catch (err) {
      throw this.unreachable(`could not fetch ${this.discoveryUrl} (${describeFetchError(err)})`);
    }
    if (!isObject(doc)) throw this.unreachable(`${this.discoveryUrl} did not return a JSON object`);
    if (doc.issuer !== issuer) {
      throw new AuthError(
        `identity provider refused: ${this.discoveryUrl} names its issuer ${quote(doc.issuer)}, but hoop is configured to trust ${quote(issuer)}`,
        'set the OIDC issuer in the gateway configuration to exactly the value the provider publishes (trailing slash included)',
      );
    }
    const jwksUri = parseJwksUri(doc.jwks_uri, issuer);
    if (!jwksUri) throw this.unreachable(`${this.discoveryUrl} has no usable jwks_uri (got ${quote(doc.jwks_uri)})`);
    const remote = createRemoteJWKSet(jwksUri, {
      cooldownDuration: this.jwksCooldownMs,
      cacheMaxAge: this.jwksCacheMaxAgeMs,
      timeoutDuration: FETCH_TIMEOUT_MS,
    });
    const getKey: JWTVerifyGetKey = async (protectedHeader, token) => {
      try {
        return await remote(protectedHeader, token);
      } catch (err) {
        // These mean "the set was fetched and the key is not usable"; anything else is a failed fetch.
        if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys || err instanceof errors.JOSENotSupported) throw err;
        throw new KeySetUnavailable(jwksUri.href, err);
      }
    };
    return { jwksUri: jwksUri.href, getKey };
  }

  private refusal(err: unknown, header: DecodedToken['header'], provider: Provider): AuthError {
    const issuer = this.settings.issuer;
    const kid = typeof header.kid === 'string' ? header.kid : undefined;
    if (err instanceof KeySetUnavailable) return this.unreachable(`could not fetch its signing keys from ${err.jwksUri} (${describeFetchError(err.cause)})`);
    if (err instanceof errors.JWKSTimeout) return this.unreachable(`timed out fetching its signing keys from ${provider.jwksUri}`);
    if (err instanceof errors.JWTExpired) {
      const exp = err.payload.exp;
      return new AuthError(`token expired at ${isoTime(exp)}; log in again`, 'run `hoop login` for a fresh token');
    }
    if (err instanceof errors.JWTClaimValidationFailed) return this.claimRefused(err);
    if (err instanceof errors.JWSSignatureVerificationFailed) {
      return new AuthError(
        `token signature is invalid: it does not verify with ${issuer}'s key${kid === undefined ? '' : ` ${quote(kid)}`}; the token was altered or not issued by this provider`,
        'log in again with `hoop login`',
      );
    }
    if (err instanceof errors.JOSEAlgNotAllowed) return this.algorithmRefused(header.alg);
    if (err instanceof errors.JWKSNoMatchingKey) {
      return new AuthError(
        `token is signed with key ${kid === undefined ? '(no kid)' : quote(kid)} (${header.alg}), which ${issuer} does not publish at ${provider.jwksUri}, even after refreshing its key set`,
        'the key may have been retired: log in again with `hoop login`',
      );
    }
    if (err instanceof errors.JWKSMultipleMatchingKeys) {
      return new AuthError(`token has no "kid" header and ${issuer} publishes several ${header.alg} keys, so the signing key cannot be chosen`);
    }
    if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JOSENotSupported) {
      return malformed(err.message);
    }
    // Fail closed on anything unforeseen (e.g. a key too weak for its algorithm); jose's messages never quote the token.
    return new AuthError(`token could not be verified: ${errorMessage(err)}`);
  }

  private claimRefused(err: InstanceType<typeof errors.JWTClaimValidationFailed>): AuthError {
    const claims = err.payload;
    if (err.reason === 'missing') {
      if (err.claim === 'exp') return new AuthError('token has no expiry ("exp" claim); hoop accepts only tokens that expire');
      return new AuthError(`token has no ${quote(err.claim)} claim, which hoop requires`);
    }
    if (err.reason === 'invalid') return malformed(`its ${quote(err.claim)} claim has the wrong type`);
    switch (err.claim) {
      case 'nbf':
        return new AuthError(
          `token not valid until ${isoTime(claims.nbf)}`,
          "check that this machine's clock and the identity provider's agree, or retry after that time",
        );
      case 'aud':
        return new AuthError(
          `token has the wrong audience: expected ${quote(this.settings.audience)}, got ${quote(claims.aud)}`,
          'request a token for the hoop gateway audience (check the client configuration at the identity provider)',
        );
      case 'iss':
        return this.wrongIssuer(claims.iss);
      default:
        return new AuthError(`token claim ${quote(err.claim)} was rejected`);
    }
  }

  private identity(claims: JWTPayload): Identity {
    const sub = claims.sub;
    if (typeof sub !== 'string' || sub === '') throw malformed('its "sub" claim is empty');
    const hasUserClaims = USER_CLAIMS.some((c) => claims[c] !== undefined);
    const clientId = typeof claims.client_id === 'string' ? claims.client_id : claims.azp;
    const workload = !hasUserClaims && typeof clientId === 'string' && sub === clientId;
    const name = firstString(claims.email, claims.preferred_username, claims.name) ?? sub;
    return {
      kind: workload ? 'workload' : 'user',
      subject: `oidc:${this.settings.issuer}#${sub}`,
      name,
      groups: groupsFrom(claims[this.settings.groupsClaim]),
    };
  }

  private algorithmRefused(alg: string): AuthError {
    return new AuthError(
      `token algorithm ${quote(alg)} is not allowed; hoop accepts only ${OIDC_ALLOWED_ALGORITHMS.join(', ')}`,
      'configure the identity provider to sign tokens with an asymmetric key',
    );
  }

  private wrongIssuer(got: unknown): AuthError {
    return new AuthError(
      got === undefined
        ? `token has no issuer ("iss" claim); hoop trusts only tokens from ${quote(this.settings.issuer)}`
        : `token was issued by ${quote(got)}, but hoop trusts only tokens from ${quote(this.settings.issuer)}`,
      'log in with `hoop login` to get a token from the configured identity provider',
    );
  }

  private unreachable(detail: string): AuthError {
    return new AuthError(
      `identity provider unreachable: ${this.settings.issuer}: ${detail}; OIDC tokens are refused until it answers`,
      'check the gateway can reach the issuer (network, DNS, TLS) and that the issuer URL is right',
    );
  }
}

function malformed(why: string): AuthError {
  return new AuthError(`malformed token: ${why}`, 'pass the access token from `hoop login`, or a service-account token (hoop_sa_…)');
}

function discoveryUrlFor(issuer: string): string {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new ConfigError(`OIDC issuer ${quote(issuer)} is not a URL`);
  }
  if (url.search || url.hash) throw new ConfigError(`OIDC issuer ${quote(issuer)} must not have a query or fragment`);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
    // Over plain HTTP anyone on the path could serve their own keys and mint identities.
    throw new ConfigError(`OIDC issuer ${quote(issuer)} must use https (plain http is allowed only on loopback)`);
  }
  // OIDC Discovery 1.0 §4: strip a trailing slash before appending the well-known path.
  return `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
}

function parseJwksUri(value: unknown, issuer: string): URL | undefined {
  if (typeof value !== 'string') return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol === 'https:') return url;
  // Same rule as the issuer: no downgrade to http for the keys themselves.
  if (url.protocol === 'http:' && isLoopback(url.hostname) && new URL(issuer).protocol === 'http:') return url;
  return undefined;
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

function decodeHeader(segment: string): DecodedToken['header'] | undefined {
  const header = decodeJsonObject(segment);
  return header && typeof header.alg === 'string' && header.alg !== '' ? (header as DecodedToken['header']) : undefined;
}

function decodeJsonObject(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function groupsFrom(value: unknown): string[] {
  const list = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
  return [...new Set(list.filter((g): g is string => typeof g === 'string' && g !== ''))];
}

function firstString(...values: unknown[]): string | undefined {
  return values.find((v): v is string => typeof v === 'string' && v !== '');
}

function isoTime(seconds: unknown): string {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return 'an unknown time';
  const d = new Date(seconds * 1000);
  return Number.isNaN(d.getTime()) ? 'an unknown time' : d.toISOString();
}

/** JSON quoting keeps token-supplied values on one line and visibly delimited in logs. */
function quote(value: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(value) ?? String(value);
  } catch {
    s = String(value);
  }
  return s.length > MAX_QUOTED_LENGTH ? `${s.slice(0, MAX_QUOTED_LENGTH)}…` : s;
}

function describeFetchError(err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') return `no answer within ${FETCH_TIMEOUT_MS / 1000} s`;
  if (err instanceof errors.JWKSTimeout) return `no answer within ${FETCH_TIMEOUT_MS / 1000} s`;
  // undici reports "fetch failed" and keeps the useful part (ECONNREFUSED, ENOTFOUND…) in the cause.
  const cause = err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (cause && typeof cause.code === 'string') return cause.code;
  return errorMessage(err);
}

function nonNegative(value: number | undefined, fallback: number, option: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) throw new ConfigError(`OIDC option ${option} must be a non-negative number, got ${value}`);
  return value;
}
