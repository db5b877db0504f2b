import { describe, expect, it } from 'vitest';
import { createMasker } from '../../src/mask/index.js';
import { Cursor } from '../../src/protocols/postgres/reader.js';
import { maskDataRow, shapeFor } from '../../src/protocols/postgres/masking.js';

function dataRowBody(values: (string | null)[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0, values.length])];
  for (const v of values) {
    const len = Buffer.alloc(4);
    if (v === null) {
      len.writeInt32BE(-1, 0);
      parts.push(len);
    } else {
      const b = Buffer.from(v, 'utf8');
      len.writeInt32BE(b.length, 0);
      parts.push(len, b);
    }
  }
  return Buffer.concat(parts);
}

function decodeRow(message: Buffer): (string | null)[] {
  const c = new Cursor(message.subarray(5), 'DataRow');
  const n = c.int16();
  const out: (string | null)[] = [];
  for (let i = 0; i < n; i++) {
    const len = c.int32();
    out.push(len === -1 ? null : c.bytes(len).toString('utf8'));
  }
  expect(c.remaining).toBe(0);
  expect(message.readInt32BE(1)).toBe(message.length - 1);
  return out;
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
});
