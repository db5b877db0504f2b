/** Who is acting: a verified person or non-human identity. Goes on every recorded event. */
export interface Identity {
  /**
   * `user`: a person from the identity provider; `workload`: a non-human client of the identity
   * provider (client-credentials grant); `service-account`: a token issued by hoop itself.
   */
  readonly kind: 'service-account' | 'user' | 'workload';
  /** Stable identifier (service-account id, OIDC `sub`). */
  readonly subject: string;
  /** Human-readable name shown in records and listings. */
  readonly name: string;
  readonly groups: readonly string[];
}

/**
 * Turns a bearer token into an identity. Several authenticators sit side by side
 * (service-account tokens now, OIDC JWTs next); each says whether the token is its kind.
 */
export interface Authenticator {
  readonly name: string;
  /** True when this authenticator owns tokens of this shape (cheap, no I/O). */
  recognises(token: string): boolean;
  /** The identity, or an `AuthError` saying why the token is refused. */
  authenticate(token: string): Promise<Identity>;
}
