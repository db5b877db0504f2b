import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/schema.js';
import { ConfigError, HoopError, UsageError } from '../errors.js';
import { sha256Hex } from './canonical.js';

export const PRIVATE_KEY_FILE = 'hoop-audit.key';
export const PUBLIC_KEY_FILE = 'hoop-audit.pub';

/** Signs checkpoints and export manifests. */
export interface AuditSigner {
  /** sha256 of the raw 32-byte Ed25519 public key, lower-case hex. */
  readonly fingerprint: string;
  readonly publicKey: KeyObject;
  readonly publicKeyPem: string;
  /** Ed25519 signature, base64. */
  sign(data: Buffer): string;
}

/** Public keys a verifier trusts, by fingerprint. */
export type TrustedKeys = ReadonlyMap<string, KeyObject>;

/**
 * The fingerprint is taken over the raw public key (not its PEM or DER wrapping), so it is the
 * same whichever encoding a tool prints: `openssl pkey -pubin -outform DER | tail -c 32 | sha256sum`.
 */
export function keyFingerprint(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new HoopError('HOOP_AUDIT_KEY', 'not an Ed25519 public key');
  return sha256Hex(Buffer.from(jwk.x, 'base64url'));
}

export function signerFromPrivateKey(privateKey: KeyObject): AuditSigner {
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new ConfigError(`the audit signing key is ${privateKey.asymmetricKeyType ?? 'not an asymmetric key'}, not Ed25519`, 'create one with: hoop audit keygen --out DIR');
  }
  const publicKey = createPublicKey(privateKey);
  return {
    fingerprint: keyFingerprint(publicKey),
    publicKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    sign: (data) => sign(null, data, privateKey).toString('base64'),
  };
}

