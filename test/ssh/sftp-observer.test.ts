import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_PACKET_BYTES,
  MAX_TRACKED_HANDLES,
  SSH_FXF_READ,
  SSH_FXP_HANDLE,
  SSH_FXP_INIT,
  SSH_FXP_OPEN,
  SSH_FXP_REMOVE,
  SftpObserver,
  type SftpOperation,
} from '../../src/protocols/ssh/sftp.js';

/**
 * Real OpenSSH SFTP bytes: the `sftp` client talks straight to OpenSSH's sftp-server over pipes
 * (`sftp -D`), through a relay that logs every chunk in the order it passed, tagged with its
 * direction. Replaying that log into the observer is what the gateway's relay does live.
 */

const SFTP_SERVER = '/usr/lib/openssh/sftp-server';

interface Chunk {
  readonly fromClient: boolean;
  readonly bytes: Buffer;
}

const RELAY = `
import { spawn } from 'node:child_process';
import fs from 'node:fs';
const [logPath, server, cwd] = process.argv.slice(2);
const fd = fs.openSync(logPath, 'w');
const log = (dir, chunk) => {
  const head = Buffer.alloc(5);
  head[0] = dir;
  head.writeUInt32BE(chunk.length, 1);
  fs.writeSync(fd, head);
  fs.writeSync(fd, chunk);
};
const child = spawn(server, [], { stdio: ['pipe', 'pipe', 'inherit'], cwd });
process.stdin.on('data', (c) => { log(0, c); child.stdin.write(c); });
process.stdin.on('end', () => child.stdin.end());
child.stdout.on('data', (c) => { log(1, c); process.stdout.write(c); });
child.on('exit', (code) => { fs.closeSync(fd); process.exitCode = code ?? 1; });
`;

let work: string;
let relayPath: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'hoop-sftp-'));
  relayPath = path.join(work, 'relay.mjs');
  await writeFile(relayPath, RELAY);
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Runs real `sftp -b` against a real sftp-server serving `remote`; returns the relayed chunks. */
async function capture(name: string, batch: readonly string[], local: string, remote: string): Promise<Chunk[]> {
  const logPath = path.join(work, `${name}.log`);
  const batchPath = path.join(work, `${name}.batch`);
  await writeFile(batchPath, batch.join('\n') + '\n');
  const direct = [process.execPath, relayPath, logPath, SFTP_SERVER, remote];
  // sftp splits -D on whitespace.
  for (const word of direct) expect(word).not.toMatch(/\s/);
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn('sftp', ['-b', batchPath, '-D', direct.join(' ')], { cwd: local, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.once('error', reject);
    child.once('close', (c) => resolve({ code: c, stderr: err }));
  });
  expect(stderr, 'sftp stderr').not.toMatch(/fatal|Connection closed|Couldn't/i);
  expect(code).toBe(0);
  const log = await readFile(logPath);
  const chunks: Chunk[] = [];
  for (let off = 0; off < log.length; ) {
    const length = log.readUInt32BE(off + 1);
    chunks.push({ fromClient: log[off] === 0, bytes: log.subarray(off + 5, off + 5 + length) });
    off += 5 + length;
  }
  return chunks;
}

function observe(chunks: readonly Chunk[]): SftpOperation[] {
  const ops: SftpOperation[] = [];
  const observer = new SftpObserver((op) => ops.push(op));
  for (const c of chunks) {
    if (c.fromClient) observer.fromClient(c.bytes);
    else observer.fromServer(c.bytes);
  }
  observer.close();
  return ops;
}

/** The same stream with one direction's bytes split at `offset` (counted in that direction only). */
function splitAt(chunks: readonly Chunk[], fromClient: boolean, offset: number): Chunk[] {
  const out: Chunk[] = [];
  let seen = 0;
  for (const c of chunks) {
    if (c.fromClient === fromClient && offset > seen && offset < seen + c.bytes.length) {
      out.push({ fromClient, bytes: c.bytes.subarray(0, offset - seen) });
      out.push({ fromClient, bytes: c.bytes.subarray(offset - seen) });
    } else {
      out.push(c);
    }
    if (c.fromClient === fromClient) seen += c.bytes.length;
  }
  return out;
}

function totalBytes(chunks: readonly Chunk[], fromClient: boolean): number {
  return chunks.filter((c) => c.fromClient === fromClient).reduce((n, c) => n + c.bytes.length, 0);
}

/** Re-chunks each chunk into pieces of deterministic, varied sizes (1 byte to ~9 KiB). */
function rechunk(chunks: readonly Chunk[]): Chunk[] {
  let seed = 7;
  const next = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed;
  };
  const out: Chunk[] = [];
  for (const c of chunks) {
    for (let off = 0; off < c.bytes.length; ) {
      const size = 1 + (next() % 9000);
      out.push({ fromClient: c.fromClient, bytes: c.bytes.subarray(off, off + size) });
      off += size;
    }
  }
  return out;
}

