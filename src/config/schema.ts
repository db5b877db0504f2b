import { z } from 'zod';
import { maskingSchema } from '../mask/config.js';
import { parseDuration, policySchema } from '../policy/policy.js';

/** `host:port`; a bare port means 127.0.0.1. */
const listenAddress = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$|^\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:8009');

const connectionName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'connection names use lower-case letters, digits, "-", "_" and "." (max 63)');

/** What `pool:` means for the numbers it leaves out (and `pool: true`, or no `pool:` at all). */
export const POOL_DEFAULTS = { maxIdle: 10, maxIdleTotal: 20, idleTimeoutMs: 60_000 } as const;

export const postgresConnectionSchema = z
  .object({
    name: connectionName,
    type: z.literal('postgres'),
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(5432),
    database: z.string().min(1),
    user: z.string().min(1),
    password: z.string().optional(),
    tls: z.enum(['disable', 'require', 'verify-full']).default('disable'),
    /** PEM CA bundle for `verify-full` (use `${file:…}`). Without it the system roots are used. */
    ca: z.string().optional(),
    /** Largest protocol message accepted from either side, in bytes. */
    maxMessageBytes: z.number().int().min(1024).max(1024 * 1024 * 1024).optional(),
    /** Masking for this connection, replacing the gateway-wide `masking:` (e.g. `{ enabled: false }`). */
    masking: maskingSchema.optional(),
    /** Session pooling of backend connections (on unless `false` or `{ enabled: false }`). */
    pool: z
      .union([
        z.boolean(),
        z
          .object({
            enabled: z.boolean().default(true),
            /** Idle connections kept per distinct session (same startup parameters). */
            maxIdle: z.number().int().min(1).max(1000).default(POOL_DEFAULTS.maxIdle),
            /** Idle connections kept for this connection over all distinct sessions. */
            maxIdleTotal: z.number().int().min(1).max(10000).default(POOL_DEFAULTS.maxIdleTotal),
            /** An idle connection unused this long is closed. */
            idleTimeoutMs: z.number().int().min(100).max(24 * 3600 * 1000).default(POOL_DEFAULTS.idleTimeoutMs),
          })
          .strict(),
      ])
      .optional(),
  })
  .strict();

/** Names of environment variables a client may pass to the host (`SendEnv`), as globs. */
const envAllowList = z.array(z.string().regex(/^[A-Za-z_*?][A-Za-z0-9_*?]*$/, 'expected a variable name or glob like LC_*'));

/** Fields every SSH-speaking backend has: where it is, who we log in as, and the key we pin. */
const sshBackendFields = {
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(22),
  /** Private key the gateway logs in with (OpenSSH or PEM text: use `${file:…}` or `${env:…}`). Clients never see it. */
  privateKey: z.string().min(1),
  passphrase: z.string().optional(),
  /**
   * The backend's host key, as `ssh-ed25519 AAAA…` (one or more lines), or the text of a
   * known_hosts file (`${file:/etc/hoop/known_hosts}`). One of the two is required: an unknown or
   * changed host key fails closed.
   */
  hostKey: z.string().min(1).optional(),
  knownHosts: z.string().min(1).optional(),
  /** Seconds to wait for the backend's SSH handshake. */
  connectTimeoutSeconds: z.number().int().min(1).max(300).default(20),
  /** Masking of what is recorded (output, typed input), replacing the gateway-wide `masking:`. */
  masking: maskingSchema.optional(),
} as const;

function requirePinnedHostKey(c: { hostKey?: string | undefined; knownHosts?: string | undefined }, ctx: z.RefinementCtx): void {
  if (!c.hostKey && !c.knownHosts) {
    ctx.addIssue({
      code: 'custom',
      path: ['hostKey'],
      message: 'pin the backend: set hostKey (e.g. the output of `ssh-keyscan -t ed25519 HOST`) or knownHosts: ${file:…/known_hosts}',
    });
  }
}

export const sshConnectionSchema = z
  .object({
    name: connectionName,
    type: z.literal('ssh'),
    ...sshBackendFields,
    user: z.string().min(1),
    /** Variables a client may set on the host; everything else is refused (and recorded). */
    env: envAllowList.default(['LANG', 'LC_*', 'TZ']),
    /** Bytes of each exec's stdout and of its stderr kept in its record (masked). */
    execOutputBytes: z.number().int().min(0).max(16 * 1024 * 1024).default(64 * 1024),
  })
  .strict()
  .superRefine(requirePinnedHostKey);

export const gitConnectionSchema = z
  .object({
    name: connectionName,
    type: z.literal('git'),
    ...sshBackendFields,
    user: z.string().min(1).default('git'),
    /** The repository on the server, as its SSH path (`/srv/git/app.git`, `org/app.git`). Every client path maps onto it. */
    repository: z.string().min(1),
    env: envAllowList.default(['GIT_PROTOCOL']),
  })
  .strict()
  .superRefine(requirePinnedHostKey);

export const connectionSchema = z.discriminatedUnion('type', [postgresConnectionSchema, sshConnectionSchema, gitConnectionSchema]);

