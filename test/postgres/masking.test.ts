import { describe, expect, it } from 'vitest';
import { createMasker } from '../../src/mask/index.js';
import { Cursor } from '../../src/protocols/postgres/reader.js';
import { PgProtocolError } from '../../src/protocols/postgres/errors.js';
import { maskDataRow, shapeFor } from '../../src/protocols/postgres/masking.js';

function dataRowBody(values: (string | Buffer | null)[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0, values.length])];
  for (const v of values) {
    const len = Buffer.alloc(4);
    if (v === null) {
      len.writeInt32BE(-1, 0);
      parts.push(len);
    } else {
      const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
      len.writeInt32BE(b.length, 0);
      parts.push(len, b);
    }
  }
  return Buffer.concat(parts);
}

function decodeRowBytes(message: Buffer): (Buffer | null)[] {
  const c = new Cursor(message.subarray(5), 'DataRow');
  const n = c.int16();
  const out: (Buffer | null)[] = [];
  for (let i = 0; i < n; i++) {
    const len = c.int32();
    out.push(len === -1 ? null : c.bytes(len));
  }
  expect(c.remaining).toBe(0);
  expect(message.readInt32BE(1)).toBe(message.length - 1);
  return out;
}

function decodeRow(message: Buffer): (string | null)[] {
  return decodeRowBytes(message).map((v) => (v === null ? null : v.toString('utf8')));
}

describe('DataRow masking', () => {
  const masker = createMasker({});
  const columns = ['email', 'note', 'n', 'missing', 'card'].map((name) => ({ name, tableOid: 0, typeOid: 25, format: 0 }));
  const shape = shapeFor(columns, masker);

  it('rewrites only the values that change and keeps every other column, NULLs included', () => {
    const counts: Record<string, number> = {};
    const out = maskDataRow(dataRowBody(['a@example.com', 'plain text', '42', null, '4242 4242 4242 4242']), shape, masker, counts);
    expect(out).not.toBeNull();
    expect(decodeRow(out!)).toEqual(['[REDACTED:email]', 'plain text', '42', null, '[REDACTED:card]']);
    expect(counts).toEqual({ 'email:email': 1, 'card:card': 1 });
  });

  it('returns null (forward the original) when nothing is sensitive', () => {
    expect(maskDataRow(dataRowBody(['x', 'y', '1', null, 'z']), shape, masker, {})).toBeNull();
  });

  it('reads values in place from a row inside a larger chunk, and keeps the others byte for byte', () => {
    const row = dataRowBody(['', 'zoë ☃ 日本', 'b@example.org', '', 'ok']);
    // The relay hands the masker a view into the socket's chunk, not a buffer of its own.
    const chunk = Buffer.concat([Buffer.from('leading bytes'), row, Buffer.from('trailing')]);
    const body = chunk.subarray(13, 13 + row.length);
    const out = maskDataRow(body, shape, masker, {});
    expect(decodeRow(out!)).toEqual(['', 'zoë ☃ 日本', '[REDACTED:email]', '', 'ok']);
    expect(body.equals(row)).toBe(true);
  });

  it('keeps the version byte of a binary jsonb, passes other binary types, withholds binary of unknown type', () => {
    const binaryColumns = [
      { name: 'doc', tableOid: 0, typeOid: 3802, format: 1 },
      { name: 'n', tableOid: 0, typeOid: 23, format: 1 },
      { name: 'mystery', tableOid: 0, typeOid: 0, format: 1 },
      { name: 'note', tableOid: 0, typeOid: 25, format: 0 },
    ];
    const binaryShape = shapeFor(binaryColumns, masker);
    const jsonb = Buffer.concat([Buffer.from([1]), Buffer.from('{"mail": "c@example.com"}')]);
    const int4 = Buffer.from([0, 0, 0, 42]);
    const counts: Record<string, number> = {};
    const out = maskDataRow(dataRowBody([jsonb, int4, Buffer.from([9, 9]), 'fine']), binaryShape, masker, counts);
    const [doc, n, mystery, note] = decodeRowBytes(out!);
    expect(doc![0]).toBe(1);
    expect(doc!.subarray(1).toString()).toBe('{"mail": "[REDACTED:email]"}');
    expect(n).toEqual(int4);
    expect(mystery).toBeNull();
    expect(note!.toString()).toBe('fine');
    expect(counts).toEqual({ 'doc:email': 1, 'mystery:withheld': 1 });
  });

  it('turns a value into NULL when its style is null', () => {
    const nulling = createMasker({ styles: { email: 'null' } });
    const out = maskDataRow(dataRowBody(['x', 'd@example.com', '7', null, 'y']), shapeFor(columns, nulling), nulling, {});
    expect(decodeRow(out!)).toEqual(['x', null, '7', null, 'y']);
  });

  it('rejects a row whose value runs past its end as a protocol error', () => {
    const row = dataRowBody(['abc', 'def']);
    expect(() => maskDataRow(row.subarray(0, row.length - 1), shape, masker, {})).toThrow(PgProtocolError);
  });
});
