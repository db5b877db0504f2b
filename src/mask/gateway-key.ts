import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError } from '../errors.js';

const KEY_FILE = 'hoop-mask.key';

/**
 * The HMAC key behind `hash`-style tokens. It lives only in the gateway: configured
 * (`masking.key`, a `${file:…}` or `${env:…}` reference, at least 32 hex or base64 characters of
 * entropy), or generated once into the store's folder (mode 0600) so tokens stay stable across
 * restarts. Losing it changes every token; leaking it lets anyone test guesses against tokens.
 */
export function maskingKey(configured: string | undefined, storeDir: string | null, log: Logger): Buffer {
  if (configured) {
    const key = /^[0-9a-f]+$/i.test(configured) && configured.length % 2 === 0 ? Buffer.from(configured, 'hex') : Buffer.from(configured, 'utf8');
    if (key.length < 16) throw new ConfigError('masking.key: too short; use at least 16 bytes of random data (e.g. openssl rand -hex 32)');
    return key;
  }
  if (storeDir === null) return randomBytes(32);
  const path = join(storeDir, KEY_FILE);
  if (existsSync(path)) return Buffer.from(readFileSync(path, 'utf8').trim(), 'hex');
  const key = randomBytes(32);
  try {
    writeFileSync(path, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    log.warn({ path }, 'masking: generated the key for hash tokens; back it up, or tokens change');
    return key;
  } catch {
    // Another replica created it first.
    return Buffer.from(readFileSync(path, 'utf8').trim(), 'hex');
  }
}