export const configSchema = z
  .object({
    listen: listenAddress.default('127.0.0.1:8009'),
    /** Serve HTTPS. Without it, the gateway only listens on loopback. */
    tls: z.object({ cert: z.string().min(1), key: z.string().min(1) }).strict().optional(),
    store: z
      .string()
      .regex(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, 'expected sqlite:PATH (or postgres://… once the shared store lands)')
      .default('sqlite:./hoop-data/hoop.db'),
    connections: z.array(connectionSchema).default([]),
    /** Extra protocol-native ports for clients that cannot run the CLI. */
    listeners: z
      .object({
        /** PostgreSQL port: user = identity hint, database = connection name, password = a hoop token. */
        postgres: listenAddress.optional(),
      })
      .strict()
      .default({}),
    auth: z
      .object({
        /** Members of these groups may read every session's records (others see their own). */
        adminGroups: z.array(z.string()).default(['admins']),
        /** The organisation's identity provider: bearer JWTs from it are accepted beside service-account tokens. */
        oidc: z
          .object({
            issuer: z.url(),
            /** Public client the CLI uses for the device flow. */
            clientId: z.string().min(1),
            /** Required in the access token's `aud`. */
            audience: z.string().min(1),
            groupsClaim: z.string().min(1).default('groups'),
            /** Allowed clock difference with the identity provider when checking exp/nbf. */
            clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({ adminGroups: ['admins'] }),
    /**
     * Statement policy: inline `rules:`, or `file:` naming a policy file (relative to this config).
     * Without it the built-in default applies (reads allowed, changes reviewed, administration denied).
     */
    policy: z.union([policySchema, z.object({ file: z.string().min(1) }).strict()]).optional(),
    /** Inline masking of results, errors and records; on by default with the built-in detectors (docs/masking.md). */
    masking: maskingSchema.prefault({}),
    /** HMAC key for `hash` masking tokens (a secret reference); generated beside the store when absent. */
    maskingKey: z.string().min(1).optional(),
    approvals: z
      .object({
        /** How often each gateway looks at the store's approval feed. */
        pollMs: z.number().int().min(20).max(5000).default(200),
      })
      .strict()
      .default({ pollMs: 200 }),
    recording: z
      .object({
        /**
         * Largest batch written in one store transaction. SQLite commits on the event loop, so
         * this bounds how long one commit holds every session (64 events: ~0.5 ms here); the
         * recorder lets socket I/O run between batches.
         */
        batchSize: z.number().int().min(1).max(10000).default(64),
        /** Rows of each result kept in the statement's record (masked), for replay; 0 keeps none. */
        resultRows: z.number().int().min(0).max(10000).default(100),
        /** How long an event may wait before its batch is written. */
        flushIntervalMs: z.number().int().min(1).max(10000).default(50),
        /**
         * `batched`: events are written in batches off the relay's path, and a statement's
         * ReadyForQuery waits for its batch (group commit): a crash never loses what a client saw
         * acknowledged. `async`: batches without that wait (faster; a crash may lose the last
         * batch). `strict`: each event is committed and fsynced before the relay goes on.
         */
        mode: z.enum(['batched', 'async', 'strict']).default('batched'),
      })
      .strict()
      .default({ batchSize: 64, resultRows: 100, flushIntervalMs: 50, mode: 'batched' }),
    /** The tamper-evident trail: hash-chained events and signed checkpoints (docs/audit.md). */
    audit: z
      .object({
        /**
         * Ed25519 private key (PEM) that signs checkpoints and exports: `${file:…}`, or an absolute
         * path. Without it the gateway generates one beside the store on its first start.
         */
        signingKey: z
          .string()
          .min(1)
          .refine((v) => v.trimStart().startsWith('-----BEGIN') || v.startsWith('/') || v.includes('${'), 'expected a PEM key, ${file:…} or an absolute path')
          .optional(),
        /** Sign a checkpoint at least every this many events… */
        checkpointEvery: z.number().int().min(1).max(1_000_000).default(1000),
        /** …and at least this often while new events arrive. */
        checkpointIntervalMs: z.number().int().min(100).max(3_600_000).default(5000),
        /**
         * Keep events this long (`400d`, `12h`…); older ones are pruned at start and hourly, behind a
         * signed retention checkpoint so the rest still verifies. Without it nothing is pruned.
         */
        retention: z
          .string()
          .refine((v) => {
            try {
              return parseDuration(v) > 0;
            } catch {
              return false;
            }
          }, 'expected a duration like 400d, 90d or 12h')
          .optional(),
      })
      .strict()
      .default({ checkpointEvery: 1000, checkpointIntervalMs: 5000 }),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .default({ level: 'info' }),
  })
  .strict();

export type GatewayConfig = z.infer<typeof configSchema>;
export type ConnectionConfig = z.infer<typeof connectionSchema>;
export type PostgresConnectionConfig = z.infer<typeof postgresConnectionSchema>;
export type SshConnectionConfig = z.infer<typeof sshConnectionSchema>;
export type GitConnectionConfig = z.infer<typeof gitConnectionSchema>;
