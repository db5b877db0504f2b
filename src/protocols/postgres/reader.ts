import { codeName } from './messages.js';
import { PgMessageTooLargeError, PgProtocolError } from './errors.js';

/** The protocol's own ceiling: no message may announce more than 1 GiB. */
export const PROTOCOL_MAX_MESSAGE_BYTES = 0x40000000;
/** PostgreSQL refuses startup packets above this (MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_PACKET_BYTES = 10000;
/** Default cap for messages whose body the gateway must read (queries, binds, errors). */
export const DEFAULT_MAX_MESSAGE_BYTES = 128 * 1024 * 1024;

/**
 * What the engine does with the frames a reader finds.
 * Frames whose code is flagged in `wantsBody` are assembled and handed to `frame`;
 * all others are forwarded as they stream by, and `header` only sees their code and length.
 */
/**
 * What to do with a frame: forward it (true), drop or replace it (false; see `FrameReader.inject`),
 * or `HOLD` it: the visitor keeps it, and the reader stops and hands back the bytes after it, so
 * nothing behind a held frame moves until the visitor releases it.
 */
export type FrameVerdict = boolean | typeof HOLD;
export const HOLD = 'hold';

export interface FrameVisitor {
  /**
   * A complete frame whose body was wanted. `body` may be a view into the socket's chunk: copy it
   * to keep it past this call.
   */
  frame(code: number, body: Buffer): FrameVerdict;
  /** A frame forwarded without assembly (DataRow, CopyData…): its code and announced length. */
  header(code: number, length: number): void;
}

export interface FrameReaderOptions {
  /** 256 flags indexed by message code: 1 = assemble the body and call `frame`. */
  readonly wantsBody: Uint8Array;
  /** Cap for frames that are assembled in memory. */
  readonly maxBodyBytes: number;
  /** Who sends these frames, for error messages ("client", "server"). */
  readonly peer: string;
}

/**
 * Splits a byte stream of typed messages (Byte1 code, Int32 length, body) into frames without
 * assuming anything about chunk boundaries. Bytes that need no inspection are forwarded as
 * views of the incoming chunk (contiguous frames in one call), so an unchanged stream is not copied;
 * frames split across chunks are assembled only when their body is wanted, and streamed otherwise,
 * which keeps memory bounded for arbitrarily large rows and COPY data.
 */
export class FrameReader {
  private readonly header = Buffer.alloc(5);
  private headerFill = 0;
  /**
   * Pieces of a frame being assembled across chunks (code + length + body), when its body is wanted.
   * Kept as pieces, not one buffer of the announced size, so a peer that announces a huge message
   * and sends nothing makes the gateway hold only what actually arrived.
   */
  private assembly: Buffer[] | null = null;
  private assemblyLength = 0;
  private assemblyFill = 0;
  /** Bytes of a streamed frame still to come. */
  private streamLeft = 0;
  /** Start of the not-yet-forwarded run in the current chunk. */
  private span = 0;
  private chunk: Buffer | null = null;
  private frameStart = 0;
  private forward: (bytes: Buffer) => void = () => {};

  constructor(private readonly opts: FrameReaderOptions) {}

  /** True when the stream is between frames (nothing partial buffered). */
  get atBoundary(): boolean {
    return this.headerFill === 0 && this.assembly === null && this.streamLeft === 0;
  }

  /**
   * Sends bytes in place of (or in front of) the frame `frame` is currently deciding on,
   * keeping the order of everything already forwarded.
   */
  inject(bytes: Buffer): void {
    this.flushBefore();
    this.forward(bytes);
  }

  /** Forwards everything before the frame `frame` is currently deciding on. */
  flushBefore(): void {
    if (this.chunk !== null && this.frameStart > this.span) {
      this.forward(this.chunk.subarray(this.span, this.frameStart));
      this.span = this.frameStart;
    }
  }