async function freshDirs(name: string): Promise<{ local: string; remote: string }> {
  const local = path.join(work, name, 'local');
  const remote = path.join(work, name, 'remote');
  await mkdir(local, { recursive: true });
  await mkdir(remote, { recursive: true });
  return { local, remote };
}

describe('SftpObserver on real OpenSSH sftp traffic', () => {
  const BIG = 5 * 1024 * 1024 + 12345;
  let big: Chunk[];
  let remote: string;
  let local: string;

  beforeAll(async () => {
    ({ local, remote } = await freshDirs('big'));
    await writeFile(path.join(local, 'big.bin'), randomBytes(BIG));
    big = await capture(
      'big',
      [
        'put big.bin big.bin',
        'get big.bin copy.bin',
        'mkdir d',
        'rename big.bin d/big.bin',
        'ls d',
        'rm d/big.bin',
        'rmdir d',
        '-rm missing.txt',
        '-rename nothere elsewhere',
      ],
      local,
      remote,
    );
  });

  it('records a multi-MB put and get with their bytes summed, and the directory operations', async () => {
    // The transfer really happened through the relay.
    expect(await readFile(path.join(local, 'copy.bin'))).toEqual(await readFile(path.join(local, 'big.bin')));
    expect(existsSync(path.join(remote, 'd'))).toBe(false);

    expect(observe(big)).toEqual([
      { op: 'write', path: `${remote}/big.bin`, bytes: BIG, status: 'ok' },
      { op: 'read', path: `${remote}/big.bin`, bytes: BIG, status: 'ok' },
      { op: 'mkdir', path: `${remote}/d`, status: 'ok' },
      { op: 'rename', path: `${remote}/big.bin`, target: `${remote}/d/big.bin`, status: 'ok' },
      { op: 'list', path: `${remote}/d/`, status: 'ok' },
      { op: 'remove', path: `${remote}/d/big.bin`, status: 'ok' },
      { op: 'rmdir', path: `${remote}/d`, status: 'ok' },
      { op: 'remove', path: `${remote}/missing.txt`, status: 'no-such-file' },
      { op: 'rename', path: `${remote}/nothere`, target: `${remote}/elsewhere`, status: 'no-such-file' },
    ]);
  });

  it('gives the same records however the stream is chunked', () => {
    const expected = observe(big);
    expect(observe(rechunk(big))).toEqual(expected);
    // One chunk per direction change: the largest chunks a relay could see.
    const merged: Chunk[] = [];
    for (const c of big) {
      const last = merged.at(-1);
      if (last?.fromClient === c.fromClient) merged[merged.length - 1] = { fromClient: c.fromClient, bytes: Buffer.concat([last.bytes, c.bytes]) };
      else merged.push(c);
    }
    expect(observe(merged)).toEqual(expected);
  });

  it('records an upload cut off mid-way with the bytes that got through and status unknown', () => {
    // Stop at the first server chunk after half of the upload's bytes went out.
    let sent = 0;
    const cut = big.findIndex((c) => {
      if (c.fromClient) sent += c.bytes.length;
      return !c.fromClient && sent > BIG / 2;
    });
    const ops = observe(big.slice(0, cut));
    expect(ops).toHaveLength(1);
    const [upload] = ops;
    expect(upload).toMatchObject({ op: 'write', path: `${remote}/big.bin`, status: 'unknown' });
    expect(upload!.bytes).toBeGreaterThan(0);
    expect(upload!.bytes).toBeLessThan(BIG);
  });
});

