import type { Masker, PlanEntry } from '../../mask/index.js';
import { Backend } from './messages.js';
import { Cursor } from './reader.js';
import { encodeTyped } from './writer.js';

export interface ColumnShape {
  readonly name: string;
  readonly tableOid: number;
  readonly typeOid: number;
  /** 0 text, 1 binary. */
  readonly format: number;
}

/** A result set's columns and the masking decision for each, made once per RowDescription. */
export interface ResultShape {
  readonly columns: readonly ColumnShape[];
  readonly plan: readonly PlanEntry[];
  /** True when no column needs any work: rows are forwarded without being decoded. */
  readonly allPass: boolean;
}

/**
 * RowDescription 'T': Int16 n, then per field: String name, Int32 table OID, Int16 column number,
 * Int32 type OID, Int16 type size, Int32 type modifier, Int16 format code.
 */
export function decodeRowDescription(body: Buffer): ColumnShape[] {
  const c = new Cursor(body, 'RowDescription');
  const n = c.int16();
  const out: ColumnShape[] = [];
  for (let i = 0; i < n; i++) {
    const name = c.cstring();
    const tableOid = c.int32();
    c.int16();
    const typeOid = c.int32();
    c.int16();
    c.int32();
    const format = c.int16();
    out.push({ name, tableOid, typeOid, format });
  }
  return out;
}

export function shapeFor(columns: readonly ColumnShape[], masker: Masker): ResultShape {
  const plan = masker.planColumns(columns.map((c) => ({ name: c.name, ...(c.tableOid ? { tableOid: c.tableOid } : {}) })));
  return { columns, plan, allPass: plan.every((p) => p === 'pass') };
}

/** Shape when the columns are unknown (an Execute nobody described): detect on every value. */
export function unknownShape(count: number, formats: readonly number[]): ResultShape {
  const columns = Array.from({ length: count }, (_, i) => ({ name: `?column${i + 1}?`, tableOid: 0, typeOid: 0, format: formats.length === 1 ? formats[0]! : (formats[i] ?? 0) }));
  return { columns, plan: columns.map(() => 'detect' as const), allPass: false };
}

/** Types whose binary form is their text (jsonb: a version byte, then text). */
const TEXT_LIKE = new Set([25, 1043, 1042, 19, 114, 142, 705, 3802]);
const JSONB = 3802;

function label(column: ColumnShape, detector: string): string {
  return `${column.name}:${detector}`;
}

/**
 * Decodes `buf[start, end)` as UTF-8. Node's own slice method, when there is one: the cells of a
 * streamed result are decoded by the million, and `toString` (argument checks, encoding lookup)
 * on a view per cell (an object each) cost as much as the decoding itself.
 */
const utf8Slice: (buf: Buffer, start: number, end: number) => string =
  typeof (Buffer.prototype as { utf8Slice?: unknown }).utf8Slice === 'function'
    ? (buf, start, end) => (buf as unknown as { utf8Slice(start: number, end: number): string }).utf8Slice(start, end)
    : (buf, start, end) => buf.toString('utf8', start, end);

/**
 * DataRow 'D': Int16 n, then n × (Int32 length, -1 for NULL; bytes). Returns the rewritten
 * message, or null when nothing changed (the original bytes are forwarded untouched).
 * Binary values of non-text types (integers, timestamps, bytea…) carry no text to mask; a binary
 * value whose column type is unknown is withheld, since it cannot be checked.
 * Values are read where they lie in the row; only a row that changes is walked a second time.
 */
export function maskDataRow(body: Buffer, shape: ResultShape, masker: Masker, counts: Record<string, number>): Buffer | null {
  const c = new Cursor(body, 'DataRow');
  const n = c.int16();
  /** Only the values that change; the rest are copied from the original row. */
  let replaced: Map<number, Buffer | null> | null = null;
  for (let i = 0; i < n; i++) {
    const len = c.int32();
    if (len === -1) continue;
    const start = c.skip(len);
    const entry: PlanEntry = shape.plan[i] ?? 'detect';
    if (entry === 'pass') continue;
    const column = shape.columns[i] ?? { name: `?column${i + 1}?`, tableOid: 0, typeOid: 0, format: 0 };
    // jsonb's binary form: a version byte, kept as it is, then the text.
    let textStart = start;
    if (column.format === 1) {
      if (!TEXT_LIKE.has(column.typeOid)) {
        if (column.typeOid !== 0) continue;
        (replaced ??= new Map()).set(i, null);
        counts[label(column, 'withheld')] = (counts[label(column, 'withheld')] ?? 0) + 1;
        continue;
      }
      if (column.typeOid === JSONB) textStart = start + Math.min(1, len);
    }
    const text = utf8Slice(body, textStart, start + len);
    const local: Record<string, number> = {};
    const masked = masker.maskValue(text, entry, local);
    if (masked === text) continue;
    for (const [k, v] of Object.entries(local)) counts[label(column, k)] = (counts[label(column, k)] ?? 0) + v;
    const prefix = body.subarray(start, textStart);
    (replaced ??= new Map()).set(i, masked === null ? null : prefix.length > 0 ? Buffer.concat([prefix, Buffer.from(masked, 'utf8')]) : Buffer.from(masked, 'utf8'));
  }
  return replaced === null ? null : rebuildDataRow(body, n, replaced);
}

