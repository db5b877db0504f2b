import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { ZodError } from 'zod';
import { ConfigError } from '../errors.js';
import { type Policy, policySchema } from '../policy/policy.js';
import { configSchema, type GatewayConfig } from './schema.js';

export interface LoadedConfig {
  readonly path: string;
  readonly config: GatewayConfig;
}

/**
 * Secrets are referenced, never written inline: `${env:NAME}` reads an environment variable and
 * `${file:PATH}` a file (relative paths are taken from the config file's folder, one trailing
 * newline is dropped). Substitution runs on parsed string values, so a secret containing YAML
 * syntax cannot change the document's structure.
 */
const REFERENCE = /\$\{(env|file):([^}]+)\}/g;

function substitute(value: string, where: string, baseDir: string, resolveSecrets: boolean): string {
  if (!resolveSecrets) return value;
  return value.replace(REFERENCE, (_m, kind: string, ref: string) => {
    const name = ref.trim();
    if (kind === 'env') {
      const v = process.env[name];
      if (v === undefined) {
        throw new ConfigError(`${where}: environment variable ${name} is not set`, `export ${name}=… before starting, or edit the value`);
      }
      return v;
    }
    const path = isAbsolute(name) ? name : resolve(baseDir, name);
    try {
      return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new ConfigError(`${where}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  });
}

function walk(node: unknown, path: string, baseDir: string, resolveSecrets: boolean): unknown {
  if (typeof node === 'string') return substitute(node, path || '(root)', baseDir, resolveSecrets);
  if (Array.isArray(node)) return node.map((v, i) => walk(v, `${path}[${i}]`, baseDir, resolveSecrets));
  if (node && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) out[k] = walk(v, path ? `${path}.${k}` : k, baseDir, resolveSecrets);
    return out;
  }
  return node;
}

export function formatZodError(source: string, err: ZodError): string {
  return err.issues
    .map((issue) => {
      const path = issue.path
        .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
        .join('');
      return `${source}: ${path || '(root)'}: ${issue.message}`;
    })
    .join('\n');
}

export interface LoadOptions {
  /**
   * Resolve `${env:…}`/`${file:…}` references (default). Tools that only need the store (the admin
   * commands) pass false, so they run where the backend secrets are not available.
   */
  readonly resolveSecrets?: boolean;
}

/** Parses and validates a config document; `source` names it in error messages. */
export function parseConfig(text: string, source: string, baseDir: string, opts: LoadOptions = {}): GatewayConfig {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(`${source}: not valid YAML: ${doc.errors[0]!.message}`);
  }
  const raw = walk(doc.toJS() ?? {}, '', baseDir, opts.resolveSecrets ?? true);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(formatZodError(source, parsed.error), 'see docs/configuration.md for the format');
  }
  const config = parsed.data;
  const seen = new Set<string>();
  config.connections.forEach((c, i) => {
    if (seen.has(c.name)) throw new ConfigError(`${source}: connections[${i}].name: "${c.name}" is used twice`);
    seen.add(c.name);
  });
  if (config.policy && 'file' in config.policy) {
    config.policy = loadPolicyFile(isAbsolute(config.policy.file) ? config.policy.file : resolve(baseDir, config.policy.file));
  }
  if (config.store.startsWith('sqlite:')) {
    const file = config.store.slice('sqlite:'.length);
    config.store = `sqlite:${file === ':memory:' || isAbsolute(file) ? file : resolve(baseDir, file)}`;
  }
  return config;
}

/** Reads and validates a policy file (what `policy: { file: … }` names, and `hoop policy check`). */
export function loadPolicyFile(path: string): Policy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read policy ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) throw new ConfigError(`${path}: not valid YAML: ${doc.errors[0]!.message}`);
  const raw = (doc.toJS() ?? {}) as Record<string, unknown>;
  // A policy file may hold the rules at the top level or under `policy:`.
  const parsed = policySchema.safeParse('policy' in raw ? raw.policy : raw);
  if (!parsed.success) throw new ConfigError(formatZodError(path, parsed.error), 'see docs/policy.md for the format');
  return parsed.data;
}

export function loadConfig(path: string, opts: LoadOptions = {}): LoadedConfig {
  const full = resolve(path);
  let text: string;
  try {
    text = readFileSync(full, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config ${full}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 'pass --config PATH to a hoop.yaml');
  }
  return { path: full, config: parseConfig(text, path, dirname(full), opts) };
}
