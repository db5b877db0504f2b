/**
 * The identity provider built into hoop: what `hoop demo` signs people in with, and the real IdP
 * the tests run against. It is oidc-provider (a certified OpenID Provider) configured for exactly
 * what hoop needs:
 * - the device authorization grant (RFC 8628) for the CLI, with refresh tokens;
 * - the client-credentials grant for workloads;
 * - access tokens that are JWTs (RFC 9068) for one resource, the gateway, carrying who the caller is
 *   and which groups they are in, so the gateway can verify them offline against the JWKS.
 * Everything lives in memory and dies with the process; keys are generated at start.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, {
  errors,
  interactionPolicy,
  type ClientMetadata,
  type Configuration,
  type Interaction,
  type KoaContextWithOIDC,
  type TokenModel,
} from 'oidc-provider';
import { createMemoryAdapterFactory } from './memory-adapter.js';
import {
  PAGE_HEADERS,
  deviceConfirmPage,
  deviceInputPage,
  deviceSuccessPage,
  errorPage,
  loginPage,
} from './pages.js';

export interface BuiltinIdpUser {
  readonly id: string;
  readonly username: string;
  readonly password: string;
  readonly email: string;
  readonly name: string;
  readonly groups: readonly string[];
}

export interface BuiltinIdpClient {
  readonly clientId: string;
  readonly clientSecret?: string;
  /** for client-credentials (workload) clients: groups put in their tokens */
  readonly groups?: readonly string[];
  readonly grants: readonly ('device' | 'client_credentials')[];
}

export interface BuiltinIdpOptions {
  /** default 127.0.0.1 */
  readonly host?: string;
  /** default 0 = a free port */
  readonly port?: number;
  readonly users: readonly BuiltinIdpUser[];
  readonly clients: readonly BuiltinIdpClient[];
  /** Resource indicator (absolute URI, e.g. 'urn:hoop:gateway') that becomes the access token's `aud`. */
  readonly audience: string;
  /** default 600; tests use a few seconds to exercise refresh */
  readonly accessTokenTtlSeconds?: number;
  /** default 600 */
  readonly deviceCodeTtlSeconds?: number;
  /**
   * The `interval` advertised in device authorization responses: how many seconds a client waits
   * between polls. Default 5, RFC 8628's default; tests use 1 to run quickly.
   */
  readonly pollIntervalSeconds?: number;
}

export interface BuiltinIdp {
  readonly issuer: string;
  close(): Promise<void>;
}

/** The only scope of the gateway as a resource server; request it to see it in the token's `scope`. */
export const GATEWAY_SCOPE = 'gateway';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/**
 * Demo users for `hoop demo`: an engineer and an approver. Passwords are fixed because the demo
 * prints them; the IdP only listens on loopback.
 */
export const DEMO_USERS: readonly BuiltinIdpUser[] = [
  {
    id: 'user-alice',
    username: 'alice',
    password: 'alice-demo',
    email: 'alice@example.com',
    name: 'Alice Engineer',
    groups: ['engineers'],
  },
  {
    id: 'user-bob',
    username: 'bob',
    password: 'bob-demo',
    email: 'bob@example.com',
    name: 'Bob Approver',
    groups: ['approvers'],
  },
];

/** `hoop-cli`: public, device flow. `demo-workload`: confidential, client credentials. */
export const DEMO_CLIENTS: readonly BuiltinIdpClient[] = [
  { clientId: 'hoop-cli', grants: ['device'] },
  {
    clientId: 'demo-workload',
    clientSecret: 'demo-workload-secret',
    groups: ['workloads'],
    grants: ['client_credentials'],
  },
];

