import { describe, expect, it } from 'vitest';
import {
  capability,
  classifyUpdate,
  MAX_REFNAME_BYTES,
  ReceiveCommandParser,
  type ReceiveCommandList,
} from '../../src/protocols/git/commands.js';
import { DELIM_PKT, encodePkt, FLUSH_PKT, GitProtocolError, PktLineReader } from '../../src/protocols/git/pktline.js';

const Z40 = '0'.repeat(40);
const Z64 = '0'.repeat(64);
const A40 = 'a'.repeat(40);
const B40 = 'b'.repeat(40);
const A64 = 'a'.repeat(64);
const CAPS = 'report-status-v2 side-band-64k quiet object-format=sha1 agent=git/2.39.5';

function parse(bytes: Buffer): ReceiveCommandList {
  const reader = new PktLineReader('client');
  const parser = new ReceiveCommandParser();
  reader.push(bytes);
  for (let pkt = reader.next(); pkt; pkt = reader.next()) {
    if (parser.add(pkt)) return parser.result();
  }
  throw new Error('incomplete');
}

function lines(...ls: Array<string | Buffer>): Buffer {
  return Buffer.concat([...ls.map((l) => (l === FLUSH_PKT || l === DELIM_PKT ? (l as Buffer) : encodePkt(l))), FLUSH_PKT]);
}

function parseError(bytes: Buffer): GitProtocolError {
  try {
    parse(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(GitProtocolError);
    return err as GitProtocolError;
  }
  throw new Error('parsed');
}

describe('receive-pack command list', () => {
  it('reads the first line\'s capabilities and classifies each update', () => {
    const list = parse(
      lines(`${Z40} ${A40} refs/heads/feature\0${CAPS}\n`, `${A40} ${B40} refs/heads/main\n`, `${B40} ${Z40} refs/tags/v1\n`),
    );
    expect(list.capabilities).toEqual(CAPS.split(' '));
    expect(list.objectFormat).toBe('sha1');
    expect(list.signed).toBe(false);
    expect(list.updates).toEqual([
      { oldOid: Z40, newOid: A40, ref: 'refs/heads/feature', kind: 'create' },
      { oldOid: A40, newOid: B40, ref: 'refs/heads/main', kind: 'update' },
      { oldOid: B40, newOid: Z40, ref: 'refs/tags/v1', kind: 'delete' },
    ]);
    expect(capability(list.capabilities, 'side-band-64k')).toBe(true);
    expect(capability(list.capabilities, 'agent')).toBe('git/2.39.5');
    expect(capability(list.capabilities, 'side-band')).toBeUndefined();
  });

  it('takes an empty list (flush only) as nothing to push', () => {
    expect(parse(FLUSH_PKT).updates).toEqual([]);
  });

  it('reads sha256 object ids when object-format=sha256', () => {
    const list = parse(lines(`${Z64} ${A64} refs/heads/main\0report-status object-format=sha256\n`));
    expect(list.objectFormat).toBe('sha256');
    expect(list.updates[0]?.kind).toBe('create');
    expect(parseError(lines(`${Z40} ${A40} refs/heads/main\0report-status object-format=sha256\n`)).message).toContain('object-format');
    expect(parseError(lines(`${Z64} ${A64} refs/heads/main\0report-status\n`)).message).toContain('object-format');
  });

  it('normalises upper-case hex and keeps shallow lines', () => {
    const list = parse(lines(`shallow ${B40}\n`, `${Z40} ${'A'.repeat(40)} refs/heads/x\0report-status\n`));
    expect(list.shallow).toEqual([B40]);
    expect(list.updates[0]?.newOid).toBe(A40);
  });

  it('reads the commands of a push certificate and marks the list signed', () => {
    const list = parse(
      lines(
        'push-cert\0report-status side-band-64k\n',
        'certificate version 0.1\n',
        'pusher Someone <s@example.com> 1700000000 +0000\n',
        'pushee ssh://host/repo.git\n',
        'nonce 1700000000-abc\n',
        '\n',
        `${A40} ${B40} refs/heads/main\n`,
        '-----BEGIN PGP SIGNATURE-----\n',
        'xyz\n',
        '-----END PGP SIGNATURE-----\n',
        'push-cert-end\n',
      ),
    );
    expect(list.signed).toBe(true);
    expect(list.capabilities).toEqual(['report-status', 'side-band-64k']);
    expect(list.updates.map((u) => u.ref)).toEqual(['refs/heads/main']);
  });

  it('refuses what git would not send', () => {
    const cases: Array<[Buffer, string]> = [
      [lines(`${Z40} ${A40}\0report-status\n`), 'expected'],
      [lines(`${Z40} ${A40} \0report-status\n`), 'empty refname'],
      [lines(`${Z40} ${A40} refs/heads/a b\n`), 'space'],
      [lines(`${Z40} ${A40} refs/heads/a\tb\n`), 'control'],
      [lines(`${Z40} ${'g'.repeat(40)} refs/heads/a\n`), 'hex'],
      [lines(`${Z40} ${A40.slice(1)} refs/heads/a\n`), 'hex'],
      [lines(`${Z40} ${Z40} refs/heads/a\n`), 'two zero'],
      [lines(`${Z40} ${A64} refs/heads/a\n`), 'differ'],
      [lines(`${Z40} ${A40} refs/heads/a\0report-status\n`, `${Z40} ${A40} refs/heads/b\0side-band\n`), 'capabilities'],
      [lines(`${Z40} ${A40} refs/heads/a\n`, DELIM_PKT), 'delim'],
      [lines(''), 'expected'],
      [lines(`${Z40} ${A40} refs/heads/${'x'.repeat(MAX_REFNAME_BYTES)}\n`), 'longer'],
      [Buffer.concat([encodePkt(Buffer.concat([Buffer.from(`${Z40} ${A40} refs/heads/`), Buffer.of(0xc3, 0x28)])), FLUSH_PKT]), 'UTF-8'],
      [lines(`${Z40} ${A40} refs/heads/a\0object-format=md5\n`), 'object-format'],
      [lines('push-cert\0report-status\n', 'certificate version 0.1\n'), 'push-cert-end'],
    ];
    for (const [bytes, message] of cases) {
      expect(parseError(bytes).message).toContain(message);
    }
  });

  it('classifies by zero ids', () => {
    expect(classifyUpdate(Z40, A40)).toBe('create');
    expect(classifyUpdate(A40, Z40)).toBe('delete');
    expect(classifyUpdate(A40, B40)).toBe('update');
    expect(classifyUpdate(Z64, A64)).toBe('create');
  });
});