/** The row again, with the replaced values (null: SQL NULL) in place of the originals. */
function rebuildDataRow(body: Buffer, n: number, replaced: ReadonlyMap<number, Buffer | null>): Buffer {
  // The row was walked once already: the lengths are known to be in bounds.
  let size = 2;
  let off = 2;
  for (let i = 0; i < n; i++) {
    const len = body.readInt32BE(off);
    off += 4 + Math.max(len, 0);
    const value = replaced.has(i) ? replaced.get(i)! : len;
    size += 4 + (value === null ? 0 : typeof value === 'number' ? Math.max(value, 0) : value.length);
  }
  const out = Buffer.allocUnsafe(size);
  out.writeInt16BE(n, 0);
  let read = 2;
  let write = 2;
  for (let i = 0; i < n; i++) {
    const len = body.readInt32BE(read);
    const start = read + 4;
    read = start + Math.max(len, 0);
    const value = replaced.has(i) ? replaced.get(i)! : undefined;
    if (value === undefined) {
      out.writeInt32BE(len, write);
      write += 4;
      if (len > 0) write += body.copy(out, write, start, start + len);
    } else if (value === null) {
      out.writeInt32BE(-1, write);
      write += 4;
    } else {
      out.writeInt32BE(value.length, write);
      write += 4 + value.copy(out, write + 4);
    }
  }
  return encodeTyped(Backend.dataRow, out);
}

/** A DataRow's values as text, for the record: binary values as `\x` hex, each cut at `maxChars`. */
export function decodeRowValues(body: Buffer, columns: readonly ColumnShape[] | undefined, maxChars: number): (string | null)[] {
  const c = new Cursor(body, 'DataRow');
  const n = c.int16();
  const out: (string | null)[] = [];
  for (let i = 0; i < n; i++) {
    const len = c.int32();
    if (len === -1) {
      out.push(null);
      continue;
    }
    const raw = c.bytes(len);
    const binary = columns?.[i]?.format === 1;
    let text = binary ? `\\x${raw.subarray(0, maxChars / 2).toString('hex')}` : raw.toString('utf8', 0, Math.min(raw.length, maxChars * 4));
    if (text.length > maxChars) text = `${text.slice(0, maxChars)}…`;
    out.push(text);
  }
  return out;
}

/**
 * ErrorResponse / NoticeResponse: (Byte1 field, String value)*, 0. Every value is masked: detail
 * lines such as `Key (email)=(a@b.com) already exists` carry data.
 */
export function maskErrorFields(code: number, body: Buffer, masker: Masker, counts: Record<string, number>): Buffer | null {
  const c = new Cursor(body, 'ErrorResponse');
  const parts: Buffer[] = [];
  let changed = false;
  for (;;) {
    const field = c.byte();
    if (field === 0) break;
    const value = c.cstring();
    const r = masker.maskText(value);
    if (r.changed) {
      changed = true;
      for (const [k, v] of Object.entries(r.counts)) counts[`error:${k}`] = (counts[`error:${k}`] ?? 0) + v;
    }
    parts.push(Buffer.from([field]), Buffer.from(`${r.changed ? r.text : value}\0`, 'utf8'));
  }
  if (!changed) return null;
  parts.push(Buffer.from([0]));
  return encodeTyped(code, Buffer.concat(parts));
}

/** NotificationResponse 'A': Int32 process id, String channel, String payload. */
export function maskNotification(body: Buffer, masker: Masker, counts: Record<string, number>): Buffer | null {
  const c = new Cursor(body, 'NotificationResponse');
  const pid = c.int32();
  const channel = c.cstring();
  const payload = c.cstring();
  const r = masker.maskText(payload);
  if (!r.changed) return null;
  for (const [k, v] of Object.entries(r.counts)) counts[`notify:${k}`] = (counts[`notify:${k}`] ?? 0) + v;
  const head = Buffer.allocUnsafe(4);
  head.writeInt32BE(pid, 0);
  return encodeTyped(Backend.notificationResponse, Buffer.concat([head, Buffer.from(`${channel}\0${r.text}\0`, 'utf8')]));
}

/** CopyData 'd' from the server during COPY … TO STDOUT (text or CSV: one row per message). */
export function maskCopyData(body: Buffer, masker: Masker, counts: Record<string, number>): Buffer | null {
  const text = body.toString('utf8');
  const r = masker.maskText(text);
  if (!r.changed) return null;
  for (const [k, v] of Object.entries(r.counts)) counts[`copy:${k}`] = (counts[`copy:${k}`] ?? 0) + v;
  return encodeTyped(Backend.copyData, Buffer.from(r.text, 'utf8'));
}

/** CopyOutResponse 'H': Int8 overall format (0 text, 1 binary), Int16 n, n × Int16 column formats. */
export function copyOutIsBinary(body: Buffer): boolean {
  return new Cursor(body, 'CopyOutResponse').byte() === 1;
}
