import { HoopError } from '../../errors.js';

/**
 * Watches an SFTP session that the gateway relays as raw bytes (it does not terminate SFTP) and
 * turns it into a short list of file operations for the audit trail.
 *
 * Protocol: SFTP version 3 (draft-ietf-secsh-filexfer-02), which is what OpenSSH speaks, plus the
 * OpenSSH extensions that change files (posix-rename, hardlink, lsetstat, copy-data).
 *
 * What is recorded, and when:
 * - `read` / `write`: one record per open file, at its CLOSE, with the bytes moved summed (bytes the
 *   server returned in DATA replies; bytes of WRITEs the server acknowledged). A file opened with
 *   CREAT or TRUNC counts as a write even when nothing was written, because the open itself changed it.
 * - `open`: a file opened and closed without reading or writing.
 * - `list`: a directory opened (OPENDIR), at its CLOSE.
 * - `remove`, `rename` (path → target), `mkdir`, `rmdir`, `setstat`, `symlink` and `link` (path is the
 *   link created, target what it points to), `readlink`, `copy` (server-side copy-data: path → target):
 *   at the server's reply.
 * - `extended`: an extension request this observer does not know, with its name as the path.
 * - Not recorded: STAT, LSTAT, FSTAT, REALPATH, READDIR and the read-only OpenSSH extensions
 *   (statvfs, limits, expand-path, home-directory, users-groups-by-id) and fsync. Clients issue
 *   these around every command (sftp stats each file it gets or puts, resolves every cd); they
 *   change nothing and would outnumber the operations that matter.
 *
 * `status` is `ok` or the name of the SFTP status the server answered (`no-such-file`,
 * `permission-denied`, `failure`…), matched to the request by its id; for a read or write, the first
 * failure of any of its reads or writes. `unknown` means the answer was never seen: the channel
 * closed first (close()) or observing stopped.
 *
 * Bytes of WRITE and DATA payloads are never copied or assembled: only the fields in front of the
 * data are read, and the data is skipped by counting. A stream that breaks the framing, announces a
 * packet above MAX_PACKET_BYTES or exceeds the tracking limits makes the observer stop and report one
 * `protocol-error` record; it never throws into the relay, which keeps moving bytes.
 */

// Packet types (draft-ietf-secsh-filexfer-02 §3).
export const SSH_FXP_INIT = 1;
export const SSH_FXP_VERSION = 2;
export const SSH_FXP_OPEN = 3;
export const SSH_FXP_CLOSE = 4;
export const SSH_FXP_READ = 5;
export const SSH_FXP_WRITE = 6;
export const SSH_FXP_LSTAT = 7;
export const SSH_FXP_FSTAT = 8;
export const SSH_FXP_SETSTAT = 9;
export const SSH_FXP_FSETSTAT = 10;
export const SSH_FXP_OPENDIR = 11;
export const SSH_FXP_READDIR = 12;
export const SSH_FXP_REMOVE = 13;
export const SSH_FXP_MKDIR = 14;
export const SSH_FXP_RMDIR = 15;
export const SSH_FXP_REALPATH = 16;
export const SSH_FXP_STAT = 17;
export const SSH_FXP_RENAME = 18;
export const SSH_FXP_READLINK = 19;
export const SSH_FXP_SYMLINK = 20;
export const SSH_FXP_STATUS = 101;
export const SSH_FXP_HANDLE = 102;
export const SSH_FXP_DATA = 103;
export const SSH_FXP_NAME = 104;
export const SSH_FXP_ATTRS = 105;
export const SSH_FXP_EXTENDED = 200;
export const SSH_FXP_EXTENDED_REPLY = 201;

// OPEN pflags (§6.3).
export const SSH_FXF_READ = 0x01;
export const SSH_FXF_WRITE = 0x02;
export const SSH_FXF_APPEND = 0x04;
export const SSH_FXF_CREAT = 0x08;
export const SSH_FXF_TRUNC = 0x10;
export const SSH_FXF_EXCL = 0x20;

