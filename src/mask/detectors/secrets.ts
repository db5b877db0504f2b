import { Buffer } from 'node:buffer';
import {
  ALNUM,
  B64,
  B64URL,
  DASH,
  DIGIT,
  DOT,
  LOWER,
  PLUS,
  UNDERSCORE,
  UPPER,
  WORD,
  distinctChars,
  entropy,
  forEachLiteral,
  has,
  isAlnum,
  runEnd,
  runStart,
} from '../chars.js';
import { F_AT, F_COLON, F_DASH, F_DOT, F_EQ, F_LOWER, F_QUOTE, F_SLASH, F_UNDERSCORE, F_UPPER, defineDetector, type ScanDetector } from '../scan.js';

// Priorities: vendor tokens (0) beat PII (1), which beats context-based guesses (2, 3), when two
// detectors claim exactly the same span (e.g. `api_key=sk_live_…` is a stripe-key).

interface TokenSpec {
  readonly name: string;
  /** Literals to find with `indexOf`; as few and as rare as possible. */
  readonly anchors: readonly string[];
  /** At an anchor hit: where the token and its body start, or null if this is no prefix. */
  readonly prefix: (text: string, pos: number, anchor: number) => { start: number; body: number } | null;
  /** Character class of the part after the prefix. */
  readonly body: number;
  readonly min: number;
  readonly max: number;
  readonly needs: readonly number[];
  readonly minLength: number;
  /** Extra check on the body; placeholders (`xxxx…`) fail the default one. */
  readonly valid?: (body: string) => boolean;
}

const notPlaceholder = (body: string): boolean => distinctChars(body, 4) >= 4;

const literalPrefix =
  (len: number) =>
  (_text: string, pos: number): { start: number; body: number } => ({ start: pos, body: pos + len });

/**
 * A literal prefix, then a body of one character class within a length range, standing alone:
 * not glued to a word before, and the body run ends where the class ends (a longer run is some
 * other blob, not this token).
 */
function tokenDetector(spec: TokenSpec): ScanDetector {
  const valid = spec.valid ?? notPlaceholder;
  return defineDetector(spec.name, { priority: 0, needs: spec.needs, minLength: spec.minLength }, (text, out) => {
    forEachLiteral(text, spec.anchors, (pos, anchor) => {
      const p = spec.prefix(text, pos, anchor);
      if (p === null || has(text.charCodeAt(p.start - 1), WORD)) return pos + 1;
      let be = runEnd(text, p.body, spec.body);
      const runEndAt = be;
      // A full stop after a token ends the sentence, not the token.
      while (be > p.body && text.charCodeAt(be - 1) === 46) be--;
      const len = be - p.body;
      if (len >= spec.min && len <= spec.max && !isAlnum(text.charCodeAt(be)) && valid(text.slice(p.body, be))) {
        out.push({ detector: spec.name, start: p.start, end: be });
      }
      return runEndAt;
    });
  });
}

export const awsAccessKeyIdDetector = tokenDetector({
  name: 'aws-access-key-id',
  anchors: ['AKIA', 'ASIA'],
  needs: [F_UPPER],
  minLength: 20,
  prefix: literalPrefix(4),
  body: UPPER | DIGIT,
  min: 16,
  max: 16,
});

export const githubTokenDetector = tokenDetector({
  name: 'github-token',
  // "gh" is common in English, but checking the next two characters is cheaper than six indexOf.
  anchors: ['gh', 'b_pat_'],
  needs: [F_UNDERSCORE | F_LOWER],
  minLength: 34,
  prefix: (text, pos, anchor) => {
    if (anchor === 1) return text.startsWith('github_pat_', pos - 5) ? { start: pos - 5, body: pos + 6 } : null;
    return text.charCodeAt(pos + 3) === 95 && 'pousr'.includes(text.charAt(pos + 2)) ? { start: pos, body: pos + 4 } : null;
  },
  body: ALNUM | UNDERSCORE,
  min: 30,
  max: 251,
});

