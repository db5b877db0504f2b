import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cancelBackend,
  connectBackend,
  md5Password,
  type BackendConnectOptions,
  type BackendSession,
} from '../../src/protocols/postgres/backend.js';
import { PgBackendError } from '../../src/protocols/postgres/errors.js';
import { Backend, ErrorField } from '../../src/protocols/postgres/messages.js';
import { Cursor, decodeErrorFields, decodeParameterStatus } from '../../src/protocols/postgres/reader.js';
import {
  clientFinalMessage,
  clientFirstMessage,
  parseServerFirst,
  saltPassword,
  saslPrep,
  verifyServerFinal,
} from '../../src/protocols/postgres/scram.js';
import { encodeQuery, encodeTerminate } from '../../src/protocols/postgres/writer.js';
import { PG_CLUSTER_USERS, startPgCluster, type PgCluster } from '../support/pg-cluster.js';

/** The shared server: trust auth, no TLS. */
const SHARED = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' } as const;

function options(overrides: Partial<BackendConnectOptions>): BackendConnectOptions {
  return {
    ...SHARED,
    tls: 'disable',
    startupParams: {},
    maxMessageBytes: 1024 * 1024,
    connectTimeoutMs: 10_000,
    ...overrides,
  };
}

interface QueryResult {
  readonly rows: (string | null)[][];
  readonly error?: { readonly code: string; readonly message: string };
}

/** Bytes a session's socket delivers, kept across queries so split and coalesced messages are handled. */
const pending = new WeakMap<BackendSession, Buffer>();

/** Simple-query round trip over a session's socket, as the relay would do it. */
async function query(session: BackendSession, sql: string): Promise<QueryResult> {
  const socket = session.socket;
  let buf = pending.get(session) ?? session.leftover;
  const rows: (string | null)[][] = [];
  let error: QueryResult['error'];
  return new Promise((resolve, reject) => {
    const drain = (): boolean => {
      for (;;) {
        if (buf.length < 5) return false;
        const length = buf.readInt32BE(1);
        if (buf.length < 1 + length) return false;
        const code = buf[0]!;
        const body = buf.subarray(5, 1 + length);
        buf = buf.subarray(1 + length);
        if (code === Backend.dataRow) {
          // DataRow 'D': Int16 n, n × (Int32 length (-1 = NULL), bytes).
          const c = new Cursor(body, 'DataRow');
          const n = c.int16();
          const row: (string | null)[] = [];
          for (let i = 0; i < n; i++) {
            const len = c.int32();
            row.push(len === -1 ? null : c.bytes(len).toString('utf8'));
          }
          rows.push(row);
        } else if (code === Backend.errorResponse) {
          const f = decodeErrorFields(body);
          error = { code: f.get(ErrorField.code) ?? '', message: f.get(ErrorField.message) ?? '' };
        } else if (code === Backend.readyForQuery) {
          return true;
        }
      }
    };
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      if (drain()) finish();
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error('backend closed the connection mid-query'));
    };
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
    };
    const finish = (): void => {
      cleanup();
      pending.set(session, buf);
      resolve(error === undefined ? { rows } : { rows, error });
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(encodeQuery(sql));
    socket.resume();
  });
}

function close(session: BackendSession): void {
  session.socket.end(encodeTerminate());
}

async function rejection(p: Promise<unknown>): Promise<PgBackendError> {
  const err = await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PgBackendError);
  return err as PgBackendError;
}

function parameters(session: BackendSession): Map<string, string> {
  // Each stored frame is Byte1 'S', Int32 length, then the body.
  return new Map(session.parameterStatus.map((f) => {
    const { name, value } = decodeParameterStatus(f.subarray(5));
    return [name, value] as const;
  }));
}