// STATUS codes (§7).
export const SSH_FX_OK = 0;
export const SSH_FX_EOF = 1;
export const SSH_FX_NO_SUCH_FILE = 2;
export const SSH_FX_PERMISSION_DENIED = 3;
export const SSH_FX_FAILURE = 4;
export const SSH_FX_BAD_MESSAGE = 5;
export const SSH_FX_NO_CONNECTION = 6;
export const SSH_FX_CONNECTION_LOST = 7;
export const SSH_FX_OP_UNSUPPORTED = 8;

const STATUS_NAMES: Record<number, string> = {
  [SSH_FX_OK]: 'ok',
  [SSH_FX_EOF]: 'eof',
  [SSH_FX_NO_SUCH_FILE]: 'no-such-file',
  [SSH_FX_PERMISSION_DENIED]: 'permission-denied',
  [SSH_FX_FAILURE]: 'failure',
  [SSH_FX_BAD_MESSAGE]: 'bad-message',
  [SSH_FX_NO_CONNECTION]: 'no-connection',
  [SSH_FX_CONNECTION_LOST]: 'connection-lost',
  [SSH_FX_OP_UNSUPPORTED]: 'op-unsupported',
};

export function sftpStatusName(code: number): string {
  return STATUS_NAMES[code] ?? `status-${code}`;
}

/** OpenSSH's sftp-server refuses messages above 256 KiB (SFTP_MAX_MSG_LENGTH); headroom for other servers' headers. */
export const MAX_PACKET_BYTES = 256 * 1024 + 1024;
/** The draft caps handles at 256 bytes (§3). */
export const MAX_HANDLE_BYTES = 256;
/** Open files and directories tracked at once; OpenSSH's client keeps a handful. */
export const MAX_TRACKED_HANDLES = 1024;
/** Requests awaiting a reply that are tracked at once; OpenSSH's client keeps at most 64 reads or writes in flight by default. */
export const MAX_PENDING_REQUESTS = 8192;
/** Longer paths are cut in records (Linux refuses paths above 4096 bytes anyway). */
export const MAX_RECORDED_PATH_BYTES = 4096;

export type SftpOpName =
  | 'open'
  | 'read'
  | 'write'
  | 'remove'
  | 'rename'
  | 'mkdir'
  | 'rmdir'
  | 'list'
  | 'setstat'
  | 'symlink'
  | 'link'
  | 'readlink'
  | 'copy'
  | 'extended'
  | 'protocol-error';

export interface SftpOperation {
  readonly op: SftpOpName;
  /** The path as the client sent it (UTF-8, invalid bytes replaced); '' for protocol-error. */
  readonly path: string;
  readonly target?: string;
  /** read/write: bytes moved. */
  readonly bytes?: number;
  /** `ok`, an SFTP status name, `unknown`, or for protocol-error the reason (see SftpProtocolError). */
  readonly status: string;
  /** protocol-error: what was wrong, for logs. */
  readonly detail?: string;
}

export type SftpProtocolErrorReason = 'packet-too-large' | 'malformed-packet' | 'too-many-handles' | 'too-many-requests' | 'internal';

/** The SFTP stream could not be followed; the observer stopped. */
export class SftpProtocolError extends HoopError {
  constructor(
    readonly reason: SftpProtocolErrorReason,
    message: string,
  ) {
    super('HOOP_SFTP_PROTOCOL', message);
  }
}

type Field = 'u32' | 'u64' | 'str';

/**
 * The leading fields of a packet body the observer needs, per type and direction. Everything after
 * them (attributes, the data of WRITE and DATA, the entries of NAME) is skipped unread.
 */