export const gitlabTokenDetector = tokenDetector({
  name: 'gitlab-token',
  anchors: ['pat-'],
  needs: [F_DASH | F_LOWER],
  minLength: 26,
  prefix: (text, pos) =>
    text.charCodeAt(pos - 1) === 108 && text.charCodeAt(pos - 2) === 103 ? { start: pos - 2, body: pos + 4 } : null,
  body: ALNUM | UNDERSCORE | DASH | DOT,
  min: 20,
  max: 255,
});

export const slackTokenDetector = tokenDetector({
  name: 'slack-token',
  anchors: ['xox'],
  needs: [F_DASH | F_LOWER],
  minLength: 15,
  prefix: (text, pos) => (text.charCodeAt(pos + 4) === 45 && 'abprs'.includes(text.charAt(pos + 3)) ? { start: pos, body: pos + 5 } : null),
  body: ALNUM | DASH,
  min: 10,
  max: 255,
  valid: (body) => /\d/.test(body) && notPlaceholder(body),
});

export const stripeKeyDetector = tokenDetector({
  name: 'stripe-key',
  anchors: ['_live_', '_test_'],
  needs: [F_UNDERSCORE | F_LOWER],
  minLength: 18,
  prefix: (text, pos) =>
    text.charCodeAt(pos - 1) === 107 && 'srp'.includes(text.charAt(pos - 2)) && pos > 1 ? { start: pos - 2, body: pos + 6 } : null,
  body: ALNUM,
  min: 10,
  max: 247,
});

export const googleApiKeyDetector = tokenDetector({
  name: 'google-api-key',
  anchors: ['AIza'],
  needs: [F_UPPER | F_LOWER],
  minLength: 39,
  prefix: literalPrefix(4),
  body: B64URL,
  min: 35,
  max: 35,
});

function jwtHeaderValid(part: string): boolean {
  // `{"alg":"x"}` is the shortest header that can pass: 15 base64url characters. Checking the
  // length first spares a throw-and-catch per junk `eyJ…` run.
  if (part.length < 15 || part.length > 8192) return false;
  try {
    const header: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null && typeof (header as { alg?: unknown }).alg === 'string';
  } catch {
    return false;
  }
}

/**
 * JWT (JWS compact, and 5-part JWE): `eyJ…` base64url parts joined by dots, whose header
 * decodes to a JSON object with an `alg`. The signature may be empty (`alg: none`).
 */
export const jwtDetector = defineDetector('jwt', { priority: 0, needs: [F_DOT | F_UPPER | F_LOWER], minLength: 18 }, (text, out) => {
  // "yJ" rather than "eyJ": `indexOf` stops at every occurrence of the first character, and "e"
  // is the commonest letter of English.
  forEachLiteral(text, ['yJ'], (y) => {
    const pos = y - 1;
    if (text.charCodeAt(pos) !== 101) return y + 1;
    const e1 = runEnd(text, pos, B64URL);
    if (has(text.charCodeAt(pos - 1), B64URL) || text.charCodeAt(e1) !== 46) return e1;
    const e2 = runEnd(text, e1 + 1, B64URL);
    if (e2 === e1 + 1 || text.charCodeAt(e2) !== 46) return e2;
    let end = runEnd(text, e2 + 1, B64URL);
    if (text.charCodeAt(end) === 46) {
      const e4 = runEnd(text, end + 1, B64URL);
      if (e4 > end + 1 && text.charCodeAt(e4) === 46) end = runEnd(text, e4 + 1, B64URL);
    }
    if (jwtHeaderValid(text.slice(pos, e1))) out.push({ detector: 'jwt', start: pos, end });
    return end;
  });
});

/**
 * PEM private keys (`-----BEGIN [RSA |EC |OPENSSH |ENCRYPTED |PGP ]PRIVATE KEY[ BLOCK]-----`)
 * through the matching `-----END …-----`. Without an END line (a truncated key), everything to the
 * end of the text is masked: a partial key is still a key.
 */
