/**
 * PostgreSQL frontend/backend protocol 3.0 message codes, each with its ASCII letter.
 * Layout of every message after startup: Byte1(code) Int32(length, counting itself) Bytes(length - 4).
 */

/** Messages a client (frontend) sends. */
export const Frontend = {
  bind: 0x42, // 'B'
  close: 0x43, // 'C'
  describe: 0x44, // 'D'
  execute: 0x45, // 'E'
  functionCall: 0x46, // 'F'
  flush: 0x48, // 'H'
  parse: 0x50, // 'P'
  query: 0x51, // 'Q'
  sync: 0x53, // 'S'
  terminate: 0x58, // 'X'
  copyData: 0x64, // 'd'
  copyDone: 0x63, // 'c'
  copyFail: 0x66, // 'f'
  /** PasswordMessage, SASLInitialResponse and SASLResponse share 'p'. */
  password: 0x70, // 'p'
} as const;

/** Messages a server (backend) sends. */
export const Backend = {
  parseComplete: 0x31, // '1'
  bindComplete: 0x32, // '2'
  closeComplete: 0x33, // '3'
  notificationResponse: 0x41, // 'A'
  commandComplete: 0x43, // 'C'
  dataRow: 0x44, // 'D'
  errorResponse: 0x45, // 'E'
  copyInResponse: 0x47, // 'G'
  copyOutResponse: 0x48, // 'H'
  emptyQueryResponse: 0x49, // 'I'
  backendKeyData: 0x4b, // 'K'
  noticeResponse: 0x4e, // 'N'
  authentication: 0x52, // 'R'
  parameterStatus: 0x53, // 'S'
  rowDescription: 0x54, // 'T'
  functionCallResponse: 0x56, // 'V'
  copyBothResponse: 0x57, // 'W'
  readyForQuery: 0x5a, // 'Z'
  copyData: 0x64, // 'd'
  copyDone: 0x63, // 'c'
  noData: 0x6e, // 'n'
  portalSuspended: 0x73, // 's'
  parameterDescription: 0x74, // 't'
  negotiateProtocolVersion: 0x76, // 'v'
} as const;

/** Codes carried in the Int32 after the length of an untyped startup-phase message. */
export const StartupCode = {
  protocol3: 196608, // 3.0: (3 << 16) | 0
  cancelRequest: 80877102, // (1234 << 16) | 5678
  sslRequest: 80877103, // (1234 << 16) | 5679
  gssEncRequest: 80877104, // (1234 << 16) | 5680
} as const;

/** Int32 that follows 'R' in an Authentication message. */
export const AuthCode = {
  ok: 0,
  cleartextPassword: 3,
  md5Password: 5,
  gss: 7,
  sspi: 9,
  sasl: 10,
  saslContinue: 11,
  saslFinal: 12,
} as const;

/** Printable name of a message code, for errors and logs. */
export function codeName(code: number): string {
  return code >= 0x20 && code < 0x7f ? `'${String.fromCharCode(code)}'` : `0x${code.toString(16).padStart(2, '0')}`;
}

/** Field codes of ErrorResponse and NoticeResponse. */
export const ErrorField = {
  severity: 0x53, // 'S' (localised)
  severityV: 0x56, // 'V' (never localised)
  code: 0x43, // 'C' SQLSTATE
  message: 0x4d, // 'M'
  detail: 0x44, // 'D'
  hint: 0x48, // 'H'
  position: 0x50, // 'P'
} as const;
