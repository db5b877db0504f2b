import { createHash, createHmac } from 'node:crypto';
import ssh2 from 'ssh2';
import { ConfigError, HoopError } from '../../errors.js';
import { globMatch } from '../../policy/policy.js';
import type { Store } from '../../store/store.js';

/** The gateway's own SSH host key: what `hoop connect` pins in the client's known_hosts. */
export interface GatewayHostKey {
  /** OpenSSH private key text; stays in the store and the gateway's memory. */
  readonly privateKey: string;
  /** `ssh-ed25519 AAAA…`: safe to hand to any client. */
  readonly publicKey: string;
  /** `SHA256:…`, as `ssh-keygen -l` prints it. */
  readonly fingerprint: string;
}

const GATEWAY_HOST_KEY = 'ssh-host-key-ed25519';

/** Loads the host key from the store, generating it on the gateway's first start. */
export async function gatewayHostKey(store: Store): Promise<GatewayHostKey> {
  const stored = await store.gatewayKey(GATEWAY_HOST_KEY, () => ssh2.utils.generateKeyPairSync('ed25519').private);
  const parsed = ssh2.utils.parseKey(stored);
  if (parsed instanceof Error) throw new HoopError('HOOP_HOST_KEY', `the stored SSH host key cannot be read: ${parsed.message}`);
  const key = Array.isArray(parsed) ? parsed[0]! : parsed;
  const blob = key.getPublicSSH();
  return { privateKey: stored, publicKey: `${key.type} ${blob.toString('base64')}`, fingerprint: fingerprint(blob) };
}

/** OpenSSH's `SHA256:` fingerprint of a public key blob. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** A backend host key the configuration pins. */
export interface PinnedKey {
  /** Key type as it appears in the blob (`ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`…). */
  readonly type: string;
  readonly blob: Buffer;
}

/** Host key algorithms that present a key of each type: the handshake must ask only for pinned types. */
const ALGORITHMS_BY_KEY_TYPE: Readonly<Record<string, readonly string[]>> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
};

/** Host key algorithms to offer so the backend presents one of the pinned keys (not another it also has). */
export function hostKeyAlgorithms(keys: readonly PinnedKey[]): string[] {
  const out: string[] = [];
  for (const k of keys) for (const a of ALGORITHMS_BY_KEY_TYPE[k.type] ?? []) if (!out.includes(a)) out.push(a);
  return out;
}

function parseKeyField(type: string, base64: string, where: string): PinnedKey {
  const blob = Buffer.from(base64, 'base64');
  // The blob starts with its own type name: a key pasted under the wrong type is caught here.
  const nameLength = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  const inner = nameLength > 0 && nameLength + 4 <= blob.length ? blob.subarray(4, 4 + nameLength).toString('latin1') : '';
  if (inner !== type) throw new ConfigError(`${where}: "${type} ${base64.slice(0, 16)}…" is not a valid ${type} public key`);
  if (!ALGORITHMS_BY_KEY_TYPE[type]) throw new ConfigError(`${where}: host key type ${type} is not supported`, `use one of ${Object.keys(ALGORITHMS_BY_KEY_TYPE).join(', ')}`);
  return { type, blob };
}

/** `host`, `[host]:port` and hashed (`|1|salt|hmac`) known_hosts patterns. */
function hostPatternMatches(pattern: string, host: string, port: number): boolean {
  const name = port === 22 ? host : `[${host}]:${port}`;
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  let matched = false;
  for (const p of pattern.split(',')) {
    const negated = p.startsWith('!');
    const glob = negated ? p.slice(1) : p;
    // Host names compare without case.
    if (globMatch(glob.toLowerCase(), name.toLowerCase())) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/**
 * The keys a connection pins: its `hostKey` lines, and the known_hosts lines naming its host and
 * port. None at all is a configuration error, never "accept anything".
 */
export function pinnedKeys(connection: { name: string; host: string; port: number; hostKey?: string | undefined; knownHosts?: string | undefined }): PinnedKey[] {
  const where = `connections[${connection.name}]`;
  const keys: PinnedKey[] = [];
  for (const line of (connection.hostKey ?? '').split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (!fields[0] || fields[0].startsWith('#')) continue;
    // Accept `ssh-keyscan` output too: "host type base64".
    const at = ALGORITHMS_BY_KEY_TYPE[fields[0]] || fields[0].startsWith('ssh-') || fields[0].startsWith('ecdsa-') ? 0 : 1;
    if (!fields[at + 1]) throw new ConfigError(`${where}.hostKey: expected "TYPE BASE64", e.g. ssh-ed25519 AAAA…`);
    keys.push(parseKeyField(fields[at]!, fields[at + 1]!, `${where}.hostKey`));
  }
  for (const line of (connection.knownHosts ?? '').split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (!fields[0] || fields[0].startsWith('#')) continue;
    // `@revoked` and `@cert-authority` lines are not pins; a revoked key must never match.
    if (fields[0].startsWith('@')) continue;
    if (fields.length < 3 || !hostPatternMatches(fields[0], connection.host, connection.port)) continue;
    keys.push(parseKeyField(fields[1]!, fields[2]!, `${where}.knownHosts`));
  }
  if (keys.length === 0) {
    throw new ConfigError(
      `${where}: no host key pinned for ${connection.host}:${connection.port}`,
      `add hostKey: (ssh-keyscan -p ${connection.port} -t ed25519 ${connection.host}) or a knownHosts: file that lists it`,
    );
  }
  return keys;
}

/** Thrown (and recorded) when the backend presents a key the configuration does not pin. */
export class HostKeyMismatchError extends HoopError {
  constructor(connection: string, address: string, presented: string, expected: readonly string[]) {
    super(
      'HOOP_SSH_HOST_KEY_MISMATCH',
      `the host key of ${connection} (${address}) is ${presented}, not the pinned ${expected.join(' or ')}: refusing to connect (it may be impersonated, or re-keyed)`,
      { hint: 'if the host was re-keyed on purpose, update hostKey/knownHosts for this connection in the gateway config' },
    );
  }
}
