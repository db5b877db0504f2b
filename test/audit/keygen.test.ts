import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { hoop, tempDir } from '../support/hoop.js';

describe('hoop audit keygen and the audit: config', () => {
  const dir = tempDir('audit-keygen');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a 0600 private key and a PEM public key, and prints the fingerprint openssl computes too', async () => {
    const r = await hoop(['audit', 'keygen', '--out', join(dir, 'keys')]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const fingerprint = String(r.stdout).trim();
    expect(fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(join(dir, 'keys', 'hoop-audit.key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'keys', 'hoop-audit.pub'), 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    // The raw key is the last 32 bytes of the SPKI DER encoding.
    const der = await execa('openssl', ['pkey', '-pubin', '-in', join(dir, 'keys', 'hoop-audit.pub'), '-outform', 'DER'], { encoding: 'buffer' });
    const { createHash } = await import('node:crypto');
    expect(createHash('sha256').update(Buffer.from(der.stdout).subarray(-32)).digest('hex')).toBe(fingerprint);
    const again = await hoop(['audit', 'keygen', '--out', join(dir, 'keys')]);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toMatch(/already exists/);
  });

  it('defaults recording to batched and checkpoints to every 1000 events or 5 s', () => {
    const c = configSchema.parse({});
    expect(c.recording.mode).toBe('batched');
    expect(c.audit).toEqual({ checkpointEvery: 1000, checkpointIntervalMs: 5000 });
    expect(configSchema.parse({ recording: { mode: 'strict' } }).recording).toEqual({ batchSize: 64, resultRows: 100, flushIntervalMs: 50, mode: 'strict' });
  });

  it('refuses a signing key path that depends on the working directory', async () => {
    writeFileSync(join(dir, 'hoop.yaml'), 'store: sqlite:./hoop.db\naudit:\n  signingKey: keys/hoop-audit.key\n');
    const r = await hoop(['audit', 'verify', '--config', join(dir, 'hoop.yaml')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/audit\.signingKey: expected a PEM key, \$\{file:…\} or an absolute path/);
  });
});
