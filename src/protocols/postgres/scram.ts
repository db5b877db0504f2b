import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { PgBackendError, PgProtocolError } from './errors.js';

/**
 * Client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses it, without channel binding.
 * Pure functions apart from the nonce and the (asynchronous) PBKDF2, so each step can be checked
 * against the RFC test vector on its own.
 */

export const SCRAM_SHA_256 = 'SCRAM-SHA-256';
export const SCRAM_SHA_256_PLUS = 'SCRAM-SHA-256-PLUS';

/** GS2 header "n,,": this client does not do channel binding (so the server must not insist). */
const GS2_HEADER = 'n,,';

export interface ClientFirst {
  /** The whole client-first-message, sent in SASLInitialResponse. */
  readonly message: string;
  /** client-first-message-bare: part of AuthMessage, so it has to be kept for the proof. */
  readonly bare: string;
  readonly nonce: string;
}

export interface ServerFirst {
  /** The message as received: AuthMessage covers it byte for byte. */
  readonly raw: string;
  /** Combined nonce (client nonce + server's part). */
  readonly nonce: string;
  readonly salt: Buffer;
  readonly iterations: number;
}

export interface ClientFinal {
  readonly message: string;
  /** What the server must prove it knows in server-final-message; compare with `verifyServerFinal`. */
  readonly expectedServerSignature: Buffer;
}

/** 18 random bytes, base64: printable and free of ',' as the RFC requires (same size as libpq's). */
export function generateNonce(): string {
  return randomBytes(18).toString('base64');
}

/**
 * client-first-message: gs2-header "n,," then "n=<user>,r=<nonce>".
 * PostgreSQL ignores the SCRAM user name (the startup packet's user counts), so it is normally empty.
 */
export function clientFirstMessage(nonce: string, user = ''): ClientFirst {
  if (nonce === '' || /[^\x21-\x7e]|,/.test(nonce)) throw new PgProtocolError('SCRAM: nonce must be printable ASCII without ","');
  const bare = `n=${escapeName(user)},r=${nonce}`;
  return { message: GS2_HEADER + bare, bare, nonce };
}

/**
 * server-first-message: "r=<client nonce + server nonce>,s=<base64 salt>,i=<iterations>", optionally
 * followed by extensions. A leading "m=" (mandatory extension) must be refused.
 */
export function parseServerFirst(raw: string, clientNonce: string): ServerFirst {
  const attrs = parseAttributes(raw, 'server-first-message');
  if (attrs[0]?.[0] === 'm') throw new PgProtocolError('SCRAM: server requires an unsupported mandatory extension');
  const [r, s, i] = attrs;
  if (r?.[0] !== 'r' || s?.[0] !== 's' || i?.[0] !== 'i') {
    throw new PgProtocolError('SCRAM: server-first-message must start with r=, s=, i=');
  }
  const nonce = r[1];
  // A server nonce that does not extend ours means the reply is not to our exchange (or a replay).
  if (!nonce.startsWith(clientNonce) || nonce.length === clientNonce.length || /[^\x21-\x7e]|,/.test(nonce)) {
    throw new PgProtocolError('SCRAM: server nonce does not extend the client nonce');
  }
  const salt = decodeBase64Strict(s[1], 'salt');
  if (salt.length === 0) throw new PgProtocolError('SCRAM: empty salt');
  if (!/^[1-9][0-9]{0,9}$/.test(i[1]) || Number(i[1]) > 0x7fffffff) {
    throw new PgProtocolError(`SCRAM: invalid iteration count ${JSON.stringify(i[1].slice(0, 20))}`);
  }
  return { raw, nonce, salt, iterations: Number(i[1]) };
}

