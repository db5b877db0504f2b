import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { loadConfig } from '../config/load.js';
import type { GatewayConfig } from '../config/schema.js';
import { NotFoundError } from '../errors.js';
import type { Store } from '../store/store.js';
import { parsePublicKey, publicKeyFromConfig, trustedKeys, type TrustedKeys } from './keys.js';

export interface AuditStoreContext {
  readonly config: GatewayConfig;
  readonly configDir: string;
  readonly store: Store;
  /** The store file (or URL) for messages. */
  readonly storeName: string;
}

/**
 * Opens the store a gateway config names, for reading its trail. The config is loaded without
 * resolving secrets (backend passwords need not be available to an auditor); a missing store is an
 * error rather than a new empty one, which would verify as trivially intact.
 */
export async function openAuditStore(configPath: string): Promise<AuditStoreContext> {
  const { config, path } = loadConfig(configPath, { resolveSecrets: false });
  const storeName = config.store.startsWith('sqlite:') ? config.store.slice('sqlite:'.length) : config.store;
  if (config.store.startsWith('sqlite:') && storeName !== ':memory:' && !existsSync(storeName)) {
    throw new NotFoundError(`no store at ${storeName}`, 'check store: in the config; the gateway creates the store on its first start');
  }
  const { openStore } = await import('../store/open.js');
  return { config, configDir: dirname(path), store: openStore(config.store), storeName };
}

/** The keys a verification trusts: those given with --public-key, else the config's own. */
export function keysFor(options: Record<string, unknown>, ctx?: { config: GatewayConfig; configDir: string }): { keys: TrustedKeys; source: string } {
  const files = publicKeyFiles(options);
  if (files.length > 0) return { keys: trustedKeys(files.map((f) => parsePublicKey(f, f))), source: files.join(', ') };
  if (!ctx) return { keys: new Map<string, KeyObject>(), source: 'none' };
  const { key, source } = publicKeyFromConfig(ctx.config, ctx.configDir);
  return { keys: trustedKeys([key]), source };
}

function publicKeyFiles(options: Record<string, unknown>): string[] {
  const v = options.publicKey;
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}