export async function startBuiltinIdp(opts: BuiltinIdpOptions): Promise<BuiltinIdp> {
  validateOptions(opts);
  const host = opts.host ?? '127.0.0.1';
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: randomBytes(8).toString('hex') };

  // The issuer names the port, so the server listens before the Provider exists.
  let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.writeHead(503).end();
  };
  const server = createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const close = (): Promise<void> =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Browsers and fetch keep connections alive; without this close() waits for their timeouts.
      server.closeAllConnections();
    });

  try {
    const provider = new Provider(issuer, providerConfiguration(opts, jwk));
    advertisePollInterval(provider, opts.pollIntervalSeconds ?? 5);
    recoverUnsavedSession(provider);
    // oidc-provider validates client metadata on first use; fail at start instead of mid-flow.
    for (const client of opts.clients) {
      if (!(await provider.Client.find(client.clientId))) throw new Error(`client ${client.clientId} failed validation`);
    }
    const interactions = interactionHandler(provider, opts.users);
    const providerCallback = provider.callback();
    handle = (req, res) => {
      const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
      if (path.startsWith('/interaction/')) void interactions(req, res, path);
      else providerCallback(req, res);
    };
  } catch (err) {
    await close();
    throw err;
  }
  return { issuer, close };
}

function validateOptions(opts: BuiltinIdpOptions): void {
  const audience = URL.parse(opts.audience);
  if (!audience || opts.audience.includes('#')) {
    throw new Error(`audience must be an absolute URI without a fragment, got ${JSON.stringify(opts.audience)}`);
  }
  const unique = (what: string, values: readonly string[]): void => {
    const seen = new Set<string>();
    for (const value of values) {
      if (!value) throw new Error(`${what} must not be empty`);
      if (seen.has(value)) throw new Error(`duplicate ${what} ${JSON.stringify(value)}`);
      seen.add(value);
    }
  };
  unique('user id', opts.users.map((u) => u.id));
  unique('username', opts.users.map((u) => u.username));
  unique('client id', opts.clients.map((c) => c.clientId));
  for (const client of opts.clients) {
    if (client.grants.length === 0) throw new Error(`client ${client.clientId} has no grants`);
    if (client.grants.includes('client_credentials') && !client.clientSecret) {
      throw new Error(`client ${client.clientId} uses client_credentials and needs a clientSecret`);
    }
  }
  for (const [name, value] of [
    ['accessTokenTtlSeconds', opts.accessTokenTtlSeconds],
    ['deviceCodeTtlSeconds', opts.deviceCodeTtlSeconds],
    ['pollIntervalSeconds', opts.pollIntervalSeconds],
  ] as const) {
    if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) {
      throw new Error(`${name} must be a positive integer, got ${value}`);
    }
  }
}

function clientMetadata(client: BuiltinIdpClient): ClientMetadata {
  const grantTypes = new Set<string>();
  if (client.grants.includes('device')) grantTypes.add(DEVICE_GRANT).add('refresh_token');
  if (client.grants.includes('client_credentials')) grantTypes.add('client_credentials');
  return {
    client_id: client.clientId,
    client_name: client.clientId,
    ...(client.clientSecret
      ? { client_secret: client.clientSecret, token_endpoint_auth_method: 'client_secret_basic' as const }
      : { token_endpoint_auth_method: 'none' as const }),
    grant_types: [...grantTypes],
    // No browser redirects: device and client-credentials clients never use the authorization endpoint.
    response_types: [],
    redirect_uris: [],
  };
}