// Client → server, after uint32 length, byte type:
//   INIT       uint32 version, extension pairs…           (nothing needed)
//   OPEN       uint32 id, string filename, uint32 pflags, ATTRS
//   CLOSE      uint32 id, string handle
//   READ       uint32 id, string handle, uint64 offset, uint32 len
//   WRITE      uint32 id, string handle, uint64 offset, string data
//   FSETSTAT   uint32 id, string handle, ATTRS
//   OPENDIR / REMOVE / RMDIR / READLINK   uint32 id, string path
//   SETSTAT / MKDIR                       uint32 id, string path, ATTRS
//   RENAME     uint32 id, string oldpath, string newpath
//   SYMLINK    uint32 id, string targetpath, string linkpath   (OpenSSH's order, the reverse of the draft)
//   EXTENDED   uint32 id, string request-name, request-specific fields (EXTENSION_FIELDS)
//   STAT / LSTAT / REALPATH / FSTAT / READDIR   uint32 id, string path-or-handle
const CLIENT_FIELDS: Partial<Record<number, readonly Field[]>> = {
  [SSH_FXP_OPEN]: ['u32', 'str', 'u32'],
  [SSH_FXP_CLOSE]: ['u32', 'str'],
  [SSH_FXP_READ]: ['u32', 'str'],
  [SSH_FXP_WRITE]: ['u32', 'str', 'u64', 'u32'],
  [SSH_FXP_FSETSTAT]: ['u32', 'str'],
  [SSH_FXP_SETSTAT]: ['u32', 'str'],
  [SSH_FXP_OPENDIR]: ['u32', 'str'],
  [SSH_FXP_REMOVE]: ['u32', 'str'],
  [SSH_FXP_MKDIR]: ['u32', 'str'],
  [SSH_FXP_RMDIR]: ['u32', 'str'],
  [SSH_FXP_READLINK]: ['u32', 'str'],
  [SSH_FXP_RENAME]: ['u32', 'str', 'str'],
  [SSH_FXP_SYMLINK]: ['u32', 'str', 'str'],
  [SSH_FXP_EXTENDED]: ['u32', 'str'],
  // Not recorded, but their ids are read so a reply is never matched to an older request.
  [SSH_FXP_LSTAT]: ['u32'],
  [SSH_FXP_FSTAT]: ['u32'],
  [SSH_FXP_READDIR]: ['u32'],
  [SSH_FXP_REALPATH]: ['u32'],
  [SSH_FXP_STAT]: ['u32'],
};

// Server → client:
//   VERSION         uint32 version, extension pairs…       (nothing needed)
//   STATUS          uint32 id, uint32 code, string message, string language
//   HANDLE          uint32 id, string handle
//   DATA            uint32 id, string data
//   NAME            uint32 id, uint32 count, entries…
//   ATTRS           uint32 id, ATTRS
//   EXTENDED_REPLY  uint32 id, reply-specific fields
const SERVER_FIELDS: Partial<Record<number, readonly Field[]>> = {
  [SSH_FXP_STATUS]: ['u32', 'u32'],
  [SSH_FXP_HANDLE]: ['u32', 'str'],
  // Only the data's length field: the data itself is skipped.
  [SSH_FXP_DATA]: ['u32', 'u32'],
  [SSH_FXP_NAME]: ['u32'],
  [SSH_FXP_ATTRS]: ['u32'],
  [SSH_FXP_EXTENDED_REPLY]: ['u32'],
};

/** Fields after the request name of EXTENDED requests the observer records. */
const EXTENSION_FIELDS: Record<string, readonly Field[]> = {
  // string oldpath, string newpath
  'posix-rename@openssh.com': ['str', 'str'],
  // string oldpath (existing), string newpath (link created)
  'hardlink@openssh.com': ['str', 'str'],
  // string path, ATTRS
  'lsetstat@openssh.com': ['str'],
  // string read-handle, uint64 read-offset, uint64 read-length (0: to EOF), string write-handle, uint64 write-offset
  'copy-data': ['str', 'u64', 'u64', 'str'],
};

/** Read-only or flushing extensions: not recorded (see the module comment). */
const UNRECORDED_EXTENSIONS = new Set([
  'statvfs@openssh.com',
  'fstatvfs@openssh.com',
  'limits@openssh.com',
  'expand-path@openssh.com',
  'home-directory',
  'users-groups-by-id@openssh.com',
  'fsync@openssh.com',
]);

/**
 * How many leading body bytes hold `fields`, given the bytes collected so far: a string's end is
 * known only once its length prefix is in, so the answer may grow as more arrives.
 */
function bytesNeeded(fields: readonly Field[], head: Buffer): number {
  let pos = 0;
  for (const field of fields) {
    if (field === 'str') {
      if (head.length < pos + 4) return pos + 4;
      pos += 4 + head.readUInt32BE(pos);
    } else {
      pos += field === 'u64' ? 8 : 4;
    }
  }
  return pos;
}

