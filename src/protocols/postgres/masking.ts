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
 * DataRow 'D': Int16 n, then n × (Int32 length, -1 for NULL; bytes). Returns the rewritten
 * message, or null when nothing changed (the original bytes are forwarded untouched).
 * Binary values of non-text types (integers, timestamps, bytea…) carry no text to mask; a binary
 * value whose column type is unknown is withheld, since it cannot be checked.
 */
export function maskDataRow(body: Buffer, shape: ResultShape, masker: Masker, counts: Record<string, number>): Buffer | null {
  const c = new Cursor(body, 'DataRow');
  const n = c.int16();
  /** Only the values that change; the rest are copied from the original row. */
  let replaced: Map<number, Buffer | null> | null = null;
  const originals: (Buffer | null)[] = [];
  for (let i = 0; i < n; i++) {
    const len = c.int32();
    const raw = len === -1 ? null : c.bytes(len);
    originals.push(raw);
    if (raw === null) continue;
    const column = shape.columns[i] ?? { name: `?column${i + 1}?`, tableOid: 0, typeOid: 0, format: 0 };
    const entry: PlanEntry = shape.plan[i] ?? 'detect';
    if (entry === 'pass') continue;
    let prefix: Buffer | null = null;
    let text: string;
    if (column.format === 1) {
      if (!TEXT_LIKE.has(column.typeOid)) {
        if (column.typeOid !== 0) continue;
        (replaced ??= new Map()).set(i, null);
        counts[label(column, 'withheld')] = (counts[label(column, 'withheld')] ?? 0) + 1;
        continue;
      }
      if (column.typeOid === JSONB) {
        prefix = raw.subarray(0, 1);
        text = raw.toString('utf8', 1);
      } else text = raw.toString('utf8');
    } else text = raw.toString('utf8');
    const local: Record<string, number> = {};
    const masked = masker.maskValue(text, entry, local);
    if (masked === text) continue;
    for (const [k, v] of Object.entries(local)) counts[label(column, k)] = (counts[label(column, k)] ?? 0) + v;
    (replaced ??= new Map()).set(i, masked === null ? null : prefix ? Buffer.concat([prefix, Buffer.from(masked, 'utf8')]) : Buffer.from(masked, 'utf8'));
  }
  if (replaced === null) return null;
  const changes = replaced;
  const values = originals.map((v, i) => (changes.has(i) ? changes.get(i)! : v));
  let size = 2;
  for (const v of values) size += 4 + (v === null ? 0 : v.length);
  const out = Buffer.allocUnsafe(size);
  out.writeInt16BE(n, 0);
  let off = 2;
  for (const v of values) {
    if (v === null) {
      out.writeInt32BE(-1, off);
      off += 4;
    } else {
      out.writeInt32BE(v.length, off);
      v.copy(out, off + 4);
      off += 4 + v.length;
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
