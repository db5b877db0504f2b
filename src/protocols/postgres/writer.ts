import { AuthCode, Backend, ErrorField, Frontend, StartupCode } from './messages.js';

/**
 * Encoders for the messages the gateway itself sends. Relayed traffic is forwarded as received;
 * only these are built, so simplicity beats speed here.
 */

function typed(code: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = code;
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

function untyped(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeInt32BE(4 + body.length, 0);
  body.copy(out, 4);
  return out;
}

const cstr = (s: string): Buffer => Buffer.from(`${s}\0`, 'utf8');
const int32 = (n: number): Buffer => {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(n, 0);
  return b;
};

export interface ErrorFields {
  /** ERROR, FATAL, PANIC (errors) or WARNING, NOTICE, INFO… (notices). */
  readonly severity: string;
  /** Five-character SQLSTATE. */
  readonly code: string;
  readonly message: string;
  readonly detail?: string;
  readonly hint?: string;
}

function fieldsBody(f: ErrorFields): Buffer {
  const parts: Buffer[] = [
    Buffer.from([ErrorField.severity]),
    cstr(f.severity),
    Buffer.from([ErrorField.severityV]),
    cstr(f.severity),
    Buffer.from([ErrorField.code]),
    cstr(f.code),
    Buffer.from([ErrorField.message]),
    cstr(f.message),
  ];
  if (f.detail !== undefined) parts.push(Buffer.from([ErrorField.detail]), cstr(f.detail));
  if (f.hint !== undefined) parts.push(Buffer.from([ErrorField.hint]), cstr(f.hint));
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export const encodeErrorResponse = (f: ErrorFields): Buffer => typed(Backend.errorResponse, fieldsBody(f));
export const encodeNoticeResponse = (f: ErrorFields): Buffer => typed(Backend.noticeResponse, fieldsBody(f));

/** ReadyForQuery 'Z': Byte1 status, 'I' idle, 'T' in a transaction, 'E' in a failed transaction. */
export const encodeReadyForQuery = (status: 'I' | 'T' | 'E'): Buffer =>
  typed(Backend.readyForQuery, Buffer.from(status, 'ascii'));

export const encodeAuthenticationOk = (): Buffer => typed(Backend.authentication, int32(AuthCode.ok));

export function encodeBackendKeyData(processId: number, secretKey: Buffer): Buffer {
  return typed(Backend.backendKeyData, Buffer.concat([int32(processId), secretKey]));
}

export const encodeParameterStatus = (name: string, value: string): Buffer =>
  typed(Backend.parameterStatus, Buffer.concat([cstr(name), cstr(value)]));

/** The single byte that answers SSLRequest or GSSENCRequest: 'N' = not supported here. */
export const SSL_REFUSED = Buffer.from('N', 'ascii');

export function encodeStartupMessage(params: Readonly<Record<string, string>>): Buffer {
  const parts: Buffer[] = [int32(StartupCode.protocol3)];
  for (const [k, v] of Object.entries(params)) parts.push(cstr(k), cstr(v));
  parts.push(Buffer.from([0]));
  return untyped(Buffer.concat(parts));
}

export const encodeSslRequest = (): Buffer => untyped(int32(StartupCode.sslRequest));

export function encodeCancelRequest(processId: number, secretKey: Buffer): Buffer {
  return untyped(Buffer.concat([int32(StartupCode.cancelRequest), int32(processId), secretKey]));
}

export const encodePasswordMessage = (password: string): Buffer => typed(Frontend.password, cstr(password));

export function encodeSaslInitialResponse(mechanism: string, data: Buffer): Buffer {
  return typed(Frontend.password, Buffer.concat([cstr(mechanism), int32(data.length), data]));
}

export const encodeSaslResponse = (data: Buffer): Buffer => typed(Frontend.password, data);

export const encodeTerminate = (): Buffer => typed(Frontend.terminate, Buffer.alloc(0));

export const encodeQuery = (sql: string): Buffer => typed(Frontend.query, cstr(sql));

/** Any typed message from a code and body: for tests and tools. */
export const encodeTyped = typed;

/**
 * NegotiateProtocolVersion 'v': Int32 newest minor version supported, Int32 n, n × CString
 * unrecognised `_pq_.` options. Sent when a client asks for 3.x (x > 0) or protocol options.
 */
export function encodeNegotiateProtocolVersion(newestMinor: number, unrecognised: readonly string[]): Buffer {
  return typed(Backend.negotiateProtocolVersion, Buffer.concat([int32(newestMinor), int32(unrecognised.length), ...unrecognised.map(cstr)]));
}