export function verifySignature(publicKey: KeyObject, data: Buffer, signature: string): boolean {
  try {
    return verify(null, data, publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

function isPem(value: string): boolean {
  return value.trimStart().startsWith('-----BEGIN');
}

function readKeyText(value: string, where: string): string {
  if (isPem(value)) return value;
  try {
    return readFileSync(value, 'utf8');
  } catch (err) {
    throw new ConfigError(`${where}: cannot read ${value}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** A private key from PEM text or a file holding it. */
export function parsePrivateKey(value: string, where: string): KeyObject {
  const text = readKeyText(value, where);
  try {
    return createPrivateKey(text);
  } catch (err) {
    throw new ConfigError(`${where}: not a PEM private key (${(err as Error).message})`, 'create one with: hoop audit keygen --out DIR');
  }
}

/** A public key from PEM text or a file; a private key is accepted too (its public half is used). */
export function parsePublicKey(value: string, where: string): KeyObject {
  const text = readKeyText(value, where);
  let key: KeyObject;
  try {
    key = /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text) ? createPublicKey(createPrivateKey(text)) : createPublicKey(text);
  } catch (err) {
    throw new UsageError(`${where}: not a PEM public key (${(err as Error).message})`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new UsageError(`${where}: an ${key.asymmetricKeyType ?? 'unknown'} key, not Ed25519`);
  return key;
}

export function trustedKeys(keys: readonly KeyObject[]): TrustedKeys {
  return new Map(keys.map((k) => [keyFingerprint(k), k]));
}

/**
 * Writes a new key pair into `dir`: the private key readable by the owner only (0600), the public
 * key as PEM for verifiers. Never overwrites a key: losing one makes its checkpoints unverifiable.
 */
export function writeKeyFiles(dir: string): { privatePath: string; publicPath: string; fingerprint: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const privatePath = join(dir, PRIVATE_KEY_FILE);
  const publicPath = join(dir, PUBLIC_KEY_FILE);
  try {
    writeFileSync(privatePath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new UsageError(`${privatePath} already exists`, 'keep it (its checkpoints need it to verify), or choose another --out');
    }
    throw err;
  }
  writeFileSync(publicPath, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
  return { privatePath, publicPath, fingerprint: keyFingerprint(publicKey) };
}

/** The SQLite file behind a `store:` URL, or null for stores without a folder of their own. */
function storeFile(store: string): string | null {
  if (!store.startsWith('sqlite:')) return null;
  const file = store.slice('sqlite:'.length);
  return file === ':memory:' ? null : file;
}

/** Where a gateway without `audit.signingKey` keeps its generated key: beside the store. */
export function defaultKeyDir(config: GatewayConfig): string | null {
  const file = storeFile(config.store);
  return file === null ? null : dirname(file);
}

/**
 * The gateway's signing key: the configured one, else the one generated beside the store on the
 * first start (so every later start, and `hoop audit export`, signs with the same key).
 */
export function gatewaySigner(config: GatewayConfig, log: Logger): AuditSigner {
  if (config.audit.signingKey) return signerFromPrivateKey(parsePrivateKey(config.audit.signingKey, 'audit.signingKey'));
  const dir = defaultKeyDir(config);
  if (dir === null) {
    const { privateKey } = generateKeyPairSync('ed25519');
    const signer = signerFromPrivateKey(privateKey);
    log.warn({ keyFingerprint: signer.fingerprint }, 'audit: the store has no folder, so checkpoints are signed with a key that lives only in memory; set audit.signingKey');
    return signer;
  }
  const path = join(dir, PRIVATE_KEY_FILE);
  if (existsSync(path)) return signerFromPrivateKey(parsePrivateKey(path, path));
  let written: ReturnType<typeof writeKeyFiles>;
  try {
    written = writeKeyFiles(dir);
  } catch (err) {
    // Another replica sharing this store folder generated it first: use theirs.
    if (existsSync(path)) return signerFromPrivateKey(parsePrivateKey(path, path));
    throw err;
  }
  log.warn(
    { keyFingerprint: written.fingerprint, privateKey: written.privatePath, publicKey: written.publicPath },
    'audit: generated a checkpoint signing key; give auditors the public key and its fingerprint, and back up the private key',
  );
  return signerFromPrivateKey(parsePrivateKey(path, path));
}

/**
 * Resolves `${env:…}`/`${file:…}` in one config value, as the config loader does. The audit
 * commands load the config without resolving secrets (they must run where backend passwords are
 * not available) and resolve only the key they need.
 */
export function resolveReference(value: string, baseDir: string): string {
  return value.replace(/\$\{(env|file):([^}]+)\}/g, (_m, kind: string, ref: string) => {
    const name = ref.trim();
    if (kind === 'env') {
      const v = process.env[name];
      if (v === undefined) throw new ConfigError(`audit.signingKey: environment variable ${name} is not set`);
      return v;
    }
    const path = isAbsolute(name) ? name : resolve(baseDir, name);
    try {
      return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new ConfigError(`audit.signingKey: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  });
}

/** The signer for a config loaded without secrets (`hoop audit export`). */
export function signerFromConfig(config: GatewayConfig, configDir: string): AuditSigner {
  if (config.audit.signingKey) return signerFromPrivateKey(parsePrivateKey(resolveReference(config.audit.signingKey, configDir), 'audit.signingKey'));
  const dir = defaultKeyDir(config);
  const path = dir === null ? null : join(dir, PRIVATE_KEY_FILE);
  if (path === null || !existsSync(path)) {
    throw new UsageError('no audit signing key: audit.signingKey is not set and the gateway has not generated one beside the store', 'start the gateway once, or set audit.signingKey (hoop audit keygen)');
  }
  return signerFromPrivateKey(parsePrivateKey(path, path));
}

/** The public key a config's gateway signs with, for verifying its store. */
export function publicKeyFromConfig(config: GatewayConfig, configDir: string): { key: KeyObject; source: string } {
  if (config.audit.signingKey) {
    const value = resolveReference(config.audit.signingKey, configDir);
    return { key: parsePublicKey(value, 'audit.signingKey'), source: isPem(value) ? 'audit.signingKey' : value };
  }
  const dir = defaultKeyDir(config);
  for (const file of [PUBLIC_KEY_FILE, PRIVATE_KEY_FILE]) {
    const path = dir === null ? null : join(dir, file);
    if (path !== null && existsSync(path)) return { key: parsePublicKey(path, path), source: path };
  }
  throw new UsageError('no audit key to verify with: audit.signingKey is not set and there is none beside the store', 'pass --public-key FILE');
}
