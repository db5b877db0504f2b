import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cliSettings } from './settings.js';

/** What `hoop login` (or `hoop demo`) leaves behind for later commands. */
export interface StoredLogin {
  readonly gateway: string;
  /** How the token was obtained, which decides how it is renewed. */
  readonly method: 'device' | 'client-credentials' | 'service-account';
  readonly accessToken: string;
  readonly refreshToken?: string;
  readonly idToken?: string;
  /** Access-token expiry, ms since the epoch; absent for tokens that do not expire (service accounts). */
  readonly expiresAt?: number;
  /** When the access token was obtained, ms since the epoch. */
  readonly obtainedAt?: number;
  readonly issuer?: string;
  readonly clientId?: string;
  readonly audience?: string;
}

/** Where tokens are kept. The OS keychain when one answers; otherwise a 0600 file. */
export interface CredentialStore {
  /** Human description: "the OS keychain" or the file path. */
  readonly where: string;
  readonly kind: 'keychain' | 'file';
  load(): Promise<StoredLogin | undefined>;
  save(login: StoredLogin): Promise<void>;
  remove(): Promise<void>;
}

const SERVICE = 'hoop';
const ACCOUNT = 'login';

export function credentialsFile(): string {
  return join(dirname(cliSettings().path), 'credentials.json');
}

class FileCredentialStore implements CredentialStore {
  readonly kind = 'file' as const;
  constructor(readonly where: string) {}

  async load(): Promise<StoredLogin | undefined> {
    if (!existsSync(this.where)) return undefined;
    try {
      return JSON.parse(readFileSync(this.where, 'utf8')) as StoredLogin;
    } catch {
      return undefined;
    }
  }

  async save(login: StoredLogin): Promise<void> {
    mkdirSync(dirname(this.where), { recursive: true, mode: 0o700 });
    // Written under a temporary name with mode 0600 from the first byte, then renamed: never readable by others, never half-written.
    const tmp = `${this.where}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(login), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.where);
  }

  async remove(): Promise<void> {
    rmSync(this.where, { force: true });
  }
}

class KeychainCredentialStore implements CredentialStore {
  readonly kind = 'keychain' as const;
  readonly where = 'the OS keychain';
  constructor(private readonly entry: import('@napi-rs/keyring').AsyncEntry) {}

  async load(): Promise<StoredLogin | undefined> {
    const text = await this.entry.getPassword();
    return text ? (JSON.parse(text) as StoredLogin) : undefined;
  }

  async save(login: StoredLogin): Promise<void> {
    await this.entry.setPassword(JSON.stringify(login));
  }

  async remove(): Promise<void> {
    await this.entry.deleteCredential().catch(() => false);
  }
}

async function keychain(): Promise<KeychainCredentialStore | undefined> {
  if (process.env.HOOP_KEYCHAIN === 'off') return undefined;
  try {
    const { AsyncEntry } = await import('@napi-rs/keyring');
    // A separate config dir (tests, several profiles) gets its own keychain entry too.
    const service = process.env.HOOP_CONFIG_DIR ? `${SERVICE}:${process.env.HOOP_CONFIG_DIR}` : SERVICE;
    return new KeychainCredentialStore(new AsyncEntry(service, ACCOUNT));
  } catch {
    return undefined;
  }
}

/**
 * Saves to the OS keychain when it accepts the write (and gives it back), else to a 0600 file.
 * A keychain that answers reads may still refuse writes (no secret service, a locked keyring),
 * so only a successful round trip counts. `HOOP_KEYCHAIN=off` forces the file.
 */
export async function saveLogin(login: StoredLogin): Promise<CredentialStore> {
  const file = new FileCredentialStore(credentialsFile());
  const kc = await keychain();
  if (kc) {
    try {
      await withTimeout(kc.save(login), 3000);
      const back = await withTimeout(kc.load(), 3000);
      if (back?.accessToken === login.accessToken) {
        await file.remove();
        return kc;
      }
    } catch {
      // fall through to the file
    }
  }
  await file.save(login);
  return file;
}

/** The saved login, from the keychain or the file, and where it was. */
export async function loadLogin(): Promise<{ login: StoredLogin; store: CredentialStore } | undefined> {
  const kc = await keychain();
  if (kc) {
    const found = await withTimeout(kc.load(), 3000).catch(() => undefined);
    if (found) return { login: found, store: kc };
  }
  const file = new FileCredentialStore(credentialsFile());
  const f = await file.load();
  return f ? { login: f, store: file } : undefined;
}

/** Removes the login from both places. */
export async function removeLogin(): Promise<void> {
  const kc = await keychain();
  if (kc) await withTimeout(kc.remove(), 3000).catch(() => {});
  await new FileCredentialStore(credentialsFile()).remove();
}

/**
 * Runs `fn` holding a lock shared by every hoop process of this user: refresh tokens rotate, and
 * two processes renewing with the same one would make the identity provider revoke the login.
 * A lock older than 30 s is taken to be left over from a crash.
 */
export async function withCredentialsLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = `${credentialsFile()}.lock`;
  mkdirSync(dirname(lock), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      try {
        if (Date.now() - statSync(lock).mtimeMs > 30_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        // gone already
      }
      if (Date.now() > deadline) throw new Error(`credentials are locked by another hoop process (${lock})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('keychain did not answer')), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