  /**
   * Reads a chunk. Returns null when all of it was handled, or, after a frame was held, the bytes
   * that followed it (not read yet: push them again once the hold is released).
   */
  push(chunk: Buffer, visitor: FrameVisitor, forward: (bytes: Buffer) => void): Buffer | null {
    this.forward = forward;
    this.chunk = chunk;
    this.span = 0;
    const n = chunk.length;
    let off = 0;
    try {
      while (off < n) {
        if (this.streamLeft > 0) {
          const take = Math.min(this.streamLeft, n - off);
          this.streamLeft -= take;
          off += take;
          continue;
        }
        if (this.assembly !== null) {
          const take = Math.min(this.assemblyLength - this.assemblyFill, n - off);
          this.assembly.push(chunk.subarray(off, off + take));
          this.assemblyFill += take;
          off += take;
          this.span = off;
          if (this.assemblyFill === this.assemblyLength) {
            const asm = Buffer.concat(this.assembly, this.assemblyLength);
            this.assembly = null;
            this.frameStart = off;
            const verdict = visitor.frame(asm[0]!, asm.subarray(5));
            if (verdict === true) forward(asm);
            else if (verdict === HOLD) return this.stop(off);
          }
          continue;
        }
        if (this.headerFill > 0) {
          const take = Math.min(5 - this.headerFill, n - off);
          chunk.copy(this.header, this.headerFill, off, off + take);
          this.headerFill += take;
          off += take;
          this.span = off;
          if (this.headerFill < 5) continue;
          this.headerFill = 0;
          const code = this.header[0]!;
          const length = this.checkLength(code, this.header.readInt32BE(1));
          if (this.opts.wantsBody[code] === 1) {
            const head = Buffer.from(this.header);
            if (length === 4) {
              this.frameStart = off;
              const verdict = visitor.frame(code, head.subarray(5));
              if (verdict === true) forward(head);
              else if (verdict === HOLD) return this.stop(off);
            } else {
              this.assembly = [head];
              this.assemblyLength = 1 + length;
              this.assemblyFill = 5;
            }
          } else {
            visitor.header(code, length);
            forward(Buffer.from(this.header));
            this.streamLeft = length - 4;
          }
          continue;
        }
        // At a frame boundary inside this chunk.
        if (n - off < 5) {
          this.flushSpan(off);
          chunk.copy(this.header, 0, off, n);
          this.headerFill = n - off;
          off = n;
          this.span = n;
          break;
        }
        const code = chunk[off]!;
        const length = this.checkLength(code, chunk.readInt32BE(off + 1));
        const end = off + 1 + length;
        if (this.opts.wantsBody[code] === 1) {
          if (end <= n) {
            this.frameStart = off;
            const verdict = visitor.frame(code, chunk.subarray(off + 5, end));
            if (verdict !== true) {
              this.flushSpan(off);
              this.span = end;
            }
            off = end;
            if (verdict === HOLD) return this.stop(off);
          } else {
            this.flushSpan(off);
            this.assembly = [chunk.subarray(off, n)];
            this.assemblyLength = 1 + length;
            this.assemblyFill = n - off;
            off = n;
            this.span = n;
          }
        } else {
          visitor.header(code, length);
          if (end <= n) off = end;
          else {
            this.streamLeft = end - n;
            off = n;
          }
        }
      }
      this.flushSpan(n);
      return null;
    } finally {
      this.chunk = null;
    }
  }

  /** After a held frame: forward what came before it and hand back what follows it. */
  private stop(off: number): Buffer | null {
    this.flushSpan(off);
    const chunk = this.chunk!;
    return off < chunk.length ? chunk.subarray(off) : null;
  }

  private flushSpan(end: number): void {
    if (end > this.span && this.chunk !== null) {
      this.forward(this.chunk.subarray(this.span, end));
    }
    this.span = end;
  }

  private checkLength(code: number, length: number): number {
    if (length < 4) {
      throw new PgProtocolError(`${this.opts.peer} sent message ${codeName(code)} with invalid length ${length}`);
    }
    const limit = this.opts.wantsBody[code] === 1 ? this.opts.maxBodyBytes : PROTOCOL_MAX_MESSAGE_BYTES;
    if (length > limit) throw new PgMessageTooLargeError(length, limit, `${this.opts.peer} message ${codeName(code)}`);
    return length;
  }
}

/** Flags for `FrameReaderOptions.wantsBody` from a list of codes. */
export function wantBodies(codes: readonly number[]): Uint8Array {
  const flags = new Uint8Array(256);
  for (const c of codes) flags[c] = 1;
  return flags;
}

/**
 * Collects complete untyped startup-phase packets: Int32 length (counting itself), then the body.
 * Returns the packets found; leftover bytes stay buffered for the next push.
 */
export class StartupReader {
  private pending: Buffer = Buffer.alloc(0);

