// oidc-provider ships no type declarations and @types/oidc-provider is not a dependency, so this
// declares the part of its API (v9) that the built-in identity provider uses. Keep it in step with
// node_modules/oidc-provider/lib when upgrading; shapes were checked against 9.13.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  type Awaitable<T> = T | Promise<T>;

  export interface ClientMetadata {
    client_id: string;
    client_secret?: string;
    client_name?: string;
    token_endpoint_auth_method?: 'none' | 'client_secret_basic' | 'client_secret_post';
    grant_types?: string[];
    response_types?: string[];
    redirect_uris?: string[];
    scope?: string;
  }

  export interface Client {
    readonly clientId: string;
    readonly clientName?: string;
    grantTypeAllowed(type: string): boolean;
  }

  export interface Session {
    readonly accountId?: string;
  }

  export interface OIDCContext {
    /** The route being served: 'code_verification', 'device_resume', 'device_authorization', 'token', … */
    readonly route: string;
    readonly client?: Client;
    readonly session?: Session;
    urlFor(name: string, opts?: Record<string, unknown>): string;
  }

  /** The Koa context oidc-provider hands to its hooks. */
  export interface KoaContextWithOIDC {
    body: unknown;
    status: number;
    type: string;
    readonly method: string;
    readonly path: string;
    readonly ip: string;
    readonly oidc: OIDCContext;
    /** Koa's per-request scratch space. */
    readonly state: Record<string, unknown>;
    set(field: string, value: string): void;
    get(field: string): string;
  }

  export type Middleware = (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>;

  export interface AccountClaims {
    sub: string;
    [claim: string]: unknown;
  }

  export interface Account {
    accountId: string;
    claims(use: string, scope: string, claims: unknown, rejected: string[]): Awaitable<AccountClaims>;
  }

  /** Any token-like model passed to hooks (AccessToken, ClientCredentials, DeviceCode, RefreshToken, …). */
  export interface TokenModel {
    readonly kind: string;
    readonly clientId?: string;
    readonly accountId?: string;
    readonly scope?: string;
    readonly scopes: Set<string>;
  }

  export interface ResourceServerInfo {
    scope: string;
    audience?: string;
    accessTokenTTL?: number;
    accessTokenFormat?: 'opaque' | 'jwt';
    jwt?: { sign?: { alg?: string; kid?: string } };
  }

  export interface DeviceInfo {
    readonly ip?: string;
    readonly ua?: string;
  }

  /** The error as oidc-provider renders it (`error`, `error_description`, sometimes more). */
  export interface ErrorOut {
    readonly error: string;
    readonly error_description?: string;
    readonly [key: string]: unknown;
  }

  export interface PromptDetails {
    readonly missingOIDCScope?: string[];
    readonly missingOIDCClaims?: string[];
    readonly missingResourceScopes?: Record<string, string[]>;
    readonly [key: string]: unknown;
  }

  export interface Interaction {
    readonly uid: string;
    readonly returnTo: string;
    readonly exp: number;
    readonly prompt: { readonly name: string; readonly reasons: string[]; readonly details: PromptDetails };
    readonly params: Readonly<Record<string, unknown>>;
    readonly session?: { readonly accountId: string; readonly uid?: string; readonly cookie?: string };
    readonly grantId?: string;
    /** jti of the device code when the interaction belongs to a device flow. */
    readonly deviceCode?: string;
  }

  export interface InteractionResults {
    login?: { accountId: string; remember?: boolean; acr?: string; amr?: string[]; ts?: number };
    consent?: { grantId?: string };
    error?: string;
    error_description?: string;
  }

  export interface Grant {
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    addResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
  }

  export interface GrantClass {
    new (props: { accountId: string; clientId: string }): Grant;
    find(id: string): Promise<Grant | undefined>;
  }

  export interface AdapterPayload {
    readonly [key: string]: unknown;
    readonly grantId?: string;
    readonly userCode?: string;
    readonly uid?: string;
    consumed?: number;
  }

  export interface Adapter {
    upsert(id: string, payload: AdapterPayload, expiresIn: number | undefined): Promise<void>;
    find(id: string): Promise<AdapterPayload | undefined>;
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
    findByUid(uid: string): Promise<AdapterPayload | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }

  type Ttl = number | ((ctx: KoaContextWithOIDC, token: unknown, client: Client) => number);

  export interface Configuration {
    adapter?: (modelName: string) => Adapter;
    clients?: ClientMetadata[];
    jwks?: { keys: object[] };
    cookies?: { keys?: string[] };
    claims?: Record<string, string[] | null>;
    scopes?: string[];
    responseTypes?: string[];
    conformIdTokenClaims?: boolean;
    findAccount?: (ctx: KoaContextWithOIDC, sub: string, token?: TokenModel) => Awaitable<Account | undefined>;
    extraTokenClaims?: (ctx: KoaContextWithOIDC, token: TokenModel) => Awaitable<Record<string, unknown> | undefined>;
    issueRefreshToken?: (ctx: KoaContextWithOIDC, client: Client, code: TokenModel) => Awaitable<boolean>;
    expiresWithSession?: (ctx: KoaContextWithOIDC, code: TokenModel) => Awaitable<boolean>;
    renderError?: (ctx: KoaContextWithOIDC, out: ErrorOut, error: Error) => Awaitable<void>;
    interactions?: {
      policy?: interactionPolicy.Policy;
      url?: (ctx: KoaContextWithOIDC, interaction: Interaction) => Awaitable<string>;
    };
    ttl?: Partial<Record<
      | 'AccessToken' | 'AuthorizationCode' | 'BackchannelAuthenticationRequest' | 'ClientCredentials'
      | 'DeviceCode' | 'Grant' | 'IdToken' | 'Interaction' | 'PreAuthorizedCode' | 'RefreshToken' | 'Session',
      Ttl
    >>;
    features?: {
      devInteractions?: { enabled: boolean };
      clientCredentials?: { enabled: boolean };
      userinfo?: { enabled: boolean };
      revocation?: { enabled: boolean };
      rpInitiatedLogout?: { enabled: boolean };
      pushedAuthorizationRequests?: { enabled: boolean };
      deviceFlow?: {
        enabled: boolean;
        charset?: 'base-20' | 'digits';
        mask?: string;
        userCodeInputSource?: (ctx: KoaContextWithOIDC, form: string, out?: ErrorOut, err?: Error & { userCode?: string }) => Awaitable<void>;
        userCodeConfirmSource?: (ctx: KoaContextWithOIDC, form: string, client: Client, deviceInfo: DeviceInfo, userCode: string) => Awaitable<void>;
        successSource?: (ctx: KoaContextWithOIDC) => Awaitable<void>;
      };
      resourceIndicators?: {
        enabled: boolean;
        defaultResource?: (ctx: KoaContextWithOIDC, client: Client, oneOf?: string[]) => Awaitable<string | string[] | undefined>;
        useGrantedResource?: (ctx: KoaContextWithOIDC, model: TokenModel) => Awaitable<boolean>;
        getResourceServerInfo?: (ctx: KoaContextWithOIDC, resourceIndicator: string, client: Client) => Awaitable<ResourceServerInfo>;
      };
    };
  }

  export class Provider {
    constructor(issuer: string, configuration?: Configuration);
    readonly issuer: string;
    readonly Grant: GrantClass;
    readonly Client: { find(id: string): Promise<Client | undefined> };
    /** A Node.js request listener serving every oidc-provider route. */
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    /** Adds a Koa middleware that runs around oidc-provider's own. */
    use(middleware: Middleware): this;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: InteractionResults,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }

  export namespace interactionPolicy {
    class Check {
      constructor(reason: string, description: string, check: (ctx: KoaContextWithOIDC) => Awaitable<boolean>);
      static readonly REQUEST_PROMPT: true;
      static readonly NO_NEED_TO_PROMPT: false;
    }
    interface Prompt {
      readonly name: string;
      readonly checks: Check[] & { add(check: Check, index?: number): void };
    }
    type Policy = Prompt[] & { get(name: string): Prompt | undefined };
    function base(): Policy;
  }

  export namespace errors {
    class OIDCProviderError extends Error {
      constructor(status: number, message: string);
      readonly error: string;
      readonly error_description?: string;
      readonly status: number;
      readonly statusCode: number;
    }
    class InvalidTarget extends OIDCProviderError {
      constructor(description?: string, detail?: string);
    }
  }

  export default Provider;
}