describe('SftpObserver framing', () => {
  let small: Chunk[];
  let expected: SftpOperation[];
  let remote: string;

  beforeAll(async () => {
    let local: string;
    ({ local, remote } = await freshDirs('small'));
    await writeFile(path.join(local, 'note.txt'), 'hello sftp\n');
    small = await capture(
      'small',
      [
        'mkdir docs',
        'put note.txt docs/note.txt',
        'cp docs/note.txt docs/copy.txt',
        'chmod 600 docs/copy.txt',
        'ln -s note.txt docs/link',
        'ls docs',
        'rename docs/copy.txt docs/renamed.txt',
        'get docs/note.txt back.txt',
        'rm docs/renamed.txt',
        '-rmdir nowhere',
      ],
      local,
      remote,
    );
    expected = observe(small);
  });

  it('records the small session', () => {
    expect(expected).toEqual([
      { op: 'mkdir', path: `${remote}/docs`, status: 'ok' },
      { op: 'write', path: `${remote}/docs/note.txt`, bytes: 11, status: 'ok' },
      { op: 'copy', path: `${remote}/docs/note.txt`, target: `${remote}/docs/copy.txt`, status: 'ok' },
      { op: 'setstat', path: `${remote}/docs/copy.txt`, status: 'ok' },
      { op: 'symlink', path: `${remote}/docs/link`, target: 'note.txt', status: 'ok' },
      { op: 'list', path: `${remote}/docs/`, status: 'ok' },
      { op: 'rename', path: `${remote}/docs/copy.txt`, target: `${remote}/docs/renamed.txt`, status: 'ok' },
      { op: 'read', path: `${remote}/docs/note.txt`, bytes: 11, status: 'ok' },
      { op: 'remove', path: `${remote}/docs/renamed.txt`, status: 'ok' },
      { op: 'rmdir', path: `${remote}/nowhere`, status: 'no-such-file' },
    ]);
  });

  it('gives identical records for every split offset of either direction', () => {
    for (const fromClient of [true, false]) {
      const total = totalBytes(small, fromClient);
      expect(total).toBeGreaterThan(100);
      for (let offset = 1; offset < total; offset++) {
        const ops = observe(splitAt(small, fromClient, offset));
        if (JSON.stringify(ops) !== JSON.stringify(expected)) {
          expect(ops, `${fromClient ? 'client' : 'server'} stream split at ${offset}`).toEqual(expected);
        }
      }
    }
  });

  it('gives identical records fed one byte at a time', () => {
    const bytewise: Chunk[] = small.flatMap((c) => [...c.bytes].map((b) => ({ fromClient: c.fromClient, bytes: Buffer.from([b]) })));
    expect(observe(bytewise)).toEqual(expected);
  });

  it('keeps recording when the sink throws', () => {
    const ops: SftpOperation[] = [];
    const observer = new SftpObserver((op) => {
      ops.push(op);
      throw new Error('sink failure');
    });
    for (const c of small) expect(() => (c.fromClient ? observer.fromClient(c.bytes) : observer.fromServer(c.bytes))).not.toThrow();
    expect(ops).toEqual(expected);
    expect(observer.stopped).toBe(false);
  });
});