  /** Appends bytes and returns every complete packet. */
  push(chunk: Buffer): Buffer[] {
    this.append(chunk);
    const out: Buffer[] = [];
    for (let p = this.next(); p !== null; p = this.next()) out.push(p);
    return out;
  }

  append(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
  }

  /**
   * The next complete packet, or null. One at a time, because after StartupMessage the
   * stream switches to typed messages and the rest must not be read as startup packets.
   */
  next(): Buffer | null {
    if (this.pending.length < 4) return null;
    const length = this.pending.readInt32BE(0);
    if (length < 8) throw new PgProtocolError(`client sent a startup packet with invalid length ${length}`);
    if (length > MAX_STARTUP_PACKET_BYTES) {
      throw new PgMessageTooLargeError(length, MAX_STARTUP_PACKET_BYTES, 'client startup packet');
    }
    if (this.pending.length < length) return null;
    const packet = this.pending.subarray(4, length);
    this.pending = this.pending.subarray(length);
    return packet;
  }

  /** Bytes received after the last complete packet (the start of the typed-message stream). */
  takeRest(): Buffer {
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    return rest;
  }
}

/** Bounds-checked reads over one message body. Any overrun is a named protocol error. */
export class Cursor {
  offset = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  private need(n: number): void {
    if (this.offset + n > this.buf.length) {
      throw new PgProtocolError(`${this.what}: message ends early (needed ${n} more bytes at offset ${this.offset})`);
    }
  }

  byte(): number {
    this.need(1);
    return this.buf[this.offset++]!;
  }

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  /** A NUL-terminated string. */
  cstring(): string {
    const end = this.buf.indexOf(0, this.offset);
    if (end < 0) throw new PgProtocolError(`${this.what}: string is not NUL-terminated`);
    const s = this.buf.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return s;
  }

  /** Steps over `n` bytes and returns where they start: for reading them in place, without a view. */
  skip(n: number): number {
    if (n < 0) throw new PgProtocolError(`${this.what}: negative length ${n}`);
    this.need(n);
    const start = this.offset;
    this.offset += n;
    return start;
  }

  bytes(n: number): Buffer {
    if (n < 0) throw new PgProtocolError(`${this.what}: negative length ${n}`);
    this.need(n);
    const b = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return b;
  }

  rest(): Buffer {
    const b = this.buf.subarray(this.offset);
    this.offset = this.buf.length;
    return b;
  }
}

// ---- Decoders. Each comment gives the body's wire layout (after code and length). ----

export interface StartupMessage {
  readonly protocol: number;
  readonly params: Readonly<Record<string, string>>;
}

/** StartupMessage: Int32 protocol (3.0 = 196608), then pairs of CString name, CString value, then a NUL. */
export function decodeStartup(body: Buffer): StartupMessage {
  const c = new Cursor(body, 'StartupMessage');
  const protocol = c.int32();
  const params: Record<string, string> = {};
  for (;;) {
    if (c.remaining === 0) throw new PgProtocolError('StartupMessage: missing the terminating NUL');
    const name = c.cstring();
    if (name === '') break;
    params[name] = c.cstring();
  }
  if (c.remaining > 0) throw new PgProtocolError('StartupMessage: bytes after the terminating NUL');
  return { protocol, params };
}

/** CancelRequest: Int32 80877102, Int32 process id, then the secret key (4 bytes in protocol 3.0). */
export function decodeCancelRequest(body: Buffer): { processId: number; secretKey: Buffer } {
  const c = new Cursor(body, 'CancelRequest');
  c.int32();
  const processId = c.int32();
  const secretKey = Buffer.from(c.rest());
  if (secretKey.length < 4 || secretKey.length > 256) throw new PgProtocolError('CancelRequest: bad secret key length');
  return { processId, secretKey };
}

/** Query 'Q': CString sql. */
export function decodeQuery(body: Buffer): string {
  return new Cursor(body, 'Query').cstring();
}

export interface ParseMessage {
  readonly name: string;
  readonly sql: string;
}

/** Parse 'P': CString statement name, CString sql, Int16 n, n × Int32 parameter type OIDs. */
export function decodeParse(body: Buffer): ParseMessage {
  const c = new Cursor(body, 'Parse');
  const name = c.cstring();
  const sql = c.cstring();
  const n = c.int16();
  if (n < 0) throw new PgProtocolError('Parse: negative parameter type count');
  c.bytes(n * 4);
  return { name, sql };
}