/** SaltedPassword := Hi(Normalize(password), salt, i), where Hi is PBKDF2 with HMAC-SHA-256. */
export function saltPassword(password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(Buffer.from(saslPrep(password), 'utf8'), salt, iterations, 32, 'sha256', (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/**
 * client-final-message: "c=biws,r=<nonce>,p=<base64 ClientProof>", where
 *   AuthMessage     := client-first-bare "," server-first "," client-final-without-proof
 *   ClientKey       := HMAC(SaltedPassword, "Client Key"),  StoredKey := SHA-256(ClientKey)
 *   ClientProof     := ClientKey XOR HMAC(StoredKey, AuthMessage)
 *   ServerSignature := HMAC(HMAC(SaltedPassword, "Server Key"), AuthMessage)
 */
export function clientFinalMessage(saltedPassword: Buffer, first: ClientFirst, server: ServerFirst): ClientFinal {
  const withoutProof = `c=${Buffer.from(GS2_HEADER).toString('base64')},r=${server.nonce}`;
  const authMessage = `${first.bare},${server.raw},${withoutProof}`;
  const clientKey = hmac(saltedPassword, 'Client Key');
  const storedKey = createHash('sha256').update(clientKey).digest();
  const clientSignature = hmac(storedKey, authMessage);
  const proof = Buffer.alloc(clientKey.length);
  for (let k = 0; k < proof.length; k++) proof[k] = clientKey[k]! ^ clientSignature[k]!;
  const serverKey = hmac(saltedPassword, 'Server Key');
  return {
    message: `${withoutProof},p=${proof.toString('base64')}`,
    expectedServerSignature: hmac(serverKey, authMessage),
  };
}

/**
 * server-final-message: "v=<base64 ServerSignature>" or "e=<error>". Throws unless the server proved
 * it holds the verifier: without this check an impostor could accept any proof and read our traffic.
 */
export function verifyServerFinal(raw: string, expectedServerSignature: Buffer): void {
  const [first] = parseAttributes(raw, 'server-final-message');
  if (first?.[0] === 'e') throw new PgBackendError(`SCRAM authentication failed: server reported "${first[1]}"`, '28000');
  if (first?.[0] !== 'v') throw new PgProtocolError('SCRAM: server-final-message has neither v= nor e=');
  const signature = decodeBase64Strict(first[1], 'server signature');
  if (signature.length !== expectedServerSignature.length || !timingSafeEqual(signature, expectedServerSignature)) {
    throw new PgBackendError(
      'SCRAM authentication failed: the server signature does not match; the server does not know this password (possible impostor)',
      '28000',
    );
  }
}

/**
 * SASLprep (RFC 4013) as far as PostgreSQL's server applies it: map non-ASCII spaces to " ", drop
 * "commonly mapped to nothing" characters, NFKC; if the result holds a prohibited character, use the
 * password unchanged, which is what the server did when it stored the verifier. Unassigned-code-point
 * and bidi checks are not replicated, so such exotic passwords may only work through cleartext/MD5.
 */
export function saslPrep(password: string): string {
  // ASCII is its own SASLprep output (control characters make it fall back to itself as well).
  if (/^[\x00-\x7f]*$/.test(password)) return password;
  // Spaces first: U+200B is in both tables and PostgreSQL maps it to a space.
  const mapped = password.replace(NON_ASCII_SPACE, ' ').replace(MAPPED_TO_NOTHING, '').normalize('NFKC');
  if (mapped === '' || PROHIBITED.test(mapped)) return password;
  return mapped;
}

// RFC 3454 table B.1.
const MAPPED_TO_NOTHING = /[\u00ad\u034f\u1806\u180b-\u180d\u200b-\u200d\u2060\ufe00-\ufe0f\ufeff]/gu;
// RFC 3454 table C.1.2.
const NON_ASCII_SPACE = /[\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000]/gu;
// RFC 3454 tables C.1.2, C.2.1, C.2.2, C.3–C.9 (surrogates cannot survive as a well-formed string).
const PROHIBITED = new RegExp(
  '[\\u00a0\\u1680\\u2000-\\u200b\\u202f\\u205f\\u3000' +
    '\\u0000-\\u001f\\u007f-\\u009f\\u06dd\\u070f\\u180e\\u200c\\u200d\\u2028\\u2029\\u2060-\\u2063\\u206a-\\u206f\\ufeff\\ufff9-\\ufffc\\u{1d173}-\\u{1d17a}' +
    '\\ue000-\\uf8ff\\u{f0000}-\\u{ffffd}\\u{100000}-\\u{10fffd}' +
    '\\ufdd0-\\ufdef\\ufffe\\uffff\\u{1fffe}\\u{1ffff}\\u{2fffe}\\u{2ffff}\\u{3fffe}\\u{3ffff}\\u{4fffe}\\u{4ffff}\\u{5fffe}\\u{5ffff}\\u{6fffe}\\u{6ffff}\\u{7fffe}\\u{7ffff}\\u{8fffe}\\u{8ffff}\\u{9fffe}\\u{9ffff}\\u{afffe}\\u{affff}\\u{bfffe}\\u{bffff}\\u{cfffe}\\u{cffff}\\u{dfffe}\\u{dffff}\\u{efffe}\\u{effff}\\u{ffffe}\\u{fffff}\\u{10fffe}\\u{10ffff}' +
    '\\ufff9-\\ufffd\\u2ff0-\\u2ffb\\u0340\\u0341\\u200e\\u200f\\u202a-\\u202e\\u{e0001}\\u{e0020}-\\u{e007f}]',
  'u',
);

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** saslname: "=" and "," are escaped as "=3D" and "=2C". */
function escapeName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

/** A SCRAM message is "a=value" attributes separated by ","; values may contain "=" but not ",". */
function parseAttributes(raw: string, what: string): [string, string][] {
  return raw.split(',').map((part) => {
    if (part.length < 2 || part[1] !== '=' || !/^[A-Za-z]$/.test(part[0]!)) {
      throw new PgProtocolError(`SCRAM: malformed attribute in ${what}`);
    }
    return [part[0]!, part.slice(2)];
  });
}

/** Node's base64 decoder skips junk silently; a mangled salt or signature must be an error instead. */
function decodeBase64Strict(text: string, what: string): Buffer {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) {
    throw new PgProtocolError(`SCRAM: ${what} is not valid base64`);
  }
  return Buffer.from(text, 'base64');
}
