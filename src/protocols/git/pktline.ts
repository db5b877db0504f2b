import { HoopError } from '../../errors.js';

/** Git's LARGE_PACKET_MAX: no pkt-line, header included, may be longer. */
export const MAX_PKT_BYTES = 65520;
/** The 4 hex digits in front of every pkt-line. */
export const PKT_HEADER_BYTES = 4;
export const MAX_PKT_PAYLOAD_BYTES = MAX_PKT_BYTES - PKT_HEADER_BYTES;
/** Frame size of plain `side-band` (git's DEFAULT_PACKET_MAX); `side-band-64k` uses MAX_PKT_BYTES. */
export const SIDEBAND_SMALL_PKT_BYTES = 1000;

export const FLUSH_PKT: Buffer = Buffer.from('0000', 'latin1');
export const DELIM_PKT: Buffer = Buffer.from('0001', 'latin1');
export const RESPONSE_END_PKT: Buffer = Buffer.from('0002', 'latin1');

/** Sideband channels, the first payload byte of each frame once side-band is negotiated. */
export const SidebandChannel = {
  /** Data the protocol carries (pack, report-status). */
  data: 1,
  /** Progress text: git prints it as `remote: …`. */
  progress: 2,
  /** A fatal error: git prints it and gives up. */
  error: 3,
} as const;
export type SidebandChannelValue = (typeof SidebandChannel)[keyof typeof SidebandChannel];

export type GitProtocolErrorKind =
  /** The 4-byte length is not hex, or is one of the reserved values 0003. */
  | 'bad-length'
  /** The length is above MAX_PKT_BYTES. */
  | 'too-long'
  /** A pkt-line is well framed but its content is not what this point of the protocol allows. */
  | 'bad-line'
  /** A list, section or field is above one of hoop's named limits. */
  | 'over-limit';

/**
 * A peer sent bytes that are not git's wire protocol (or not the part of it hoop accepts).
 * `kind` tells which rule broke; security decisions treat any of them as a refusal.
 */
export class GitProtocolError extends HoopError {
  readonly kind: GitProtocolErrorKind;

  constructor(kind: GitProtocolErrorKind, message: string) {
    super('HOOP_GIT_PROTOCOL', message);
    this.kind = kind;
  }
}

export type Pkt =
  /** `payload` excludes the length header; it may be a view of a pushed chunk: copy it to keep it. */
  | { readonly type: 'data'; readonly payload: Buffer }
  | { readonly type: 'flush' }
  | { readonly type: 'delim' }
  | { readonly type: 'response-end' };

const FLUSH: Pkt = { type: 'flush' };
const DELIM: Pkt = { type: 'delim' };
const RESPONSE_END: Pkt = { type: 'response-end' };
const EMPTY = Buffer.alloc(0);

function hexDigit(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x61 + 10;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x41 + 10;
  return -1;
}

/**
 * pkt-line framing (gitprotocol-common(5)):
 *
 *   +------+---------------------------+
 *   | LLLL | payload (LLLL - 4 bytes)  |
 *   +------+---------------------------+
 *
 *   LLLL   4 hex digits (git writes lowercase, reads either case): the length of the
 *          whole pkt-line, these 4 bytes included; at most 65520 (MAX_PKT_BYTES).
 *   0000   flush-pkt: ends a list or a section; no payload.
 *   0001   delim-pkt (protocol v2): separates a request's capabilities from its arguments.
 *   0002   response-end-pkt (protocol v2, stateless connections).
 *   0003   invalid.
 *   0004   an empty data line.
 *
 * Text payloads usually end in "\n"; readers strip one trailing newline (see `pktText`).
 * After side-band is negotiated, each data payload starts with the channel byte (1, 2, 3).
 *
 * The reader is a cursor over the bytes pushed so far: pkt-lines may arrive split across, or
 * packed into, chunks of any size. Once it has thrown, it stays broken: the stream has no
 * recoverable framing after a bad length.
 */
export class PktLineReader {
  private buf: Buffer = EMPTY;
  private pos = 0;
  private failure: GitProtocolError | null = null;
  private readonly peer: string;

