import { execFile, execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * A throwaway PostgreSQL cluster for tests that need real authentication and TLS, which the
 * shared trust-only server cannot exercise. One role per authentication method, because
 * pg_hba.conf picks the method by user.
 */

const run = promisify(execFile);

export const PG_CLUSTER_USERS = {
  /** pg_hba `password`: cleartext over the wire. */
  clear: { user: 'u_clear', password: 'clear-pw-7f3a' },
  /** pg_hba `md5`, with an MD5-hashed stored password. */
  md5: { user: 'u_md5', password: 'md5-pw-91c2' },
  /** pg_hba `scram-sha-256`. */
  scram: { user: 'u_scram', password: 'scram-pw-4d8e' },
  /** scram-sha-256 with a password that SASLprep changes (NBSP → space, soft hyphen dropped, Ⅸ → IX). */
  scramUnicode: { user: 'u_scram_nfkc', password: 'p\u00e4ss\u2168\u00a0w\u00adord' },
  /** `hostssl` only, scram-sha-256: refused without TLS. */
  ssl: { user: 'u_ssl', password: 'ssl-pw-2b6f' },
} as const;

export interface PgCluster {
  /** 127.0.0.1: in the server certificate. */
  readonly host: string;
  /** 127.0.0.2: the server listens here too, but the certificate does not name it. */
  readonly mismatchHost: string;
  readonly port: number;
  /** The CA that signed the server certificate. */
  readonly caPem: string;
  /** An unrelated CA, for "wrong CA" checks. */
  readonly otherCaPem: string;
  /** Runs SQL as the superuser over the Unix socket; returns psql's unaligned output. */
  psql(sql: string): Promise<string>;
  /** Idempotent. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const MISMATCH_HOST = '127.0.0.2';

export async function startPgCluster(): Promise<PgCluster> {
  const bin = findPgBin();
  const asRoot = process.getuid?.() === 0;
  // PostgreSQL refuses to run as root, so the cluster belongs to the postgres OS user.
  const owner = asRoot ? { uid: idOf('-u'), gid: idOf('-g') } : null;
  const asOwner = (file: string, args: string[]): Promise<{ stdout: string; stderr: string }> =>
    owner ? run('runuser', ['-u', 'postgres', '--', file, ...args]) : run(file, args);

  const dir = await mkdtemp(path.join(os.tmpdir(), 'hoop-pg-'));
  const data = path.join(dir, 'data');
  const log = path.join(dir, 'server.log');
  let started = false;
  let stopped = false;

  const stopSync = (): void => {
    if (stopped) return;
    stopped = true;
    try {
      if (started) execFileSync(owner ? 'runuser' : path.join(bin, 'pg_ctl'), pgCtlStopArgs(bin, data, owner !== null), { stdio: 'ignore' });
    } catch {
      // Already gone.
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // A crashed test run must not leave a postmaster behind.
  process.once('exit', stopSync);

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.off('exit', stopSync);
    if (started) {
      await (owner ? run('runuser', pgCtlStopArgs(bin, data, true)) : run(path.join(bin, 'pg_ctl'), pgCtlStopArgs(bin, data, false))).catch(
        () => undefined,
      );
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const port = await freePort();
    await makeCertificates(dir);
    const otherDir = path.join(dir, 'other-ca');
    await mkdir(otherDir);
    await makeCa(otherDir, 'hoop unrelated test CA');
    if (owner) await run('chown', ['-R', `${owner.uid}:${owner.gid}`, dir]);
    await chmod(path.join(dir, 'server.key'), 0o600);

    await asOwner(path.join(bin, 'initdb'), [
      '-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions',
    ]);
    const conf = [
      `listen_addresses = '${HOST},${MISMATCH_HOST}'`,
      `port = ${port}`,
      `unix_socket_directories = '${dir}'`,
      'ssl = on',
      `ssl_cert_file = '${path.join(dir, 'server.crt')}'`,
      `ssl_key_file = '${path.join(dir, 'server.key')}'`,
      // Durability is pointless for a cluster that lives for one test file.
      'fsync = off',
      'synchronous_commit = off',
      'full_page_writes = off',
      'max_connections = 40',
      'shared_buffers = 16MB',
      '',
    ].join('\n');
    await writeFile(path.join(data, 'postgresql.conf'), `${await readFile(path.join(data, 'postgresql.conf'), 'utf8')}\n${conf}`);
    const hba = [
      'local   all all                      trust',
      `host    all postgres     127.0.0.0/8 trust`,
      `host    all ${PG_CLUSTER_USERS.clear.user}      127.0.0.0/8 password`,
      `host    all ${PG_CLUSTER_USERS.md5.user}        127.0.0.0/8 md5`,
      `host    all ${PG_CLUSTER_USERS.scram.user}      127.0.0.0/8 scram-sha-256`,
      `host    all ${PG_CLUSTER_USERS.scramUnicode.user} 127.0.0.0/8 scram-sha-256`,
      `hostssl all ${PG_CLUSTER_USERS.ssl.user}        127.0.0.0/8 scram-sha-256`,
      '',
    ].join('\n');
    await writeFile(path.join(data, 'pg_hba.conf'), hba);
    if (owner) await chown(path.join(data, 'pg_hba.conf'), owner.uid, owner.gid);

    try {
      await asOwner(path.join(bin, 'pg_ctl'), ['-D', data, '-l', log, '-w', '-t', '60', 'start']);
    } catch (err) {
      const tail = await readFile(log, 'utf8').catch(() => '');
      throw new Error(`pg_ctl start failed: ${(err as Error).message}\n${tail.slice(-2000)}`);
    }
    started = true;

    const psql = async (sql: string): Promise<string> => {
      const { stdout } = await run(path.join(bin, 'psql'), [
        '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-h', dir, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-c', sql,
      ]);
      return stdout.trim();
    };
    const lit = (s: string): string => `'${s.replace(/'/g, "''")}'`;
    const u = PG_CLUSTER_USERS;
    // md5 auth needs an MD5-hashed stored password: with a SCRAM verifier the server upgrades to SCRAM.
    await psql(`SET password_encryption = 'md5'; CREATE ROLE ${u.md5.user} LOGIN PASSWORD ${lit(u.md5.password)}`);
    await psql(
      [
        `SET password_encryption = 'scram-sha-256'`,
        `CREATE ROLE ${u.clear.user} LOGIN PASSWORD ${lit(u.clear.password)}`,
        `CREATE ROLE ${u.scram.user} LOGIN PASSWORD ${lit(u.scram.password)}`,
        `CREATE ROLE ${u.scramUnicode.user} LOGIN PASSWORD ${lit(u.scramUnicode.password)}`,
        `CREATE ROLE ${u.ssl.user} LOGIN PASSWORD ${lit(u.ssl.password)}`,
      ].join('; '),
    );

    return {
      host: HOST,
      mismatchHost: MISMATCH_HOST,
      port,
      caPem: await readFile(path.join(dir, 'ca.crt'), 'utf8'),
      otherCaPem: await readFile(path.join(otherDir, 'ca.crt'), 'utf8'),
      psql,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

function pgCtlStopArgs(bin: string, data: string, viaRunuser: boolean): string[] {
  const args = ['-D', data, '-m', 'immediate', '-w', 'stop'];
  return viaRunuser ? ['-u', 'postgres', '--', path.join(bin, 'pg_ctl'), ...args] : args;
}

/** The newest installed server: /usr/lib/postgresql/<major>/bin. */
function findPgBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions[0] === undefined) throw new Error(`no PostgreSQL server binaries under ${root}/*/bin`);
  return path.join(root, versions[0], 'bin');
}

function idOf(flag: '-u' | '-g'): number {
  return Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A self-signed CA (P-256 keys: fast to generate) in dir/ca.crt, dir/ca.key. */
async function makeCa(dir: string, name: string): Promise<void> {
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', path.join(dir, 'ca.key'), '-out', path.join(dir, 'ca.crt'), '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

/** CA plus a server certificate for 127.0.0.1 and localhost (and deliberately not 127.0.0.2). */
async function makeCertificates(dir: string): Promise<void> {
  await makeCa(dir, 'hoop test CA');
  const ext = path.join(dir, 'server.ext');
  await writeFile(
    ext,
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n',
  );
  await run('openssl', [
    'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', path.join(dir, 'server.key'), '-out', path.join(dir, 'server.csr'), '-subj', '/CN=127.0.0.1',
  ]);
  await run('openssl', [
    'x509', '-req', '-in', path.join(dir, 'server.csr'), '-CA', path.join(dir, 'ca.crt'), '-CAkey', path.join(dir, 'ca.key'),
    '-CAcreateserial', '-out', path.join(dir, 'server.crt'), '-days', '2', '-extfile', ext,
  ]);
}