export const pemPrivateKeyDetector = defineDetector('pem-private-key', { priority: 0, needs: [F_DASH | F_UPPER], minLength: 27 }, (text, out) => {
  // "BEGIN " rather than "-----BEGIN ": dashes are everywhere in logs (UUIDs, dates), and
  // `indexOf` stops at each occurrence of the first character.
  forEachLiteral(text, ['BEGIN '], (b) => {
    const pos = b - 5;
    if (!text.startsWith('-----', pos)) return b + 1;
    const labelStart = pos + 11;
    const close = text.indexOf('-----', labelStart);
    if (close === -1 || close - labelStart > 64) return labelStart;
    if (!text.slice(labelStart, close).includes('PRIVATE KEY')) return close;
    const endLine = text.indexOf('-----END ', close + 5);
    let end = text.length;
    if (endLine !== -1) {
      const endClose = text.indexOf('-----', endLine + 9);
      if (endClose !== -1 && endClose - endLine <= 80) end = endClose + 5;
    }
    out.push({ detector: 'pem-private-key', start: pos, end });
    return end;
  });
});

/**
 * Passwords in URLs: `scheme://user:PASSWORD@host…`. Only the password is masked, so the agent
 * still sees which server and user a connection string points at. The authority ends at the
 * first `/ ? #`, whitespace or quote; the last `@` before that ends the password, so an
 * unencoded `@` inside it is covered. A password with an unencoded `/`, `?` or `#` is out of
 * scope (RFC 3986 requires them percent-encoded).
 */
export const databaseUrlDetector = defineDetector('database-url', { priority: 1, needs: [F_COLON | F_SLASH | F_AT], minLength: 8 }, (text, out) => {
  forEachLiteral(text, ['://'], (pos) => {
    const as = pos + 3;
    let ss = runStart(text, pos, ALNUM | PLUS | DOT | DASH, 32);
    while (ss < pos && !has(text.charCodeAt(ss), UPPER | LOWER)) ss++;
    if (pos - ss < 2) return as;
    // One pass over the authority; searching the text for `@` or `:` instead could run far past
    // it, once per `://`, which is quadratic on text made of URLs.
    let ae = as;
    let colon = -1;
    let at = -1;
    const limit = Math.min(text.length, as + 2048);
    while (ae < limit) {
      const c = text.charCodeAt(ae);
      if (c <= 32 || c === 47 || c === 63 || c === 35 || c === 34 || c === 39 || c === 60 || c === 62 || c === 96 || c === 92) break;
      if (c === 64) at = ae;
      else if (c === 58 && colon === -1) colon = ae;
      ae++;
    }
    if (at === -1 || colon === -1 || colon >= at - 1) return ae;
    out.push({ detector: 'database-url', start: colon + 1, end: at });
    return ae;
  });
});

/** Key names whose values are secrets, compared after lower-casing and dropping `-_.` and spaces. */
const SECRET_KEY_SUFFIXES = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'apikey',
  'accesskey',
  'secretkey',
  'privatekey',
  'token',
  'authorization',
  'credential',
  'credentials',
];
/** Short names only when they are the whole key or its last `_`/`-`/`.` segment (`DB_PASS`, not `bypass`). */
const SECRET_KEY_WORDS = ['pwd', 'pass', 'pw'];

/**
 * The last three characters (lower-cased) of every key name above, packed in an int, behind a
 * table of the last two: the filter that turns away `status=`, `request_id=` and `12:30` at
 * the cost of a few char reads, before any key is sliced out of the text.
 */
const KEY_TAILS = new Set<number>();
const KEY_PAIRS = new Uint8Array(128 * 128);
const tail3 = (c1: number, c2: number, c3: number): number => ((c1 | 32) << 16) | ((c2 | 32) << 8) | (c3 | 32);
for (const k of [...SECRET_KEY_SUFFIXES, ...SECRET_KEY_WORDS]) {
  const c2 = k.charCodeAt(k.length - 2);
  const c3 = k.charCodeAt(k.length - 1);
  for (const a of [c2, c2 - 32]) for (const b of [c3, c3 - 32]) KEY_PAIRS[a * 128 + b] = 1;
  // A two-letter word (`pw`) must be the whole key: its "third character" is a separator.
  const firsts = k.length === 2 ? [95, 45, 46] : [k.charCodeAt(k.length - 3)];
  for (const c1 of firsts) KEY_TAILS.add(tail3(c1, c2, c3));
}