describe('scram', () => {
  // RFC 7677 section 3.
  const nonce = 'rOprNGfwEbeRWgbNEkqO';
  const serverFirst = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';

  it('reproduces the RFC 7677 test vector', async () => {
    const first = clientFirstMessage(nonce, 'user');
    expect(first.message).toBe('n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    const server = parseServerFirst(serverFirst, nonce);
    expect(server.iterations).toBe(4096);
    const salted = await saltPassword('pencil', server.salt, server.iterations);
    const final = clientFinalMessage(salted, first, server);
    expect(final.message).toBe(
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    );
    expect(() => verifyServerFinal('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=', final.expectedServerSignature)).not.toThrow();
  });

  it('rejects a wrong server signature and a server error', async () => {
    const first = clientFirstMessage(nonce, 'user');
    const server = parseServerFirst(serverFirst, nonce);
    const final = clientFinalMessage(await saltPassword('pencil', server.salt, 4096), first, server);
    expect(() => verifyServerFinal('v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', final.expectedServerSignature)).toThrow(
      /server signature does not match/,
    );
    expect(() => verifyServerFinal('e=invalid-proof', final.expectedServerSignature)).toThrow(/invalid-proof/);
  });

  it('rejects a server-first-message that does not extend our nonce or is malformed', () => {
    expect(() => parseServerFirst('r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096', nonce)).toThrow(/nonce/);
    expect(() => parseServerFirst(`r=${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`, nonce)).toThrow(/nonce/);
    expect(() => parseServerFirst(`m=ext,r=${nonce}x,s=AAAA,i=1`, nonce)).toThrow(/mandatory extension/);
    expect(() => parseServerFirst(`r=${nonce}x,s=not*base64,i=1`, nonce)).toThrow(/base64/);
    expect(() => parseServerFirst(`r=${nonce}x,s=AAAA,i=0`, nonce)).toThrow(/iteration/);
  });

  it('applies SASLprep like PostgreSQL', () => {
    expect(saslPrep('plain ascii')).toBe('plain ascii');
    expect(saslPrep('I\u00adX')).toBe('IX');
    expect(saslPrep('a\u00a0b')).toBe('a b');
    expect(saslPrep('\u2168')).toBe('IX');
    // Prohibited output: the server falls back to the raw password, and so must we.
    expect(saslPrep('a\u0007\u00e4')).toBe('a\u0007\u00e4');
  });

  it('computes the MD5 response', () => {
    // "md5" + md5hex(md5hex("secret" + "postgres") + salt), computed independently with Python's hashlib.
    expect(md5Password('postgres', 'secret', Buffer.from([1, 2, 3, 4]))).toBe('md5bb41a296aab6baccb36ff243a562abff');
  });
});

describe('connectBackend: shared server (trust, no TLS)', () => {
  it('logs in with trust and runs a query', async () => {
    const session = await connectBackend(options({}));
    try {
      expect(session.processId).toBeGreaterThan(0);
      expect(session.secretKey.length).toBe(4);
      expect(session.transactionStatus).toBe('I');
      expect(session.leftover.length).toBe(0);
      expect(session.socket.isPaused()).toBe(true);
      expect(parameters(session).get('server_version')).toMatch(/^\d+/);
      const r = await query(session, 'select current_user, pg_backend_pid()');
      expect(r.rows).toEqual([['postgres', String(session.processId)]]);
    } finally {
      close(session);
    }
  });

  it('passes client startup parameters but never lets them replace user or database', async () => {
    const session = await connectBackend(
      options({ startupParams: { user: 'intruder', database: 'postgres', application_name: 'hoop-test' } }),
    );
    try {
      expect(parameters(session).get('application_name')).toBe('hoop-test');
      const r = await query(session, "select current_user, current_database(), current_setting('application_name')");
      expect(r.rows).toEqual([['postgres', 'test', 'hoop-test']]);
    } finally {
      close(session);
    }
  });

  it('fails clearly when tls is required but the server has TLS off', async () => {
    const err = await rejection(connectBackend(options({ tls: 'require' })));
    expect(err.message).toMatch(/does not support TLS/);
    expect(err.sqlState).toBe('08001');
  });

  it('passes on the server error for an unknown database', async () => {
    const err = await rejection(connectBackend(options({ database: 'no_such_db_hoop' })));
    expect(err.sqlState).toBe('3D000');
    expect(err.message).toMatch(/no_such_db_hoop/);
  });

  it('enforces maxMessageBytes on server messages', async () => {
    const err = await rejection(connectBackend(options({ maxMessageBytes: 16 })));
    expect(err.sqlState).toBe('08P01');
    expect(err.message).toMatch(/exceeds the 16-byte limit/);
  });

  it('reports an unreachable server', async () => {
    const port = await closedPort();
    const err = await rejection(connectBackend(options({ port })));
    expect(err.sqlState).toBe('08001');
    expect(err.message).toMatch(/could not connect/);
  });

  it('times out a server that accepts and never answers', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const started = Date.now();
      const err = await rejection(connectBackend(options({ port, connectTimeoutMs: 300 })));
      expect(err.message).toMatch(/timed out after 300 ms/);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      silent.close();
    }
  });

  it('cancels a running query', async () => {
    const session = await connectBackend(options({}));
    try {
      const running = query(session, 'select pg_sleep(30)');
      await waitForActive(session.processId, options({}));
      await cancelBackend({ host: SHARED.host, port: SHARED.port, tls: 'disable' }, session.processId, session.secretKey);
      const r = await running;
      expect(r.error?.code).toBe('57014');
      // The session survives a cancel.
      expect((await query(session, 'select 1')).rows).toEqual([['1']]);
    } finally {
      close(session);
    }
  }, 20_000);
});