describe('SftpObserver on malformed input', () => {
  function feedClient(bytes: Buffer): { ops: SftpOperation[]; observer: SftpObserver } {
    const ops: SftpOperation[] = [];
    const observer = new SftpObserver((op) => ops.push(op));
    expect(() => observer.fromClient(bytes)).not.toThrow();
    return { ops, observer };
  }

  /** uint32 length, byte type, body. */
  function packet(type: number, ...fields: (number | string | Buffer)[]): Buffer {
    const parts = fields.map((f) => {
      if (typeof f === 'number') {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(f);
        return b;
      }
      const data = typeof f === 'string' ? Buffer.from(f) : f;
      const len = Buffer.alloc(4);
      len.writeUInt32BE(data.length);
      return Buffer.concat([len, data]);
    });
    const body = Buffer.concat(parts);
    const head = Buffer.alloc(5);
    head.writeUInt32BE(body.length + 1);
    head[4] = type;
    return Buffer.concat([head, body]);
  }

  it('reports text that is not SFTP once, then ignores everything', () => {
    const { ops, observer } = feedClient(Buffer.from('GET / HTTP/1.1\r\nHost: example\r\n\r\n'));
    expect(ops).toEqual([
      { op: 'protocol-error', path: '', status: 'packet-too-large', detail: expect.stringContaining(`${MAX_PACKET_BYTES}-byte limit`) },
    ]);
    expect(observer.stopped).toBe(true);
    expect(observer.error?.code).toBe('HOOP_SFTP_PROTOCOL');
    expect(() => observer.fromClient(randomBytes(4096))).not.toThrow();
    expect(() => observer.fromServer(randomBytes(4096))).not.toThrow();
    observer.close();
    expect(ops).toHaveLength(1);
  });

  it('reports random bytes once, from either side', () => {
    let seed = 42;
    const garbage = Buffer.alloc(64 * 1024);
    for (let i = 0; i < garbage.length; i++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      garbage[i] = seed >>> 16;
    }
    for (const side of ['client', 'server'] as const) {
      const ops: SftpOperation[] = [];
      const observer = new SftpObserver((op) => ops.push(op));
      for (let off = 0; off < garbage.length; off += 1000) {
        const piece = garbage.subarray(off, off + 1000);
        expect(() => (side === 'client' ? observer.fromClient(piece) : observer.fromServer(piece))).not.toThrow();
      }
      expect(ops).toHaveLength(1);
      expect(ops[0]!.op).toBe('protocol-error');
    }
  });

  it('reports a zero-length packet and a string that overruns its packet as malformed', () => {
    expect(feedClient(Buffer.from([0, 0, 0, 0, 1])).ops).toMatchObject([{ op: 'protocol-error', status: 'malformed-packet' }]);

    const init = packet(SSH_FXP_INIT, 3);
    const remove = packet(SSH_FXP_REMOVE, 7, 'some/file');
    // Claim a 200-byte path in a packet that holds 9.
    remove.writeUInt32BE(200, 9);
    const { ops, observer } = feedClient(Buffer.concat([init, remove]));
    expect(ops).toMatchObject([{ op: 'protocol-error', status: 'malformed-packet' }]);
    expect(observer.error?.reason).toBe('malformed-packet');
  });

  it('stops, with one record, past the tracked-handle limit', () => {
    const ops: SftpOperation[] = [];
    const observer = new SftpObserver((op) => ops.push(op));
    observer.fromClient(packet(SSH_FXP_INIT, 3));
    for (let id = 1; id <= MAX_TRACKED_HANDLES + 1; id++) {
      observer.fromClient(packet(SSH_FXP_OPEN, id, `f${id}`, SSH_FXF_READ, 0));
      observer.fromServer(packet(SSH_FXP_HANDLE, id, `h${id}`));
    }
    expect(ops.filter((o) => o.op === 'protocol-error')).toEqual([
      { op: 'protocol-error', path: '', status: 'too-many-handles', detail: expect.any(String) },
    ]);
    // The files that were open are still accounted for, with an unknown outcome.
    expect(ops.filter((o) => o.op === 'open')).toHaveLength(MAX_TRACKED_HANDLES);
    expect(ops.filter((o) => o.op === 'open').every((o) => o.status === 'unknown')).toBe(true);
    expect(observer.stopped).toBe(true);
  });
});