/** Bounds-checked reads over the collected leading bytes of a packet body. */
class FieldReader {
  private pos = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(): number {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  }

  bytes(max = Infinity): Buffer {
    const n = this.u32();
    if (n > max) throw new SftpProtocolError('malformed-packet', `${this.what}: a ${n}-byte field exceeds ${max} bytes`);
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new SftpProtocolError('malformed-packet', `${this.what} is shorter than its fields`);
  }
}

type PacketHandler = (type: number, head: Buffer, bodyLength: number) => void;

/**
 * Frames one direction of an SFTP stream.
 * Wire layout: uint32 length (of what follows), byte type, body (length − 1 bytes).
 * For each packet only the leading body bytes that `fieldsOf` asks for are collected (copied, so
 * packets may straddle chunks); the rest of the body is skipped by counting.
 */
class PacketScanner {
  private readonly header = Buffer.alloc(5);
  private headerFill = 0;
  private type = 0;
  private bodyLength = 0;
  /** Leading body bytes being collected, `head.length` = bytes wanted so far. */
  private head: Buffer | null = null;
  private headFill = 0;
  private skipLeft = 0;

  constructor(
    private readonly peer: 'client' | 'server',
    private readonly fieldsOf: (type: number, head: Buffer) => readonly Field[] | undefined,
    private readonly onPacket: PacketHandler,
  ) {}

  push(chunk: Buffer): void {
    const n = chunk.length;
    let off = 0;
    while (off < n) {
      if (this.skipLeft > 0) {
        const take = Math.min(this.skipLeft, n - off);
        this.skipLeft -= take;
        off += take;
        continue;
      }
      if (this.head !== null) {
        const take = Math.min(this.head.length - this.headFill, n - off);
        chunk.copy(this.head, this.headFill, off, off + take);
        this.headFill += take;
        off += take;
        if (this.headFill === this.head.length) this.headCollected();
        continue;
      }
      const take = Math.min(5 - this.headerFill, n - off);
      chunk.copy(this.header, this.headerFill, off, off + take);
      this.headerFill += take;
      off += take;
      if (this.headerFill === 5) {
        this.headerFill = 0;
        this.startPacket(this.header.readUInt32BE(0), this.header[4]!);
      }
    }
  }

  private startPacket(length: number, type: number): void {
    if (length === 0) throw new SftpProtocolError('malformed-packet', `${this.peer} sent a packet of length 0`);
    if (length > MAX_PACKET_BYTES) {
      throw new SftpProtocolError('packet-too-large', `${this.peer} packet of ${length} bytes exceeds the ${MAX_PACKET_BYTES}-byte limit`);
    }
    this.type = type;
    this.bodyLength = length - 1;
    this.head = Buffer.alloc(0);
    this.headFill = 0;
    this.headCollected();
  }

  /** The bytes wanted so far are in: want more, or hand the packet over and skip the rest. */
  private headCollected(): void {
    const head = this.head!;
    const fields = this.fieldsOf(this.type, head);
    const wanted = fields === undefined ? 0 : Math.min(bytesNeeded(fields, head), this.bodyLength);
    if (wanted > head.length) {
      const grown = Buffer.allocUnsafe(wanted);
      head.copy(grown, 0, 0, this.headFill);
      this.head = grown;
      return;
    }
    this.head = null;
    this.skipLeft = this.bodyLength - head.length;
    if (fields !== undefined) this.onPacket(this.type, head, this.bodyLength);
  }
}

interface HandleState {
  readonly path: string;
  readonly dir: boolean;
  /** Opened with CREAT or TRUNC: the open itself may have changed the file. */
  readonly modifiesOnOpen: boolean;
  readRequested: boolean;
  writeRequested: boolean;
  bytesRead: number;
  bytesWritten: number;
  /** Its activity is already in a `copy` record. */
  copied: boolean;
  /** First failure among its reads and writes. */
  failure: string | null;
}

type Pending =
  | { readonly kind: 'open'; readonly path: string; readonly dir: boolean; readonly modifiesOnOpen: boolean }
  | { readonly kind: 'close'; readonly handle: string }
  | { readonly kind: 'read'; readonly handle: string }
  | { readonly kind: 'write'; readonly handle: string; readonly length: number }
  | { readonly kind: 'op'; readonly op: SftpOpName; readonly path: string; readonly target?: string; readonly copyHandles?: readonly string[] };