describe('connectBackend: throwaway cluster (passwords, TLS)', () => {
  let cluster: PgCluster;
  const users = PG_CLUSTER_USERS;

  beforeAll(async () => {
    cluster = await startPgCluster();
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  const at = (overrides: Partial<BackendConnectOptions>): BackendConnectOptions =>
    options({ host: cluster.host, port: cluster.port, database: 'postgres', ...overrides });

  async function expectLogin(o: BackendConnectOptions): Promise<BackendSession> {
    const session = await connectBackend(o);
    expect(session.processId).toBeGreaterThan(0);
    const r = await query(session, 'select current_user');
    expect(r.rows).toEqual([[o.user]]);
    return session;
  }

  it.each([
    ['cleartext', users.clear],
    ['md5', users.md5],
    ['scram-sha-256', users.scram],
    ['scram-sha-256 with a SASLprep-normalised password', users.scramUnicode],
  ])('logs in with %s', async (_method, u) => {
    close(await expectLogin(at({ user: u.user, password: u.password })));
  });

  it.each([
    ['cleartext', users.clear],
    ['md5', users.md5],
    ['scram-sha-256', users.scram],
  ])('rejects a wrong %s password with 28P01 and does not echo it', async (_method, u) => {
    const wrong = `${u.password}-WRONG`;
    const err = await rejection(connectBackend(at({ user: u.user, password: wrong })));
    expect(err.sqlState).toBe('28P01');
    expect(err.message).toMatch(/password authentication failed/);
    expect(err.message).not.toContain(wrong);
  });

  it.each([
    ['cleartext', users.clear],
    ['md5', users.md5],
    ['scram-sha-256', users.scram],
  ])('explains a %s password request when no password is configured', async (_method, u) => {
    const err = await rejection(connectBackend(at({ user: u.user })));
    expect(err.sqlState).toBe('28000');
    expect(err.message).toBe(
      `PostgreSQL at ${cluster.host}:${cluster.port} asked for a password for user "${u.user}", but none is configured for this connection`,
    );
  });

  it('survives the server reply arriving one byte at a time', async () => {
    const proxy = await dribblingProxy(cluster.port);
    try {
      close(await expectLogin(at({ port: proxy.port, user: users.scram.user, password: users.scram.password })));
    } finally {
      await proxy.close();
    }
  });

  it('tls require: encrypts without verifying', async () => {
    const session = await expectLogin(at({ tls: 'require', user: users.scram.user, password: users.scram.password }));
    try {
      expect(session.socket).toBeInstanceOf(tls.TLSSocket);
      expect((session.socket as tls.TLSSocket).encrypted).toBe(true);
      expect((await query(session, 'select ssl from pg_stat_ssl where pid = pg_backend_pid()')).rows).toEqual([['t']]);
    } finally {
      close(session);
    }
    // Unverified means the name does not matter either.
    close(await expectLogin(at({ host: cluster.mismatchHost, tls: 'require', user: users.scram.user, password: users.scram.password })));
  });

  it('a hostssl-only user needs TLS', async () => {
    const u = users.ssl;
    const err = await rejection(connectBackend(at({ user: u.user, password: u.password })));
    expect(err.sqlState).toBe('28000');
    expect(err.message).toMatch(/no pg_hba.conf entry/);
    close(await expectLogin(at({ tls: 'require', user: u.user, password: u.password })));
  });

  it('verify-full with the right CA works, for an IP and a host name', async () => {
    const u = users.ssl;
    close(await expectLogin(at({ tls: 'verify-full', ca: cluster.caPem, user: u.user, password: u.password })));
    close(await expectLogin(at({ host: 'localhost', tls: 'verify-full', ca: cluster.caPem, user: u.user, password: u.password })));
  });

  it('verify-full refuses a certificate from another CA or not in the system roots', async () => {
    const u = users.ssl;
    for (const ca of [cluster.otherCaPem, undefined]) {
      const err = await rejection(connectBackend(at({ tls: 'verify-full', ...(ca ? { ca } : {}), user: u.user, password: u.password })));
      expect(err.sqlState).toBe('08001');
      expect(err.message).toMatch(/TLS handshake .* failed: .*(self-signed|unable to get local issuer|unable to verify)/i);
    }
  });

  it('verify-full refuses a certificate for another host name', async () => {
    const u = users.ssl;
    const err = await rejection(
      connectBackend(at({ host: cluster.mismatchHost, tls: 'verify-full', ca: cluster.caPem, user: u.user, password: u.password })),
    );
    expect(err.sqlState).toBe('08001');
    expect(err.message).toMatch(/does not match certificate's altnames/);
  });

  it('cancels a running query over TLS', async () => {
    const o = at({ tls: 'require', user: users.scram.user, password: users.scram.password });
    const session = await connectBackend(o);
    try {
      const running = query(session, 'select pg_sleep(30)');
      await waitForActive(session.processId, at({}));
      await cancelBackend({ host: o.host, port: o.port, tls: 'verify-full', ca: cluster.caPem }, session.processId, session.secretKey);
      expect((await running).error?.code).toBe('57014');
    } finally {
      close(session);
    }
  }, 20_000);
});

/** Polls pg_stat_activity until the backend is running its query, so the cancel cannot race ahead of it. */
async function waitForActive(pid: number, o: BackendConnectOptions): Promise<void> {
  const watcher = await connectBackend(o);
  try {
    for (let i = 0; i < 100; i++) {
      const r = await query(watcher, `select state from pg_stat_activity where pid = ${pid}`);
      if (r.rows[0]?.[0] === 'active') return;
      await new Promise((res) => setTimeout(res, 50));
    }
    throw new Error(`backend ${pid} never became active`);
  } finally {
    close(watcher);
  }
}

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A TCP proxy to the cluster that relays the server's bytes one per write, splitting every message. */
async function dribblingProxy(targetPort: number): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(client).add(upstream);
    client.setNoDelay(true);
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d: Buffer) => {
      upstream.pause();
      let i = 0;
      const step = (): void => {
        if (i >= d.length) {
          upstream.resume();
          return;
        }
        client.write(d.subarray(i, ++i), () => setImmediate(step));
      };
      step();
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