export interface BindMessage {
  readonly portal: string;
  readonly statement: string;
  /** Format code per parameter (0 text, 1 binary), after the protocol's one-code-for-all rule. */
  readonly formats: readonly number[];
  readonly values: readonly (Buffer | null)[];
  /** Result column format codes as sent: none (all text), one for all, or one per column. */
  readonly resultFormats: readonly number[];
}

/**
 * Bind 'B': CString portal, CString statement, Int16 nf, nf × Int16 format codes,
 * Int16 np, np × (Int32 length (-1 = NULL), bytes), Int16 nr, nr × Int16 result format codes.
 */
export function decodeBind(body: Buffer): BindMessage {
  const c = new Cursor(body, 'Bind');
  const portal = c.cstring();
  const statement = c.cstring();
  const nf = c.int16();
  if (nf < 0) throw new PgProtocolError('Bind: negative format count');
  const codes: number[] = [];
  for (let i = 0; i < nf; i++) codes.push(c.int16());
  const np = c.int16();
  if (np < 0) throw new PgProtocolError('Bind: negative parameter count');
  if (nf > 1 && nf !== np) throw new PgProtocolError(`Bind: ${nf} format codes for ${np} parameters`);
  const values: (Buffer | null)[] = [];
  const formats: number[] = [];
  for (let i = 0; i < np; i++) {
    const len = c.int32();
    values.push(len === -1 ? null : c.bytes(len));
    formats.push(nf === 0 ? 0 : nf === 1 ? codes[0]! : codes[i]!);
  }
  const nr = c.int16();
  if (nr < 0) throw new PgProtocolError('Bind: negative result format count');
  const resultFormats: number[] = [];
  for (let i = 0; i < nr; i++) resultFormats.push(c.int16());
  return { portal, statement, formats, values, resultFormats };
}

/** Execute 'E': CString portal, Int32 max rows (0 = all). */
export function decodeExecute(body: Buffer): { portal: string; maxRows: number } {
  const c = new Cursor(body, 'Execute');
  return { portal: c.cstring(), maxRows: c.int32() };
}

/** Close 'C' and Describe 'D': Byte1 'S' (statement) or 'P' (portal), CString name. */
export function decodeTarget(body: Buffer, what: string): { kind: 'S' | 'P'; name: string } {
  const c = new Cursor(body, what);
  const k = c.byte();
  if (k !== 0x53 && k !== 0x50) throw new PgProtocolError(`${what}: target must be 'S' or 'P', got ${codeName(k)}`);
  return { kind: k === 0x53 ? 'S' : 'P', name: c.cstring() };
}

/** CommandComplete 'C': CString command tag, e.g. "SELECT 5", "INSERT 0 1". */
export function decodeCommandComplete(body: Buffer): string {
  return new Cursor(body, 'CommandComplete').cstring();
}

/** ErrorResponse 'E' / NoticeResponse 'N': repeated (Byte1 field code, CString value), ended by a 0 byte. */
export function decodeErrorFields(body: Buffer): Map<number, string> {
  const c = new Cursor(body, 'ErrorResponse');
  const fields = new Map<number, string>();
  for (;;) {
    const code = c.byte();
    if (code === 0) break;
    fields.set(code, c.cstring());
  }
  return fields;
}

/** BackendKeyData 'K': Int32 process id, then the secret key (4 bytes in protocol 3.0). */
export function decodeBackendKeyData(body: Buffer): { processId: number; secretKey: Buffer } {
  const c = new Cursor(body, 'BackendKeyData');
  const processId = c.int32();
  const secretKey = Buffer.from(c.rest());
  if (secretKey.length < 4 || secretKey.length > 256) throw new PgProtocolError(`BackendKeyData: bad secret key length ${secretKey.length}`);
  return { processId, secretKey };
}

/** ParameterStatus 'S': CString name, CString value. */
export function decodeParameterStatus(body: Buffer): { name: string; value: string } {
  const c = new Cursor(body, 'ParameterStatus');
  return { name: c.cstring(), value: c.cstring() };
}

/** Rows affected or returned, from a command tag ("SELECT 5" → 5, "INSERT 0 3" → 3, "BEGIN" → 0). */
export function rowsFromTag(tag: string): number {
  const sp = tag.lastIndexOf(' ');
  if (sp < 0) return 0;
  const n = Number(tag.slice(sp + 1));
  return Number.isFinite(n) ? n : 0;
}
