/**
 * PostgreSQL protocol 3.0 fixtures for reader tests.
 *
 * Every message here is assembled byte by byte with `Bytes` below (manual big-endian shifts,
 * manual length prefixes), deliberately without writer.ts or Buffer#writeInt*, so tests that
 * feed these bytes to the reader do not merely mirror the production encoders.
 */

/** Tiny append-only byte builder. Integers are encoded with shifts (two's complement for negatives). */
export class Bytes {
  private readonly parts: Buffer[] = [];
  private small: number[] = [];

  private flushSmall(): void {
    if (this.small.length > 0) {
      this.parts.push(Buffer.from(this.small));
      this.small = [];
    }
  }

  u8(...values: number[]): this {
    for (const v of values) this.small.push(v & 0xff);
    return this;
  }

  i16(v: number): this {
    return this.u8((v >> 8) & 0xff, v & 0xff);
  }

  i32(v: number): this {
    return this.u8((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  }

  /** UTF-8 text without terminator. */
  str(s: string): this {
    return this.raw(Buffer.from(s, 'utf8'));
  }

  /** UTF-8 text followed by NUL. */
  cstr(s: string): this {
    return this.str(s).u8(0);
  }

  raw(b: Uint8Array): this {
    this.flushSmall();
    this.parts.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    return this;
  }

  build(): Buffer {
    this.flushSmall();
    return Buffer.concat(this.parts);
  }
}

const ch = (c: string): number => c.charCodeAt(0);

/** One typed message: Byte1 code, Int32 length (counting itself), body. */
export interface Message {
  readonly name: string;
  readonly code: number;
  readonly body: Buffer;
  /** The whole message as it travels on the wire. */
  readonly bytes: Buffer;
}

export function typed(name: string, code: number | string, body: Buffer = Buffer.alloc(0)): Message {
  const c = typeof code === 'string' ? ch(code) : code;
  const bytes = new Bytes()
    .u8(c)
    .i32(body.length + 4)
    .raw(body)
    .build();
  return { name, code: c, body, bytes };
}

/** An untyped startup-phase packet: Int32 length (counting itself), body. */
export function untyped(body: Buffer): Buffer {
  return new Bytes()
    .i32(body.length + 4)
    .raw(body)
    .build();
}

export const concat = (messages: readonly Message[]): Buffer => Buffer.concat(messages.map((m) => m.bytes));

// ---------------------------------------------------------------------------------------------
// Frontend (client → server)
// ---------------------------------------------------------------------------------------------

export const query = (sql: string): Message => typed(`Query(${sql.slice(0, 20)})`, 'Q', new Bytes().cstr(sql).build());

export interface ParseSpec {
  readonly name: string;
  readonly sql: string;
  readonly paramTypes: readonly number[];
}

export const parseBody = (p: ParseSpec): Buffer => {
  const b = new Bytes().cstr(p.name).cstr(p.sql).i16(p.paramTypes.length);
  for (const t of p.paramTypes) b.i32(t);
  return b.build();
};
export const parse = (p: ParseSpec): Message => typed(`Parse(${p.name})`, 'P', parseBody(p));

export interface BindSpec {
  readonly portal: string;
  readonly statement: string;
  /** Raw parameter format codes as sent (0, 1 or n entries). */
  readonly paramFormats: readonly number[];
  /** Parameter values; null = SQL NULL (length -1). */
  readonly params: readonly (Buffer | null)[];
  readonly resultFormats: readonly number[];
}

export const bindBody = (s: BindSpec): Buffer => {
  const b = new Bytes().cstr(s.portal).cstr(s.statement).i16(s.paramFormats.length);
  for (const f of s.paramFormats) b.i16(f);
  b.i16(s.params.length);
  for (const v of s.params) {
    if (v === null) b.i32(-1);
    else b.i32(v.length).raw(v);
  }
  b.i16(s.resultFormats.length);
  for (const f of s.resultFormats) b.i16(f);
  return b.build();
};
export const bind = (s: BindSpec): Message => typed(`Bind(${s.portal}/${s.statement})`, 'B', bindBody(s));

/** Describe 'D' / Close 'C' body: Byte1 'S' or 'P', CString name. */
export const targetBody = (kind: 'S' | 'P', name: string): Buffer => new Bytes().u8(ch(kind)).cstr(name).build();
export const describe = (kind: 'S' | 'P', name: string): Message => typed(`Describe(${kind}${name})`, 'D', targetBody(kind, name));
export const close = (kind: 'S' | 'P', name: string): Message => typed(`Close(${kind}${name})`, 'C', targetBody(kind, name));

export const executeBody = (portal: string, maxRows: number): Buffer => new Bytes().cstr(portal).i32(maxRows).build();
export const execute = (portal: string, maxRows: number): Message => typed(`Execute(${portal})`, 'E', executeBody(portal, maxRows));

export const sync = (): Message => typed('Sync', 'S');
export const flush = (): Message => typed('Flush', 'H');
export const terminate = (): Message => typed('Terminate', 'X');
export const copyData = (data: Buffer | string): Message =>
  typed('CopyData', 'd', typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
export const copyDone = (): Message => typed('CopyDone', 'c');
export const copyFail = (reason: string): Message => typed('CopyFail', 'f', new Bytes().cstr(reason).build());

/** FunctionCall 'F': Int32 oid, Int16 nf, formats, Int16 na, args (Int32 len | -1, bytes), Int16 result format. */
export function functionCall(oid: number, argFormats: readonly number[], args: readonly (Buffer | null)[], resultFormat: number): Message {
  const b = new Bytes().i32(oid).i16(argFormats.length);
  for (const f of argFormats) b.i16(f);
  b.i16(args.length);
  for (const a of args) {
    if (a === null) b.i32(-1);
    else b.i32(a.length).raw(a);
  }
  b.i16(resultFormat);
  return typed('FunctionCall', 'F', b.build());
}

export const passwordMessage = (password: string): Message => typed('PasswordMessage', 'p', new Bytes().cstr(password).build());
export const saslInitialResponse = (mechanism: string, data: string): Message =>
  typed('SASLInitialResponse', 'p', new Bytes().cstr(mechanism).i32(Buffer.byteLength(data)).str(data).build());
export const saslResponse = (data: string): Message => typed('SASLResponse', 'p', new Bytes().str(data).build());

/** Big-endian int4 / int8 / bool binary parameter values. */
export const int4 = (n: number): Buffer => new Bytes().i32(n).build();
export const int8 = (hi: number, lo: number): Buffer => new Bytes().i32(hi).i32(lo).build();
export const text = (s: string): Buffer => Buffer.from(s, 'utf8');

export const SAMPLE_PARSE: ParseSpec = {
  name: 'stmt_orders',
  sql: 'SELECT id, total FROM orders WHERE customer_id = $1 AND created_at > $2 AND note = $3',
  paramTypes: [23, 1184, 0], // int4, timestamptz, unspecified
};

/** Per-parameter formats, a binary int4, a text timestamp, a NULL, two result formats. */
export const SAMPLE_BIND: BindSpec = {
  portal: '',
  statement: 'stmt_orders',
  paramFormats: [1, 0, 0],
  params: [int4(42), text('2024-01-31 23:59:59+00'), null],
  resultFormats: [0, 1],
};

/** One format code for all parameters (binary), an empty non-NULL value, one result format for all. */
export const SAMPLE_BIND_ONE_FORMAT: BindSpec = {
  portal: 'cur_1',
  statement: '',
  paramFormats: [1],
  params: [int8(0, 7), Buffer.alloc(0), Buffer.from([1])],
  resultFormats: [1],
};

/** No format codes (all text), no result formats. */
export const SAMPLE_BIND_TEXT: BindSpec = {
  portal: '',
  statement: '',
  paramFormats: [],
  params: [text('héllo wörld ✓'), null],
  resultFormats: [],
};

/** A realistic client stream touching every frontend message type. */
export function frontendMessages(): Message[] {
  return [
    passwordMessage('s3cr3t-p@ss'),
    saslInitialResponse('SCRAM-SHA-256', 'n,,n=,r=rOprNGfwEbeRWgbNEkqO'),
    saslResponse('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='),
    query("SELECT id, email FROM users WHERE name = 'Zoë' -- ✓"),
    query(''),
    parse(SAMPLE_PARSE),
    parse({ name: '', sql: 'BEGIN', paramTypes: [] }),
    bind(SAMPLE_BIND),
    bind(SAMPLE_BIND_ONE_FORMAT),
    bind(SAMPLE_BIND_TEXT),
    describe('S', 'stmt_orders'),
    describe('P', ''),
    execute('', 0),
    execute('cur_1', 100),
    flush(),
    sync(),
    close('S', 'stmt_orders'),
    close('P', 'cur_1'),
    sync(),
    query("COPY items FROM STDIN WITH (FORMAT text)"),
    copyData('1\tapple\t0.50\n2\tbanana\t\\N\n'),
    copyData(Buffer.from([0x00, 0xff, 0x0a, 0x5c, 0x4e])),
    copyDone(),
    query('COPY items FROM STDIN'),
    copyFail('client aborted the COPY'),
    functionCall(1598, [1], [int4(7), null], 1),
    terminate(),
  ];
}

// ---------------------------------------------------------------------------------------------
// Backend (server → client)
// ---------------------------------------------------------------------------------------------

export const authentication = (name: string, code: number, extra: Buffer = Buffer.alloc(0)): Message =>
  typed(`Authentication${name}`, 'R', new Bytes().i32(code).raw(extra).build());
export const authOk = (): Message => authentication('Ok', 0);
export const authCleartext = (): Message => authentication('CleartextPassword', 3);
export const authMd5 = (): Message => authentication('MD5Password', 5, Buffer.from([0x9a, 0x01, 0x00, 0xfe]));
export const authSasl = (): Message =>
  authentication('SASL', 10, new Bytes().cstr('SCRAM-SHA-256').cstr('SCRAM-SHA-256-PLUS').u8(0).build());
export const authSaslContinue = (): Message =>
  authentication('SASLContinue', 11, Buffer.from('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'));
export const authSaslFinal = (): Message =>
  authentication('SASLFinal', 12, Buffer.from('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='));

export const parameterStatusBody = (name: string, value: string): Buffer => new Bytes().cstr(name).cstr(value).build();
export const parameterStatus = (name: string, value: string): Message =>
  typed(`ParameterStatus(${name})`, 'S', parameterStatusBody(name, value));

export const backendKeyDataBody = (pid: number, key: Buffer): Buffer => new Bytes().i32(pid).raw(key).build();
export const backendKeyData = (pid: number, key: Buffer): Message => typed('BackendKeyData', 'K', backendKeyDataBody(pid, key));

export const readyForQuery = (status: 'I' | 'T' | 'E'): Message => typed(`ReadyForQuery(${status})`, 'Z', Buffer.from([ch(status)]));

export interface FieldSpec {
  readonly name: string;
  readonly tableOid: number;
  readonly column: number;
  readonly typeOid: number;
  readonly typeLen: number;
  readonly typeMod: number;
  readonly format: number;
}

export function rowDescription(fields: readonly FieldSpec[]): Message {
  const b = new Bytes().i16(fields.length);
  for (const f of fields) b.cstr(f.name).i32(f.tableOid).i16(f.column).i32(f.typeOid).i16(f.typeLen).i32(f.typeMod).i16(f.format);
  return typed('RowDescription', 'T', b.build());
}

export function dataRow(values: readonly (Buffer | string | null)[], name = 'DataRow'): Message {
  const b = new Bytes().i16(values.length);
  for (const v of values) {
    if (v === null) b.i32(-1);
    else {
      const buf = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
      b.i32(buf.length).raw(buf);
    }
  }
  return typed(name, 'D', b.build());
}

export const commandCompleteBody = (tag: string): Buffer => new Bytes().cstr(tag).build();
export const commandComplete = (tag: string): Message => typed(`CommandComplete(${tag})`, 'C', commandCompleteBody(tag));

/** ErrorResponse / NoticeResponse body: (Byte1 field, CString value)*, NUL. */
export function fieldsBody(fields: readonly (readonly [string, string])[]): Buffer {
  const b = new Bytes();
  for (const [k, v] of fields) b.u8(ch(k)).cstr(v);
  return b.u8(0).build();
}

export const SAMPLE_ERROR_FIELDS: readonly (readonly [string, string])[] = [
  ['S', 'ERROR'],
  ['V', 'ERROR'],
  ['C', '42P01'],
  ['M', 'relation "ordres" does not exist'],
  ['P', '15'],
  ['F', 'parse_relation.c'],
  ['L', '1449'],
  ['R', 'parserOpenTable'],
];

export const SAMPLE_NOTICE_FIELDS: readonly (readonly [string, string])[] = [
  ['S', 'AVERTISSEMENT'],
  ['V', 'WARNING'],
  ['C', '01000'],
  ['M', 'there is already a transaction in progress'],
  ['D', 'détail: ünïcødé'],
  ['H', 'Commit first.'],
];

export const errorResponse = (fields = SAMPLE_ERROR_FIELDS): Message => typed('ErrorResponse', 'E', fieldsBody(fields));
export const noticeResponse = (fields = SAMPLE_NOTICE_FIELDS): Message => typed('NoticeResponse', 'N', fieldsBody(fields));

export function parameterDescription(oids: readonly number[]): Message {
  const b = new Bytes().i16(oids.length);
  for (const o of oids) b.i32(o);
  return typed('ParameterDescription', 't', b.build());
}

function copyResponse(name: string, code: string, overall: number, columns: readonly number[]): Message {
  const b = new Bytes().u8(overall).i16(columns.length);
  for (const c of columns) b.i16(c);
  return typed(name, code, b.build());
}
export const copyInResponse = (overall: number, columns: readonly number[]): Message => copyResponse('CopyInResponse', 'G', overall, columns);
export const copyOutResponse = (overall: number, columns: readonly number[]): Message => copyResponse('CopyOutResponse', 'H', overall, columns);
export const copyBothResponse = (overall: number, columns: readonly number[]): Message => copyResponse('CopyBothResponse', 'W', overall, columns);

export const notificationResponse = (pid: number, channel: string, payload: string): Message =>
  typed('NotificationResponse', 'A', new Bytes().i32(pid).cstr(channel).cstr(payload).build());

export const functionCallResponse = (value: Buffer | null): Message =>
  typed('FunctionCallResponse', 'V', value === null ? new Bytes().i32(-1).build() : new Bytes().i32(value.length).raw(value).build());

export function negotiateProtocolVersion(minor: number, unknownOptions: readonly string[]): Message {
  const b = new Bytes().i32(minor).i32(unknownOptions.length);
  for (const o of unknownOptions) b.cstr(o);
  return typed('NegotiateProtocolVersion', 'v', b.build());
}

export const parseComplete = (): Message => typed('ParseComplete', '1');
export const bindComplete = (): Message => typed('BindComplete', '2');
export const closeComplete = (): Message => typed('CloseComplete', '3');
export const noData = (): Message => typed('NoData', 'n');
export const portalSuspended = (): Message => typed('PortalSuspended', 's');
export const emptyQueryResponse = (): Message => typed('EmptyQueryResponse', 'I');

export const SAMPLE_FIELDS: readonly FieldSpec[] = [
  { name: 'id', tableOid: 16384, column: 1, typeOid: 23, typeLen: 4, typeMod: -1, format: 0 },
  { name: 'email', tableOid: 16384, column: 2, typeOid: 25, typeLen: -1, typeMod: -1, format: 0 },
  { name: 'note', tableOid: 0, column: 0, typeOid: 1043, typeLen: -1, typeMod: 68, format: 1 },
];

export const SAMPLE_KEY = Buffer.from([0xde, 0xad, 0xbe, 0xef]);

/** A realistic server stream touching every backend message type. */
export function backendMessages(): Message[] {
  return [
    authSasl(),
    authSaslContinue(),
    authSaslFinal(),
    authCleartext(),
    authMd5(),
    authOk(),
    negotiateProtocolVersion(0, ['_pq_.compression']),
    parameterStatus('server_version', '16.2'),
    parameterStatus('client_encoding', 'UTF8'),
    parameterStatus('TimeZone', 'Europe/Paris'),
    backendKeyData(48213, SAMPLE_KEY),
    readyForQuery('I'),
    rowDescription(SAMPLE_FIELDS),
    dataRow(['1', 'ann@example.com', null]),
    dataRow(['2', '', 'ünïcødé ✓']),
    dataRow([null, null, null]),
    commandComplete('SELECT 3'),
    readyForQuery('T'),
    emptyQueryResponse(),
    noticeResponse(),
    parseComplete(),
    parameterDescription([23, 1184, 25]),
    noData(),
    bindComplete(),
    dataRow([]),
    portalSuspended(),
    closeComplete(),
    errorResponse(),
    readyForQuery('E'),
    copyInResponse(0, [0, 0, 0]),
    commandComplete('COPY 10'),
    copyOutResponse(1, [1, 1]),
    copyData('1\tapple\n'),
    copyData(Buffer.alloc(0)),
    copyDone(),
    commandComplete('INSERT 0 3'),
    copyBothResponse(0, []),
    notificationResponse(48213, 'orders_changed', '{"id": 42}'),
    functionCallResponse(int4(99)),
    functionCallResponse(null),
    commandComplete('BEGIN'),
    readyForQuery('I'),
  ];
}

/** Deterministic filler so a corrupted byte anywhere in a big body is detectable. */
export function pattern(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** A DataRow carrying one large value (default 300 KiB) plus a small one and a NULL. */
export const bigDataRow = (size = 300 * 1024): Message => dataRow(['big', pattern(size, 7), null], 'BigDataRow');

// ---------------------------------------------------------------------------------------------
// Startup phase (untyped packets)
// ---------------------------------------------------------------------------------------------

export const PROTOCOL_3 = (3 << 16) | 0;

export const sslRequest = (): Buffer => untyped(new Bytes().i32(80877103).build());
export const gssEncRequest = (): Buffer => untyped(new Bytes().i32(80877104).build());
export const cancelRequestBody = (pid: number, key: Buffer): Buffer => new Bytes().i32(80877102).i32(pid).raw(key).build();
export const cancelRequest = (pid: number, key: Buffer): Buffer => untyped(cancelRequestBody(pid, key));

export function startupBody(params: Readonly<Record<string, string>>, protocol = PROTOCOL_3): Buffer {
  const b = new Bytes().i32(protocol);
  for (const [k, v] of Object.entries(params)) b.cstr(k).cstr(v);
  return b.u8(0).build();
}
export const startupMessage = (params: Readonly<Record<string, string>>, protocol = PROTOCOL_3): Buffer =>
  untyped(startupBody(params, protocol));

export const SAMPLE_STARTUP_PARAMS: Readonly<Record<string, string>> = {
  user: 'alice@example.com',
  database: 'orders',
  application_name: 'psql ✓',
  client_encoding: 'UTF8',
  options: '-c search_path=public',
};

// ---------------------------------------------------------------------------------------------
// Seeded randomness (never Math.random: failures must be reproducible)
// ---------------------------------------------------------------------------------------------

export interface Rng {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number;
  bytes(n: number): Buffer;
  pick<T>(items: readonly T[]): T;
}

/** mulberry32. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return {
    next,
    int,
    range: (lo, hi) => lo + int(hi - lo + 1),
    bytes: (n) => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = int(256);
      return b;
    },
    pick: (items) => items[int(items.length)]!,
  };
}
