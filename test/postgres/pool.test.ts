import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { PostgresConnectionConfig } from '../../src/config/schema.js';
import type { BackendConnectOptions } from '../../src/protocols/postgres/backend.js';
import { poolKey, poolSettings } from '../../src/protocols/postgres/pool.js';

const connectionWith = (pool: string): PostgresConnectionConfig => {
  const c = parseConfig(
    `connections:\n  - name: pg\n    type: postgres\n    host: 127.0.0.1\n    database: test\n    user: postgres\n${pool ? `    pool: ${pool}\n` : ''}`,
    'hoop.yaml',
    '/tmp',
  );
  return c.connections[0] as PostgresConnectionConfig;
};

const options = (over: Partial<BackendConnectOptions> = {}): BackendConnectOptions => ({
  host: '127.0.0.1',
  port: 5432,
  tls: 'disable',
  database: 'test',
  user: 'postgres',
  password: 'secret',
  startupParams: { application_name: 'app', client_encoding: 'UTF8' },
  maxMessageBytes: 1024 * 1024,
  ...over,
});

describe('pool settings from the connection config', () => {
  it('is on with defaults unless turned off', () => {
    expect(poolSettings(connectionWith('').pool)).toEqual({ maxIdle: 10, maxIdleTotal: 20, idleTimeoutMs: 60_000 });
    expect(poolSettings(connectionWith('true').pool)).toEqual({ maxIdle: 10, maxIdleTotal: 20, idleTimeoutMs: 60_000 });
    expect(poolSettings(connectionWith('{ maxIdle: 3, idleTimeoutMs: 5000 }').pool)).toEqual({ maxIdle: 3, maxIdleTotal: 20, idleTimeoutMs: 5000 });
    expect(poolSettings(connectionWith('false').pool)).toBeNull();
    expect(poolSettings(connectionWith('{ enabled: false }').pool)).toBeNull();
  });

  it('refuses unknown and out-of-range pool fields', () => {
    expect(() => connectionWith('{ maxIdle: 0 }')).toThrow(/maxIdle/);
    expect(() => connectionWith('{ size: 5 }')).toThrow(/size/);
  });
});

describe('pool key', () => {
  it('does not depend on the order of startup parameters', () => {
    const a = poolKey('pg', options({ startupParams: { application_name: 'app', client_encoding: 'UTF8' } }));
    const b = poolKey('pg', options({ startupParams: { client_encoding: 'UTF8', application_name: 'app' } }));
    expect(a).toBe(b);
  });

  it('differs for anything that makes another backend session, and never contains the password', () => {
    const base = poolKey('pg', options());
    const variants = [
      poolKey('pg-other', options()),
      poolKey('pg', options({ host: 'localhost' })),
      poolKey('pg', options({ port: 5433 })),
      poolKey('pg', options({ tls: 'require' })),
      poolKey('pg', options({ ca: 'PEM' })),
      poolKey('pg', options({ database: 'other' })),
      poolKey('pg', options({ user: 'other' })),
      poolKey('pg', options({ password: 'other' })),
      poolKey('pg', options({ startupParams: { application_name: 'other', client_encoding: 'UTF8' } })),
      poolKey('pg', options({ startupParams: { application_name: 'app', client_encoding: 'UTF8', DateStyle: 'ISO' } })),
    ];
    for (const v of variants) expect(v).not.toBe(base);
    expect(new Set(variants).size).toBe(variants.length);
    expect(base).not.toContain('secret');
    // The message size cap is the gateway's own limit, not part of the server session.
    expect(poolKey('pg', options({ maxMessageBytes: 2048 }))).toBe(base);
  });
});