const bothCases = (c: string): string => `[${c.toLowerCase()}${c.toUpperCase()}]`;
/**
 * `=` or `:` right after (optional quote and blanks) a key ending in one of the two-letter tails
 * above. The lookbehind (12 characters at most) runs only where irregexp found a separator, so
 * `status=` and `12:30` never reach JavaScript.
 */
const KEY_SEPARATOR = new RegExp(
  `[=:](?<=(?:${[...new Set([...SECRET_KEY_SUFFIXES, ...SECRET_KEY_WORDS].map((k) => k.slice(-2)))]
    .map((t) => bothCases(t[0]!) + bothCases(t[1]!))
    .join('|')})["']?[ \\t]{0,8}[=:])`,
  'g',
);

export function isSecretKeyName(key: string): boolean {
  const lower = key.toLowerCase();
  const compact = lower.replace(/[-_.\s]/g, '');
  for (const k of SECRET_KEY_SUFFIXES) if (compact.endsWith(k)) return true;
  for (const k of SECRET_KEY_WORDS) {
    if (lower === k || lower.endsWith(`_${k}`) || lower.endsWith(`-${k}`) || lower.endsWith(`.${k}`)) return true;
  }
  return false;
}

/** Characters that end an unquoted value. */
function stopsValue(c: number): boolean {
  return c <= 32 || c === 44 || c === 59 || c === 38 || c === 34 || c === 39 || c === 60 || c === 62 || c === 41 || c === 125 || c === 93 || c === 96;
}

const AUTH_SCHEMES = new Set(['bearer', 'basic', 'token', 'digest', 'negotiate']);

/** `[start, end)` of the quoted string whose opening quote is at `q`; '' and \" escapes. */
function quotedEnd(text: string, q: number): number {
  const quote = text.charCodeAt(q);
  let i = q + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 92 /* \ */) {
      i += 2;
      continue;
    }
    if (c === quote) {
      if (quote === 39 && text.charCodeAt(i + 1) === 39) {
        i += 2;
        continue;
      }
      return i;
    }
    if (c === 10) return i;
    i++;
  }
  return text.length;
}

function isMaskedAlready(v: string): boolean {
  return v === 'null' || v.startsWith('[REDACTED') || v === '[WITHHELD]' || /^\*+$/.test(v);
}

/**
 * `key = value` / `key: value` / `"key": "value"` / `key => value` where the key names a secret
 * (password, passwd, pwd, pass, passphrase, secret, api_key, access_key, private_key, token,
 * authorization, credentials… as a suffix: `DB_PASSWORD`, `client_secret`, `X-Api-Key`).
 * The value is masked: the quoted string, or the unquoted word; after `Bearer`/`Basic`/…,
 * only the credential. Also SQL's `PASSWORD 'literal'` (CREATE/ALTER ROLE). Out of scope:
 * XML elements (`<password>…</password>`) and command-line flags (`--password x`).
 */