export type SftpOperationSink = (op: SftpOperation) => void;

export class SftpObserver {
  private readonly client: PacketScanner;
  private readonly server: PacketScanner;
  private readonly pending = new Map<number, Pending>();
  private readonly handles = new Map<string, HandleState>();
  private stoppedWith: SftpProtocolError | null = null;
  private done = false;

  /** `sink` gets each operation as it completes; it must not throw (what it throws is dropped). */
  constructor(private readonly sink: SftpOperationSink) {
    this.client = new PacketScanner('client', clientFields, (type, head, bodyLength) => this.clientPacket(type, head, bodyLength));
    this.server = new PacketScanner('server', (type) => SERVER_FIELDS[type], (type, head, bodyLength) => this.serverPacket(type, head, bodyLength));
  }

  /** Why observing stopped, when the stream could not be followed. */
  get error(): SftpProtocolError | null {
    return this.stoppedWith;
  }

  /** True once close() ran or the stream could not be followed: further bytes are ignored. */
  get stopped(): boolean {
    return this.done;
  }

  /** Bytes the client sent towards the server, in order. Never throws. */
  fromClient(chunk: Buffer): void {
    this.feed(this.client, chunk);
  }

  /** Bytes the server sent towards the client, in order. Never throws. */
  fromServer(chunk: Buffer): void {
    this.feed(this.server, chunk);
  }

  /**
   * The channel closed: files still open and requests still unanswered are recorded with status
   * `unknown` (an upload cut off still shows what got through). Idempotent.
   */
  close(): void {
    if (this.done) return;
    this.done = true;
    this.flushUnknown();
  }

  private feed(scanner: PacketScanner, chunk: Buffer): void {
    if (this.done) return;
    try {
      scanner.push(chunk);
    } catch (err) {
      const error =
        err instanceof SftpProtocolError ? err : new SftpProtocolError('internal', `SFTP observer failed: ${err instanceof Error ? err.message : String(err)}`);
      this.done = true;
      this.stoppedWith = error;
      this.emit({ op: 'protocol-error', path: '', status: error.reason, detail: error.message });
      this.flushUnknown();
    }
  }

  private clientPacket(type: number, head: Buffer, bodyLength: number): void {
    const r = new FieldReader(head, `client packet type ${type}`);
    const id = r.u32();
    // A new request with the id of an unanswered one: the server's reply is to the new one.
    this.pending.delete(id);
    switch (type) {
      case SSH_FXP_OPEN: {
        const path = pathText(r.bytes());
        const pflags = r.u32();
        this.expect(id, { kind: 'open', path, dir: false, modifiesOnOpen: (pflags & (SSH_FXF_CREAT | SSH_FXF_TRUNC)) !== 0 });
        return;
      }
      case SSH_FXP_OPENDIR:
        this.expect(id, { kind: 'open', path: pathText(r.bytes()), dir: true, modifiesOnOpen: false });
        return;
      case SSH_FXP_CLOSE:
        this.expect(id, { kind: 'close', handle: handleKey(r.bytes(MAX_HANDLE_BYTES)) });
        return;
      case SSH_FXP_READ: {
        const handle = handleKey(r.bytes(MAX_HANDLE_BYTES));
        const state = this.handles.get(handle);
        if (state === undefined) return;
        state.readRequested = true;
        this.expect(id, { kind: 'read', handle });
        return;
      }
      case SSH_FXP_WRITE: {
        const handle = handleKey(r.bytes(MAX_HANDLE_BYTES));
        r.u64();
        const length = r.u32();
        // The head ends where the data starts; the data must fit the rest of the body.
        if (length > bodyLength - head.length) throw new SftpProtocolError('malformed-packet', 'client WRITE is shorter than its data');
        const state = this.handles.get(handle);
        if (state === undefined) return;
        state.writeRequested = true;
        this.expect(id, { kind: 'write', handle, length });
        return;
      }
      case SSH_FXP_FSETSTAT: {
        const state = this.handles.get(handleKey(r.bytes(MAX_HANDLE_BYTES)));
        if (state !== undefined) this.expect(id, { kind: 'op', op: 'setstat', path: state.path });
        return;
      }
      case SSH_FXP_SETSTAT:
        this.expect(id, { kind: 'op', op: 'setstat', path: pathText(r.bytes()) });
        return;
      case SSH_FXP_REMOVE:
        this.expect(id, { kind: 'op', op: 'remove', path: pathText(r.bytes()) });
        return;
      case SSH_FXP_MKDIR:
        this.expect(id, { kind: 'op', op: 'mkdir', path: pathText(r.bytes()) });
        return;
      case SSH_FXP_RMDIR:
        this.expect(id, { kind: 'op', op: 'rmdir', path: pathText(r.bytes()) });
        return;
      case SSH_FXP_READLINK:
        this.expect(id, { kind: 'op', op: 'readlink', path: pathText(r.bytes()) });
        return;
      case SSH_FXP_RENAME: {
        const from = pathText(r.bytes());
        this.expect(id, { kind: 'op', op: 'rename', path: from, target: pathText(r.bytes()) });
        return;
      }
      case SSH_FXP_SYMLINK: {
        const target = pathText(r.bytes());
        this.expect(id, { kind: 'op', op: 'symlink', path: pathText(r.bytes()), target });
        return;
      }
      case SSH_FXP_EXTENDED:
        this.extendedRequest(id, r);
        return;
    }
  }