function providerConfiguration(opts: BuiltinIdpOptions, jwk: object): Configuration {
  const usersById = new Map(opts.users.map((u) => [u.id, u]));
  const clientsById = new Map(opts.clients.map((c) => [c.clientId, c]));
  const accessTokenTtl = opts.accessTokenTtlSeconds ?? 600;
  const { audience } = opts;

  const policy = interactionPolicy.base();
  // Without this, a browser that signed in once (alice) would silently approve the next device
  // (bob's terminal) as alice. Asking every time also makes the account switch explicit: oidc-provider
  // then ends the old browser session itself before resuming.
  policy.get('login')?.checks.add(
    new interactionPolicy.Check('device_sign_in', 'every device sign-in authenticates the End-User', (ctx) =>
      ctx.oidc.route === 'code_verification'),
  );

  return {
    adapter: createMemoryAdapterFactory(300),
    clients: opts.clients.map(clientMetadata),
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
    // Nothing here uses the authorization endpoint; 'none' keeps code and implicit grants out of discovery.
    responseTypes: ['none'],
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    findAccount(_ctx, sub) {
      const user = usersById.get(sub);
      if (!user) return undefined;
      return {
        accountId: user.id,
        claims: () => ({
          sub: user.id,
          name: user.name,
          preferred_username: user.username,
          email: user.email,
          email_verified: true,
          groups: [...user.groups],
        }),
      };
    },
    // Identity claims ride in the access token itself so the gateway needs no userinfo round trip.
    extraTokenClaims(_ctx, token: TokenModel) {
      if (token.kind === 'ClientCredentials') {
        return { groups: [...(clientsById.get(token.clientId ?? '')?.groups ?? [])] };
      }
      const user = token.accountId ? usersById.get(token.accountId) : undefined;
      if (!user) return undefined;
      return { email: user.email, preferred_username: user.username, name: user.name, groups: [...user.groups] };
    },
    // The CLI keeps a session without a browser: every device sign-in gets a refresh token, whether
    // or not offline_access was asked for.
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    // Tokens from a device sign-in must not die with the browser's IdP session, which is unrelated.
    expiresWithSession: () => false,
    renderError(ctx, out) {
      ctx.type = 'html';
      setPageHeaders(ctx);
      ctx.body = errorPage(out.error, out.error_description);
    },
    interactions: { policy, url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    ttl: {
      AccessToken: accessTokenTtl,
      ClientCredentials: accessTokenTtl,
      DeviceCode: opts.deviceCodeTtlSeconds ?? 600,
      IdToken: 3600,
      RefreshToken: 14 * 24 * 3600,
      // A grant must outlive the refresh tokens that hang off it.
      Grant: 14 * 24 * 3600,
      Interaction: 600,
      Session: 3600,
      AuthorizationCode: 60,
      BackchannelAuthenticationRequest: 600,
      PreAuthorizedCode: 600,
    },
    features: {
      devInteractions: { enabled: false },
      // Access tokens are for the gateway, never the userinfo endpoint; the id_token carries the profile.
      userinfo: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      clientCredentials: { enabled: true },
      deviceFlow: {
        enabled: true,
        charset: 'base-20',
        mask: '****-****',
        userCodeInputSource(ctx, form, out, err) {
          ctx.type = 'html';
          setPageHeaders(ctx);
          const message = inputMessage(out, err);
          ctx.state[INPUT_MESSAGE] = message;
          ctx.body = deviceInputPage(form, message);
        },
        userCodeConfirmSource(ctx, form, client, deviceInfo, userCode) {
          ctx.type = 'html';
          setPageHeaders(ctx);
          // The requesting device chose its User-Agent; it is shown (escaped, shortened) as a hint only.
          const ua = deviceInfo.ua && deviceInfo.ua.length > 100 ? `${deviceInfo.ua.slice(0, 100)}…` : deviceInfo.ua;
          const requestedFrom = [deviceInfo.ip, ua && `(${ua})`].filter(Boolean).join(' ');
          ctx.body = deviceConfirmPage({
            form,
            clientName: client.clientName ?? client.clientId,
            userCode,
            requestedFrom: requestedFrom || undefined,
          });
        },
        successSource(ctx) {
          ctx.type = 'html';
          setPageHeaders(ctx);
          const client = ctx.oidc.client;
          ctx.body = deviceSuccessPage(client?.clientName ?? client?.clientId ?? 'The application');
        },
      },
      resourceIndicators: {
        enabled: true,
        // Clients need not know the gateway's identifier: every token is for it unless they ask otherwise.
        defaultResource: () => audience,
        // Keeps the gateway audience on tokens from the token endpoint even when `openid` was requested
        // (oidc-provider would otherwise issue a userinfo-only opaque token there).
        useGrantedResource: () => true,
        getResourceServerInfo(_ctx, resourceIndicator) {
          if (resourceIndicator !== audience) throw new errors.InvalidTarget();
          return {
            scope: GATEWAY_SCOPE,
            audience,
            accessTokenFormat: 'jwt',
            accessTokenTTL: accessTokenTtl,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
  };
}

function setPageHeaders(ctx: KoaContextWithOIDC): void {
  for (const [name, value] of Object.entries(PAGE_HEADERS)) ctx.set(name, value);
}

/** ctx.state key under which the device input page leaves its message for recoverUnsavedSession. */
const INPUT_MESSAGE = 'hoopDeviceInputMessage';

function inputMessage(out: { error?: string; error_description?: string } | undefined, err: Error | undefined): string | undefined {
  switch (err?.name) {
    case undefined:
      return undefined;
    case 'NoCodeError':
      return 'Enter the code shown in your terminal.';
    case 'NotFoundError':
      return 'That code is not valid. Check it and try again.';
    case 'ExpiredError':
      return 'That code has expired. Start the sign-in again from your terminal.';
    case 'AlreadyUsedError':
      return 'That code has already been used. Start the sign-in again from your terminal.';
    case 'AbortedError':
      return 'Sign-in cancelled. Your terminal will report that access was denied.';
    default:
      // A missing or expired browser session (xsrf state, resume cookie) is the common cause here.
      if (out?.error === 'invalid_request') return 'This page has expired. Enter the code again.';
      return out?.error_description ?? 'Something went wrong. Start the sign-in again from your terminal.';
  }
}

/**
 * Works around an oidc-provider 9 bug: when a device page request fails before its browser session
 * was ever stored (no session cookie, or the session expired: a stale /device/:uid link, a form left
 * open for an hour), the error handler writes xsrf state into that session and a later hook then
 * throws "persist can only be called on previously persisted Sessions", which Koa turns into a bare
 * 500. The rendered page would be useless anyway (its form's xsrf state was never saved), so answer
 * with an error page that links to a fresh code entry page instead.
 */
function recoverUnsavedSession(provider: Provider): void {
  provider.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const route = ctx.oidc?.route;
      if (!(err instanceof TypeError && /previously persisted Sessions/.test(err.message))) throw err;
      if (route !== 'code_verification' && route !== 'device_resume') throw err;
      const message = ctx.state[INPUT_MESSAGE];
      ctx.status = 400;
      ctx.type = 'html';
      setPageHeaders(ctx);
      ctx.body = errorPage(
        'invalid_request',
        typeof message === 'string' ? message : 'This page has expired.',
        ctx.oidc.urlFor('code_verification'),
      );
    }
  });
}

/**
 * RFC 8628 lets the server say how often to poll; oidc-provider leaves `interval` out (clients then
 * use 5 s) and never answers `slow_down`, so this only advertises a value.
 */
function advertisePollInterval(provider: Provider, seconds: number): void {
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route !== 'device_authorization' || ctx.status !== 200) return;
    const body = ctx.body;
    if (body && typeof body === 'object' && 'device_code' in body) Object.assign(body, { interval: seconds });
  });
}