export const passwordAssignmentDetector = defineDetector('password-assignment', { priority: 3, needs: [F_EQ, F_COLON, F_QUOTE], minLength: 4 }, (text, out) => {
  const n = text.length;
  const re = KEY_SEPARATOR;
  re.lastIndex = 0;
  while (re.test(text)) re.lastIndex = Math.max(re.lastIndex, assignmentAt(re.lastIndex - 1));

  /** The separator at `p`: pushes the value if the key names a secret; returns where to resume. */
  function assignmentAt(p: number): number {
    let k = p;
    while (k > 0 && p - k < 8 && (text.charCodeAt(k - 1) === 32 || text.charCodeAt(k - 1) === 9)) k--;
    const q = text.charCodeAt(k - 1);
    if (q === 34 || q === 39) k--;
    const c2 = text.charCodeAt(k - 2);
    const c3 = text.charCodeAt(k - 1);
    if (!(c2 < 128 && c3 < 128 && KEY_PAIRS[c2 * 128 + c3] === 1)) return p + 1;
    const third = k >= 3 ? text.charCodeAt(k - 3) : 95;
    if (!KEY_TAILS.has(tail3(has(third, WORD | DASH | DOT) ? third : 95, c2, c3))) return p + 1;
    const ks = runStart(text, k, WORD | DASH | DOT, 64);
    if (!isSecretKeyName(text.slice(ks, k))) return p + 1;
    let v = p + 1;
    const c1 = text.charCodeAt(v);
    if (c1 === 62 || c1 === 61) v++; // => := ==
    while (v < n && v - p < 16 && (text.charCodeAt(v) === 32 || text.charCodeAt(v) === 9)) v++;
    let vs: number;
    let ve: number;
    const c = text.charCodeAt(v);
    if (c === 34 || c === 39 || c === 96) {
      vs = v + 1;
      ve = quotedEnd(text, v);
    } else {
      vs = v;
      ve = v;
      while (ve < n && !stopsValue(text.charCodeAt(ve))) ve++;
      if (text.charCodeAt(ve) === 32 && AUTH_SCHEMES.has(text.slice(vs, ve).toLowerCase()) && !stopsValue(text.charCodeAt(ve + 1))) {
        vs = ve + 1;
        ve = vs;
        while (ve < n && !stopsValue(text.charCodeAt(ve))) ve++;
      }
    }
    if (ve <= vs || isMaskedAlready(text.slice(vs, Math.min(ve, vs + 16)))) return v;
    out.push({ detector: 'password-assignment', start: vs, end: ve });
    return ve;
  }

  forEachLiteral(text, ['ssword', 'SSWORD'], (a) => {
    const p = a - 2;
    if ((text.charCodeAt(p) | 32) !== 112 || (text.charCodeAt(p + 1) | 32) !== 97 || has(text.charCodeAt(p - 1), WORD)) return a + 6;
    let v = p + 8;
    const ws = v;
    while (v < n && v - ws < 16 && text.charCodeAt(v) <= 32) v++;
    if (v === ws || text.charCodeAt(v) !== 39) return v;
    const ve = quotedEnd(text, v);
    if (ve > v + 1) out.push({ detector: 'password-assignment', start: v + 1, end: ve });
    return ve;
  });
});

// "ws" for aws/AWS/Aws (a rarer first character is a faster `indexOf`), or a key id.
const AWS_CONTEXT = ['ws', 'WS', 'AKIA', 'ASIA'];

function looksLikeAwsSecret(s: string): boolean {
  let upper = false;
  let lower = false;
  let other = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (has(c, UPPER)) upper = true;
    else if (has(c, LOWER)) lower = true;
    else other = true;
  }
  return upper && lower && other && entropy(s) >= 3.8;
}

/**
 * AWS secret access keys: exactly 40 characters of `[A-Za-z0-9/+]` (not followed by base64
 * padding), mixed case with a digit or `/`/`+`, entropy ≥ 3.8 bits/char, and within 160
 * characters after an AWS-ish word (`aws`, `secret_access_key`, `SecretAccessKey`,
 * `Secret access key`, or an `AKIA…`/`ASIA…` key id). Without such context a 40-character string
 * is not flagged: SHA-1 hex and base64 blobs of that length are far more common.
 */
export const awsSecretAccessKeyDetector = defineDetector('aws-secret-access-key', { priority: 2, needs: [F_UPPER | F_LOWER], minLength: 43 }, (text, out) => {
  let scanned = 0;
  forEachLiteral(text, AWS_CONTEXT, (pos, k) => {
    if (k < 2 && (text.charCodeAt(pos - 1) | 32) !== 97) return pos + 1;
    let i = Math.max(pos, scanned);
    const windowEnd = Math.min(text.length, pos + 160);
    if (i > 0 && has(text.charCodeAt(i - 1), B64) && i < windowEnd && has(text.charCodeAt(i), B64)) i = runEnd(text, i, B64);
    while (i < windowEnd) {
      if (!has(text.charCodeAt(i), B64)) {
        i++;
        continue;
      }
      const e = runEnd(text, i, B64);
      if (e - i === 40 && text.charCodeAt(e) !== 61 && looksLikeAwsSecret(text.slice(i, e))) {
        out.push({ detector: 'aws-secret-access-key', start: i, end: e });
      }
      i = e;
    }
    scanned = Math.max(scanned, i);
    return pos + 1;
  });
});

