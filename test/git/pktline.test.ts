import { describe, expect, it } from 'vitest';
import {
  DELIM_PKT,
  encodePkt,
  encodeSideband,
  FLUSH_PKT,
  GitProtocolError,
  MAX_PKT_BYTES,
  MAX_PKT_PAYLOAD_BYTES,
  PktLineReader,
  pktText,
  RESPONSE_END_PKT,
  SIDEBAND_SMALL_PKT_BYTES,
  SidebandChannel,
  type Pkt,
} from '../../src/protocols/git/pktline.js';
import { chunkings, rng } from './helpers.js';

function readAll(chunks: readonly Buffer[]): Array<string> {
  const reader = new PktLineReader('test');
  const out: string[] = [];
  for (const chunk of chunks) {
    reader.push(chunk);
    for (let pkt = reader.next(); pkt; pkt = reader.next()) out.push(show(pkt));
  }
  expect(reader.pending).toBe(0);
  return out;
}

function show(pkt: Pkt): string {
  return pkt.type === 'data' ? `data:${pkt.payload.toString('latin1')}` : pkt.type;
}

function firstError(bytes: Buffer): GitProtocolError {
  const reader = new PktLineReader('test');
  reader.push(bytes);
  try {
    while (reader.next()) {
      // drain
    }
  } catch (err) {
    expect(err).toBeInstanceOf(GitProtocolError);
    return err as GitProtocolError;
  }
  throw new Error('no error');
}

describe('pkt-line reader', () => {
  const stream = Buffer.concat([
    encodePkt('command=ls-refs\n'),
    encodePkt('agent=git/2.39.5'),
    DELIM_PKT,
    encodePkt(''),
    encodePkt(Buffer.from([0, 1, 2, 0xff])),
    FLUSH_PKT,
    encodePkt('x'.repeat(300)),
    RESPONSE_END_PKT,
  ]);
  const expected = [
    'data:command=ls-refs\n',
    'data:agent=git/2.39.5',
    'delim',
    'data:',
    `data:${Buffer.from([0, 1, 2, 0xff]).toString('latin1')}`,
    'flush',
    `data:${'x'.repeat(300)}`,
    'response-end',
  ];

  it('gives the same pkt-lines at every split offset', () => {
    expect(readAll([stream])).toEqual(expected);
    for (let at = 0; at <= stream.length; at++) {
      expect(readAll([stream.subarray(0, at), stream.subarray(at)])).toEqual(expected);
    }
  });

  it('gives the same pkt-lines one byte at a time and in random chunkings', () => {
    expect(readAll([...stream].map((b) => Buffer.of(b)))).toEqual(expected);
    const random = rng(7);
    for (let i = 0; i < 200; i++) expect(readAll(chunkings(stream, random))).toEqual(expected);
  });

  it('reads upper-case hex lengths, as git does', () => {
    const payload = 'y'.repeat(0xab - 4);
    expect(readAll([Buffer.from(`00AB${payload}`)])).toEqual([`data:${payload}`]);
  });

  it('accepts a pkt-line of exactly the maximum length', () => {
    const payload = Buffer.alloc(MAX_PKT_PAYLOAD_BYTES, 0x61);
    const encoded = encodePkt(payload);
    expect(encoded.length).toBe(MAX_PKT_BYTES);
    expect(encoded.subarray(0, 4).toString()).toBe('fff0');
    const reader = new PktLineReader();
    reader.push(encoded);
    const pkt = reader.next();
    expect(pkt?.type === 'data' && pkt.payload.length).toBe(MAX_PKT_PAYLOAD_BYTES);
  });

  it('refuses lengths that are not hex, reserved, or above the maximum', () => {
    for (const bad of ['zzzz', '00g1', ' 004', '-001', '0x10']) {
      expect(firstError(Buffer.from(`${bad}abcdefgh`)).kind).toBe('bad-length');
    }
    expect(firstError(Buffer.from('0003abc')).kind).toBe('bad-length');
    expect(firstError(Buffer.from('fff1')).kind).toBe('too-long');
    expect(firstError(Buffer.from('ffff')).kind).toBe('too-long');
    const err = firstError(Buffer.concat([encodePkt('fine\n'), Buffer.from('0003')]));
    expect(err.code).toBe('HOOP_GIT_PROTOCOL');
    expect(err.message).toContain('test');
  });

  it('stays broken after a bad length', () => {
    const reader = new PktLineReader();
    reader.push(Buffer.from('0003'));
    expect(() => reader.next()).toThrow(GitProtocolError);
    reader.push(encodePkt('ok'));
    expect(() => reader.next()).toThrow(GitProtocolError);
  });

  it('waits for the rest of a split header or payload without consuming it', () => {
    const reader = new PktLineReader();
    reader.push(Buffer.from('00'));
    expect(reader.next()).toBeNull();
    reader.push(Buffer.from('09hel'));
    expect(reader.next()).toBeNull();
    expect(reader.atBoundary).toBe(false);
    reader.push(Buffer.from('lo'));
    expect(show(reader.next()!)).toBe('data:hello');
    expect(reader.atBoundary).toBe(true);
  });

  it('hands back the bytes after the last pkt-line (a pack follows the commands)', () => {
    const reader = new PktLineReader();
    reader.push(Buffer.concat([encodePkt('a'), FLUSH_PKT, Buffer.from('PACK\0\0\0\x02')]));
    expect(show(reader.next()!)).toBe('data:a');
    expect(show(reader.next()!)).toBe('flush');
    expect(reader.takeRest().toString('latin1')).toBe('PACK\0\0\0\x02');
    expect(reader.pending).toBe(0);
  });

  it('strips one trailing newline from text', () => {
    expect(pktText(Buffer.from('a\n')).toString()).toBe('a');
    expect(pktText(Buffer.from('a\n\n')).toString()).toBe('a\n');
    expect(pktText(Buffer.from('a')).toString()).toBe('a');
  });
});

describe('pkt-line writer', () => {
  it('encodes the length in lower-case hex including the header', () => {
    expect(encodePkt('hello\n').toString()).toBe('000ahello\n');
    expect(encodePkt('').toString()).toBe('0004');
    expect(encodePkt('é').toString('latin1').slice(0, 4)).toBe('0006');
    expect(() => encodePkt(Buffer.alloc(MAX_PKT_PAYLOAD_BYTES + 1))).toThrow(GitProtocolError);
  });

  it('splits side-band data into frames no larger than the negotiated size', () => {
    const data = Buffer.alloc(150_000, 0x62);
    for (const max of [MAX_PKT_BYTES, SIDEBAND_SMALL_PKT_BYTES]) {
      const framed = encodeSideband(SidebandChannel.data, data, max);
      const reader = new PktLineReader();
      reader.push(framed);
      const parts: Buffer[] = [];
      for (let pkt = reader.next(); pkt; pkt = reader.next()) {
        expect(pkt.type).toBe('data');
        if (pkt.type !== 'data') continue;
        expect(pkt.payload.length + 4).toBeLessThanOrEqual(max);
        expect(pkt.payload[0]).toBe(SidebandChannel.data);
        parts.push(pkt.payload.subarray(1));
      }
      expect(Buffer.concat(parts).equals(data)).toBe(true);
    }
    expect(encodeSideband(SidebandChannel.progress, '').length).toBe(0);
    expect(encodeSideband(SidebandChannel.progress, 'hi\n').toString('latin1')).toBe('0008\x02hi\n');
  });
});
