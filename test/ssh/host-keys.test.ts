import { createHmac, randomBytes } from 'node:crypto';
import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { fingerprint, hostKeyAlgorithms, pinnedKeys } from '../../src/protocols/ssh/host-keys.js';

const key = (type: 'ed25519' | 'ecdsa' = 'ed25519') =>
  (type === 'ecdsa' ? ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 }) : ssh2.utils.generateKeyPairSync('ed25519')).public.split(' ').slice(0, 2).join(' ');
const base = { name: 'web1', host: '10.0.0.5', port: 2222 };

function hashedHost(name: string): string {
  const salt = randomBytes(20);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

describe('pinned backend host keys', () => {
  it('reads hostKey lines, with or without the ssh-keyscan host field', () => {
    const a = key();
    const b = key('ecdsa');
    const keys = pinnedKeys({ ...base, hostKey: `${a}\n[10.0.0.5]:2222 ${b}\n# comment\n` });
    expect(keys.map((k) => k.type)).toEqual(['ssh-ed25519', 'ecdsa-sha2-nistp256']);
    expect(hostKeyAlgorithms(keys)).toEqual(['ssh-ed25519', 'ecdsa-sha2-nistp256']);
    expect(fingerprint(keys[0]!.blob)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it('takes from known_hosts only the lines naming this host and port, hashed or not, never @revoked', () => {
    const mine = key();
    const hashed = key();
    const other = key();
    const revoked = key();
    const knownHosts = [
      `10.0.0.5 ${other}`, // port 22, not ours
      `[10.0.0.5]:2222,web1.internal ${mine}`,
      `${hashedHost('[10.0.0.5]:2222')} ${hashed}`,
      `@revoked [10.0.0.5]:2222 ${revoked}`,
      `[10.0.0.9]:2222 ${other}`,
    ].join('\n');
    const keys = pinnedKeys({ ...base, knownHosts });
    const blobs = keys.map((k) => `${k.type} ${k.blob.toString('base64')}`);
    expect(blobs).toEqual([mine, hashed]);
  });

  it('fails closed: nothing pinned, a malformed key, or an unsupported type is a config error', () => {
    expect(() => pinnedKeys({ ...base, knownHosts: `other ${key()}` })).toThrow(ConfigError);
    expect(() => pinnedKeys({ ...base, hostKey: 'ssh-ed25519 bm90IGEga2V5' })).toThrow(/not a valid ssh-ed25519 public key/);
    const ed = key().split(' ')[1]!;
    expect(() => pinnedKeys({ ...base, hostKey: `ssh-rsa ${ed}` })).toThrow(/not a valid ssh-rsa/);
  });
});