  /** @param peer who sends these bytes, for error messages ("client", "server"). */
  constructor(peer = 'peer') {
    this.peer = peer;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.pos >= this.buf.length) {
      this.buf = chunk;
    } else {
      // Only the unread tail is kept, so a long stream of pkt-lines never accumulates.
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk]);
    }
    this.pos = 0;
  }

  /** Bytes pushed but not yet returned as pkt-lines. */
  get pending(): number {
    return this.buf.length - this.pos;
  }

  /** True when no partial pkt-line is buffered. */
  get atBoundary(): boolean {
    return this.pending === 0;
  }

  /** The next complete pkt-line, or null until more bytes are pushed. */
  next(): Pkt | null {
    if (this.failure) throw this.failure;
    if (this.pending < PKT_HEADER_BYTES) return null;
    let length = 0;
    for (let i = 0; i < PKT_HEADER_BYTES; i++) {
      const digit = hexDigit(this.buf[this.pos + i]!);
      if (digit < 0) {
        const shown = JSON.stringify(this.buf.subarray(this.pos, this.pos + PKT_HEADER_BYTES).toString('latin1'));
        return this.fail('bad-length', `${this.peer} sent a pkt-line length that is not 4 hex digits: ${shown}`);
      }
      length = length * 16 + digit;
    }
    if (length === 0) return this.take(PKT_HEADER_BYTES, FLUSH);
    if (length === 1) return this.take(PKT_HEADER_BYTES, DELIM);
    if (length === 2) return this.take(PKT_HEADER_BYTES, RESPONSE_END);
    if (length < PKT_HEADER_BYTES) return this.fail('bad-length', `${this.peer} sent the invalid pkt-line length ${length}`);
    if (length > MAX_PKT_BYTES) {
      return this.fail('too-long', `${this.peer} sent a pkt-line of ${length} bytes; the limit is ${MAX_PKT_BYTES}`);
    }
    if (this.pending < length) return null;
    const payload = this.buf.subarray(this.pos + PKT_HEADER_BYTES, this.pos + length);
    return this.take(length, { type: 'data', payload });
  }

  /** Hands back every unread byte and empties the reader (the stream goes on unframed, e.g. a pack). */
  takeRest(): Buffer {
    const rest = this.buf.subarray(this.pos);
    this.buf = EMPTY;
    this.pos = 0;
    return rest;
  }

  private take(bytes: number, pkt: Pkt): Pkt {
    this.pos += bytes;
    if (this.pos >= this.buf.length) {
      this.buf = EMPTY;
      this.pos = 0;
    }
    return pkt;
  }

  private fail(kind: GitProtocolErrorKind, message: string): never {
    this.failure = new GitProtocolError(kind, message);
    throw this.failure;
  }
}

/** A text payload without its one optional trailing newline (what git's readers see). */
export function pktText(payload: Buffer): Buffer {
  return payload.length > 0 && payload[payload.length - 1] === 0x0a ? payload.subarray(0, payload.length - 1) : payload;
}

/** Encodes one data pkt-line. */
export function encodePkt(data: Buffer | string): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const length = payload.length + PKT_HEADER_BYTES;
  if (length > MAX_PKT_BYTES) {
    throw new GitProtocolError('too-long', `cannot encode a pkt-line of ${length} bytes; the limit is ${MAX_PKT_BYTES}`);
  }
  const out = Buffer.allocUnsafe(length);
  out.write(length.toString(16).padStart(PKT_HEADER_BYTES, '0'), 0, 'latin1');
  payload.copy(out, PKT_HEADER_BYTES);
  return out;
}

/**
 * Wraps `data` in sideband frames of one channel, split so that no frame exceeds
 * `maxPktBytes` (MAX_PKT_BYTES for side-band-64k, SIDEBAND_SMALL_PKT_BYTES for side-band).
 * Empty data gives no frame: an empty band-1 frame is a keepalive, not nothing.
 */
export function encodeSideband(channel: SidebandChannelValue, data: Buffer | string, maxPktBytes: number = MAX_PKT_BYTES): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const room = Math.min(maxPktBytes, MAX_PKT_BYTES) - PKT_HEADER_BYTES - 1;
  const frames: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += room) {
    const piece = bytes.subarray(at, Math.min(bytes.length, at + room));
    frames.push(encodePkt(Buffer.concat([Buffer.of(channel), piece])));
  }
  return Buffer.concat(frames);
}