const MAX_FORM_BYTES = 16 * 1024;

/**
 * Serves /interaction/:uid, the pages oidc-provider sends the browser to when it needs the user:
 * a username/password login, and consent, which is granted automatically because every client of
 * this IdP is hoop's own and asks only for the scopes and the one resource configured here.
 */
function interactionHandler(provider: Provider, users: readonly BuiltinIdpUser[]) {
  const byUsername = new Map(users.map((u) => [u.username, u]));
  const xsrfKey = randomBytes(32);
  // The login and cancel forms are bound to their interaction; the interaction cookie is SameSite=Lax
  // already, this also stops a same-site page from posting them.
  const xsrfFor = (uid: string): string => createHmac('sha256', xsrfKey).update(uid).digest('base64url');

  return async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    try {
      const match = /^\/interaction\/([\w-]+)(?:\/(login|abort))?$/.exec(path);
      if (!match) return sendPage(res, 404, errorPage('not_found', 'There is no such page.'));
      const [, uid = '', action] = match;
      const expected = action ? 'POST' : 'GET';
      if (req.method !== expected) {
        res.setHeader('allow', expected);
        return sendPage(res, 405, errorPage('method_not_allowed', `Use ${expected} here.`));
      }

      let interaction: Interaction;
      try {
        interaction = await provider.interactionDetails(req, res);
      } catch (err) {
        // Usually the interaction cookie is missing (another browser) or the interaction expired.
        const e = err as { error?: string };
        return sendPage(res, 400, errorPage(
          e.error ?? 'invalid_request',
          'This sign-in request has expired or was started in another browser.',
        ));
      }
      if (interaction.uid !== uid) {
        return sendPage(res, 400, errorPage('invalid_request', 'This page belongs to another sign-in request.'));
      }
      const clientName = String(interaction.params['client_id'] ?? 'hoop');
      const xsrf = xsrfFor(uid);
      const login = (status: number, username?: string, error?: string): void =>
        sendPage(res, status, loginPage({
          action: `/interaction/${uid}/login`,
          abortAction: `/interaction/${uid}/abort`,
          xsrf,
          clientName,
          ...(username !== undefined ? { username } : {}),
          ...(error !== undefined ? { error } : {}),
        }));

      if (action === undefined) {
        if (interaction.prompt.name === 'login') return login(200);
        if (interaction.prompt.name === 'consent') return await grantConsent(provider, req, res, interaction);
        return sendPage(res, 501, errorPage('unsupported_prompt', `Cannot handle the "${interaction.prompt.name}" step.`));
      }

      const form = await readForm(req);
      if (!safeEqual(form.get('xsrf') ?? '', xsrf)) {
        return sendPage(res, 403, errorPage('invalid_request', 'The form expired. Start the sign-in again from your terminal.'));
      }
      if (action === 'abort') {
        return await provider.interactionFinished(req, res, {
          error: 'access_denied',
          error_description: 'End-User aborted interaction',
        }, { mergeWithLastSubmission: false });
      }
      if (interaction.prompt.name !== 'login') {
        return sendPage(res, 400, errorPage('invalid_request', 'This sign-in step is already done.'));
      }
      const username = form.get('username') ?? '';
      const user = byUsername.get(username);
      // Compare against something even for unknown users so timing does not reveal which exist.
      const passwordOk = safeEqual(form.get('password') ?? '', user?.password ?? randomBytes(16).toString('hex'));
      if (!user || !passwordOk) return login(401, username, 'Invalid username or password.');
      await provider.interactionFinished(req, res, {
        // Not remembered: the browser session ends with the browser, the CLI's tokens do not.
        login: { accountId: user.id, remember: false },
      }, { mergeWithLastSubmission: false });
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const message = err instanceof Error ? err.message : String(err);
      sendPage(res, 500, errorPage('server_error', message));
    }
  };
}

async function grantConsent(provider: Provider, req: IncomingMessage, res: ServerResponse, interaction: Interaction): Promise<void> {
  const accountId = interaction.session?.accountId;
  const clientId = interaction.params['client_id'];
  if (!accountId || typeof clientId !== 'string') {
    return sendPage(res, 400, errorPage('invalid_request', 'Sign in first.'));
  }
  const grant = (interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined)
    ?? new provider.Grant({ accountId, clientId });
  const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = interaction.prompt.details;
  if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
  if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
  for (const [resource, scopes] of Object.entries(missingResourceScopes ?? {})) {
    grant.addResourceScope(resource, scopes.join(' '));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

function safeEqual(a: string, b: string): boolean {
  // Hashing first gives equal lengths, which timingSafeEqual requires.
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = req.headers['content-type'] ?? '';
  if (!type.toLowerCase().startsWith('application/x-www-form-urlencoded')) return new URLSearchParams();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function sendPage(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { ...PAGE_HEADERS, 'content-type': 'text/html; charset=utf-8' });
  res.end(html);
}