  private extendedRequest(id: number, r: FieldReader): void {
    const name = r.bytes().toString('latin1');
    switch (name) {
      case 'posix-rename@openssh.com': {
        const from = pathText(r.bytes());
        this.expect(id, { kind: 'op', op: 'rename', path: from, target: pathText(r.bytes()) });
        return;
      }
      case 'hardlink@openssh.com': {
        const existing = pathText(r.bytes());
        this.expect(id, { kind: 'op', op: 'link', path: pathText(r.bytes()), target: existing });
        return;
      }
      case 'lsetstat@openssh.com':
        this.expect(id, { kind: 'op', op: 'setstat', path: pathText(r.bytes()) });
        return;
      case 'copy-data': {
        const from = handleKey(r.bytes(MAX_HANDLE_BYTES));
        r.u64();
        r.u64();
        const to = handleKey(r.bytes(MAX_HANDLE_BYTES));
        const source = this.handles.get(from);
        const dest = this.handles.get(to);
        this.expect(id, { kind: 'op', op: 'copy', path: source?.path ?? '', target: dest?.path ?? '', copyHandles: [from, to] });
        return;
      }
    }
    if (UNRECORDED_EXTENSIONS.has(name)) return;
    this.expect(id, { kind: 'op', op: 'extended', path: pathText(Buffer.from(name, 'latin1')) });
  }

  private serverPacket(type: number, head: Buffer, bodyLength: number): void {
    const r = new FieldReader(head, `server packet type ${type}`);
    const id = r.u32();
    const request = this.pending.get(id);
    if (request === undefined) return;
    this.pending.delete(id);
    switch (type) {
      case SSH_FXP_STATUS:
        this.status(request, sftpStatusName(r.u32()));
        return;
      case SSH_FXP_HANDLE: {
        const handle = handleKey(r.bytes(MAX_HANDLE_BYTES));
        if (request.kind !== 'open') return;
        if (this.handles.size >= MAX_TRACKED_HANDLES && !this.handles.has(handle)) {
          throw new SftpProtocolError('too-many-handles', `more than ${MAX_TRACKED_HANDLES} files or directories open at once`);
        }
        this.handles.set(handle, {
          path: request.path,
          dir: request.dir,
          modifiesOnOpen: request.modifiesOnOpen,
          readRequested: false,
          writeRequested: false,
          bytesRead: 0,
          bytesWritten: 0,
          copied: false,
          failure: null,
        });
        return;
      }
      case SSH_FXP_DATA: {
        const length = r.u32();
        // 4 id + 4 + data: the data must fit the body.
        if (length > bodyLength - 8) throw new SftpProtocolError('malformed-packet', 'server DATA is shorter than its data');
        if (request.kind === 'read') {
          const state = this.handles.get(request.handle);
          if (state !== undefined) state.bytesRead += length;
        }
        return;
      }
      default:
        // NAME (readlink's answer), ATTRS, EXTENDED_REPLY: success.
        if (request.kind === 'op') this.completeOp(request, 'ok');
    }
  }

