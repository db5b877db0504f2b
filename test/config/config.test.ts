import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { hoop, tempDir } from '../support/hoop.js';

const base = (extra = ''): string => `listen: 127.0.0.1:8009
store: sqlite:./data/hoop.db
connections:
  - name: pg-local
    type: postgres
    host: 127.0.0.1
    port: 5432
    database: test
    user: postgres
${extra}`;

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('gateway config', () => {
  it('applies defaults and resolves the store path against the config folder', () => {
    const c = parseConfig(base(), 'hoop.yaml', '/etc/hoop');
    expect(c.store).toBe('sqlite:/etc/hoop/data/hoop.db');
    expect(c.connections[0]).toMatchObject({ name: 'pg-local', tls: 'disable', port: 5432 });
    expect(c.recording.flushIntervalMs).toBe(50);
  });

  it('substitutes ${env:…} and ${file:…} in values, not in structure', () => {
    const dir = tempDir('cfg');
    writeFileSync(join(dir, 'pw'), 's3cret: {not yaml}\n');
    process.env.HOOP_TEST_PW = 'from-env';
    const c1 = parseConfig(base('    password: ${env:HOOP_TEST_PW}'), 'hoop.yaml', dir);
    expect(c1.connections[0]).toMatchObject({ password: 'from-env' });
    const c2 = parseConfig(base('    password: ${file:pw}'), 'hoop.yaml', dir);
    expect(c2.connections[0]).toMatchObject({ password: 's3cret: {not yaml}' });
  });

  it('names the field and the problem', () => {
    expect(errorOf(() => parseConfig(base().replace('port: 5432', 'port: "x"'), 'hoop.yaml', '/')).message).toMatch(/hoop\.yaml: connections\[0\]\.port: .*number/i);
    expect(errorOf(() => parseConfig(base('    tls: maybe'), 'hoop.yaml', '/')).message).toMatch(/connections\[0\]\.tls/);
    expect(errorOf(() => parseConfig(base('    pasword: x'), 'hoop.yaml', '/')).message).toMatch(/pasword/);
    expect(errorOf(() => parseConfig(base('    password: ${env:HOOP_SURELY_UNSET}'), 'hoop.yaml', '/')).message).toMatch(/connections\[0\]\.password: environment variable HOOP_SURELY_UNSET is not set/);
    expect(errorOf(() => parseConfig('listen: [', 'hoop.yaml', '/')).message).toMatch(/not valid YAML/);
    expect(errorOf(() => parseConfig(base() + base().split('connections:\n')[1], 'hoop.yaml', '/')).message).toMatch(/used twice/);
    expect(errorOf(() => parseConfig('store: mysql://x', 'hoop.yaml', '/')).message).toMatch(/store/);
    expect(errorOf(() => loadConfig('/nonexistent/hoop.yaml')).message).toMatch(/cannot read config/);
  });

  it('`hoop gateway` exits 2 with the field named on a bad config', async () => {
    const dir = tempDir('cfg');
    const path = join(dir, 'hoop.yaml');
    writeFileSync(path, base().replace('port: 5432', 'port: 99999'));
    const r = await hoop(['gateway', '--config', path]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/connections\[0\]\.port/);
  });

  it('refuses plain HTTP on a non-loopback address', async () => {
    const dir = tempDir('cfg');
    const path = join(dir, 'hoop.yaml');
    writeFileSync(path, base().replace('listen: 127.0.0.1:8009', 'listen: 0.0.0.0:8009'));
    const r = await hoop(['gateway', '--config', path]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/plain HTTP/);
  });
});

describe('ssh and git connections', () => {
  const ssh = (fields: string) => base(`  - name: web1
    type: ssh
    host: 10.0.0.5
    user: deploy
    privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----"
${fields}`);

  it('applies defaults: port 22, an env allow-list, 64 KiB of exec output', () => {
    const c = parseConfig(ssh('    hostKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMS9o6J+MSE6ItBBRZOWFK74/RYUwVEimjEmlpDNAqn8'), 'hoop.yaml', '/etc/hoop');
    expect(c.connections[1]).toMatchObject({ type: 'ssh', port: 22, env: ['LANG', 'LC_*', 'TZ'], execOutputBytes: 65536 });
  });

  it('refuses a connection that pins no backend host key, saying how to pin one', () => {
    const err = errorOf(() => parseConfig(ssh(''), 'hoop.yaml', '/etc/hoop'));
    expect(err.message).toMatch(/connections.*hostKey.*ssh-keyscan/s);
  });

  it('a git connection needs the repository it serves', () => {
    const err = errorOf(() =>
      parseConfig(base(`  - name: app\n    type: git\n    host: git.internal\n    privateKey: x\n    hostKey: ssh-ed25519 AAAA\n`), 'hoop.yaml', '/etc/hoop'),
    );
    expect(err.message).toMatch(/repository/);
  });
});