  private status(request: Pending, status: string): void {
    switch (request.kind) {
      case 'open':
        // Only failures reach here: a successful open answers with HANDLE.
        this.emit({ op: request.dir ? 'list' : 'open', path: request.path, status });
        return;
      case 'read':
      case 'write': {
        const state = this.handles.get(request.handle);
        if (state === undefined) return;
        if (status === 'ok' && request.kind === 'write') state.bytesWritten += request.length;
        else if (status !== 'ok' && status !== 'eof') state.failure ??= status;
        return;
      }
      case 'close': {
        const state = this.handles.get(request.handle);
        if (state === undefined) return;
        this.handles.delete(request.handle);
        this.closed(state, status);
        return;
      }
      case 'op':
        this.completeOp(request, status);
    }
  }

  private completeOp(request: Extract<Pending, { kind: 'op' }>, status: string): void {
    if (request.copyHandles !== undefined) {
      for (const h of request.copyHandles) {
        const state = this.handles.get(h);
        if (state !== undefined) state.copied = true;
      }
    }
    this.emit({ op: request.op, path: request.path, ...(request.target !== undefined ? { target: request.target } : {}), status });
  }

  /** The records of a file or directory whose handle closed (or was abandoned, status `unknown`). */
  private closed(state: HandleState, closeStatus: string): void {
    const status = state.failure ?? closeStatus;
    if (state.dir) {
      this.emit({ op: 'list', path: state.path, status });
      return;
    }
    const read = state.readRequested;
    const wrote = state.writeRequested || (state.modifiesOnOpen && !state.copied);
    if (read) this.emit({ op: 'read', path: state.path, bytes: state.bytesRead, status });
    if (wrote) this.emit({ op: 'write', path: state.path, bytes: state.bytesWritten, status });
    if (!read && !wrote && !state.copied) this.emit({ op: 'open', path: state.path, status });
  }

  private expect(id: number, request: Pending): void {
    if (this.pending.size >= MAX_PENDING_REQUESTS && !this.pending.has(id)) {
      throw new SftpProtocolError('too-many-requests', `more than ${MAX_PENDING_REQUESTS} requests awaiting a reply`);
    }
    this.pending.set(id, request);
  }

  private flushUnknown(): void {
    for (const request of this.pending.values()) {
      if (request.kind === 'op') this.completeOp(request, 'unknown');
      else if (request.kind === 'open') this.emit({ op: request.dir ? 'list' : 'open', path: request.path, status: 'unknown' });
    }
    this.pending.clear();
    for (const state of this.handles.values()) this.closed(state, 'unknown');
    this.handles.clear();
  }

  private emit(op: SftpOperation): void {
    try {
      this.sink(op);
    } catch {
      // The relay must not fail because recording did; the sink owns its errors.
    }
  }
}

/** Which leading fields of a client packet are needed; EXTENDED's depend on its request name. */
function clientFields(type: number, head: Buffer): readonly Field[] | undefined {
  const fields = CLIENT_FIELDS[type];
  if (type !== SSH_FXP_EXTENDED || fields === undefined) return fields;
  // The name's end is known only once its length is in; until then ask for id + name.
  if (head.length < 8) return fields;
  const nameEnd = 8 + head.readUInt32BE(4);
  if (head.length < nameEnd) return fields;
  const extra = EXTENSION_FIELDS[head.toString('latin1', 8, nameEnd)];
  return extra === undefined ? fields : [...fields, ...extra];
}

/** Handles are opaque bytes: latin1 maps them one-to-one onto a string key. */
function handleKey(bytes: Buffer): string {
  return bytes.toString('latin1');
}

function pathText(bytes: Buffer): string {
  if (bytes.length <= MAX_RECORDED_PATH_BYTES) return bytes.toString('utf8');
  return `${bytes.toString('utf8', 0, MAX_RECORDED_PATH_BYTES)}…`;
}
