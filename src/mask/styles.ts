import { hash } from 'node:crypto';

/**
 * What `partial` keeps and how `hash` normalises, per label. A label is a detector name, or the
 * label of a column rule: a rule labelled `card` masks a whole value the way the card detector's
 * hits are masked, so both give the same partial form and the same hash token.
 */

const isAlnumChar = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/**
 * Every letter and digit becomes `*` except the last `keep` digits; separators stay, so the
 * format is still recognisable. Whole-value rules may hand over anything (`not-an-ssn`, `12`),
 * so letters are masked too, and a value with too few digits to hide anything keeps none.
 */
function keepLastDigits(v: string, keep: number): string {
  let digits = 0;
  for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) >= 48 && v.charCodeAt(i) <= 57) digits++;
  if (digits <= keep * 2) keep = 0;
  let seen = 0;
  let out = '';
  for (let i = v.length - 1; i >= 0; i--) {
    const c = v.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      out = (seen < keep ? v[i] : '*') + out;
      seen++;
    } else out = (isAlnumChar(c) ? '*' : v[i]) + out;
  }
  return out;
}

/** Alphanumerics become `*` except the first `head` and last `tail`; short values lose all. */
function keepEnds(v: string, head: number, tail: number): string {
  let total = 0;
  for (let i = 0; i < v.length; i++) if (isAlnumChar(v.charCodeAt(i))) total++;
  if (total <= (head + tail) * 2) return genericPartial(v);
  let idx = 0;
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (isAlnumChar(c)) {
      out += idx < head || idx >= total - tail ? v[i] : '*';
      idx++;
    } else out += v[i];
  }
  return out;
}

/** Unknown labels: the last 4 characters of values of 10 or more, nothing of shorter ones. */
export function genericPartial(v: string): string {
  return v.length >= 10 ? '*'.repeat(v.length - 4) + v.slice(-4) : '*'.repeat(v.length);
}

const keepPrefix =
  (re: RegExp) =>
  (v: string): string => {
    const m = re.exec(v);
    return m ? `${m[0]}****` : '****';
  };

const PARTIAL: Readonly<Record<string, (v: string) => string>> = {
  card: (v) => keepLastDigits(v, 4),
  ssn: (v) => keepLastDigits(v, 4),
  phone: (v) => keepLastDigits(v, 2),
  email: (v) => {
    const at = v.lastIndexOf('@');
    return at > 0 ? `***${v.slice(at)}` : genericPartial(v);
  },
  iban: (v) => keepEnds(v, 2, 4),
  ipv4: (v) => (/^\d{1,3}(?:\.\d{1,3}){3}$/.test(v) ? `${v.slice(0, v.indexOf('.'))}.*.*.*` : genericPartial(v)),
  ipv6: (v) => (/^[0-9A-Fa-f]{1,4}:[0-9A-Fa-f:.]*$/.test(v) ? `${v.slice(0, v.indexOf(':'))}:****` : genericPartial(v)),
  'aws-access-key-id': keepPrefix(/^(?:AKIA|ASIA)/),
  'github-token': keepPrefix(/^(?:gh[pousr]_|github_pat_)/),
  'gitlab-token': keepPrefix(/^glpat-/),
  'slack-token': keepPrefix(/^xox[abprs]-/),
  'stripe-key': keepPrefix(/^[srp]k_(?:live|test)_/),
  'google-api-key': keepPrefix(/^AIza/),
  // The header (alg, typ, kid) is not secret; claims and signature are.
  jwt: (v) => (/^eyJ[A-Za-z0-9_-]*\./.test(v) ? `${v.slice(0, v.indexOf('.'))}.****` : '****'),
  // The BEGIN and END lines say what kind of key it was; the body is the secret.
  'pem-private-key': (v) => {
    const headEnd = v.startsWith('-----BEGIN ') ? v.indexOf('-----', 11) : -1;
    const tailStart = v.endsWith('-----') ? v.lastIndexOf('-----END ') : -1;
    const head = headEnd > 0 && headEnd < 80 ? v.slice(0, headEnd + 5) : '';
    const tail = tailStart > headEnd && v.length - tailStart < 80 ? v.slice(tailStart) : '';
    return `${head}\n****\n${tail}`;
  },
  'aws-secret-access-key': () => '****',
  'database-url': () => '****',
  'password-assignment': () => '****',
};

export function partialFor(label: string): (v: string) => string {
  return PARTIAL[label] ?? genericPartial;
}

const digitsOnly = (v: string): string => v.replace(/\D+/g, '');

const NORMALIZE: Readonly<Record<string, (v: string) => string>> = {
  card: digitsOnly,
  ssn: digitsOnly,
  // "(415) 555-2671", "415.555.2671" and "+1 415 555 2671" are one number; a "(0)" trunk
  // prefix inside an international number is dropped the same way.
  phone: (v) => {
    const d = digitsOnly(v.replace('(0)', ''));
    return !v.trimStart().startsWith('+') && d.length === 10 ? `1${d}` : d;
  },
  email: (v) => v.trim().toLowerCase(),
  iban: (v) => v.replace(/\s+/g, '').toUpperCase(),
  ipv6: (v) => v.toLowerCase(),
};

const asIs = (v: string): string => v;

export function normalizeFor(label: string): (v: string) => string {
  return NORMALIZE[label] ?? asIs;
}

export const HASH_HEX_CHARS = 16;
const HASH_CACHE_LIMIT = 10_000;
/** Domain separation for the derived key: another use of the same gateway key gives other bytes. */
export const TOKEN_KEY_CONTEXT = 'hoop-mask-token-v1\u0000';

/**
 * Keyed, deterministic tokens: `tok_<label>_<16 hex of HMAC-SHA256(K', normalised value)>`,
 * where K' is the hex SHA-256 of a context string and the configured key: 64 ASCII bytes, one
 * SHA-256 block, so HMAC uses it as is.
 *
 * Why not `createHmac`: under OpenSSL 3 each `createHmac` costs ~10 µs of CPU (the digest is
 * fetched per object); two one-shot `crypto.hash` calls cost ~1 µs. K' being ASCII makes
 * `ipad`/`opad` ASCII too, so the inner hash can take `ipad + value` as a string (UTF-8 of the
 * concatenation is the concatenation of the UTF-8s), and only the 96-byte outer block needs a
 * (reused) buffer. The result is byte-for-byte HMAC-SHA256 with K' (see the test).
 *
 * The label is not part of the MAC input, so the same card found by the detector in one column
 * and by a `card` column rule in another gives the same hex (joins work); the prefix still says
 * which kind of value it was. 64 bits keep accidental collisions out of reach (≈3·10⁻⁸ at a
 * million distinct values). Without the key a token cannot be recomputed from a guess.
 */
export class Tokenizer {
  private readonly ipad: string;
  private readonly outer = Buffer.alloc(96);
  // Result sets repeat values (GROUP BY, joins), so remember recent ones, per label (no key
  // concatenation per lookup); dropped wholesale when full, which is cheaper than an LRU.
  private readonly cache = new Map<string, Map<string, string>>();
  private cached = 0;

  constructor(key: Uint8Array) {
    const derived = hash('sha256', Buffer.concat([Buffer.from(TOKEN_KEY_CONTEXT, 'utf8'), key]), 'hex');
    let ipad = '';
    for (let i = 0; i < 64; i++) {
      ipad += String.fromCharCode(derived.charCodeAt(i) ^ 0x36);
      this.outer[i] = derived.charCodeAt(i) ^ 0x5c;
    }
    this.ipad = ipad;
  }

  hmacHex(value: string): string {
    this.outer.write(hash('sha256', this.ipad + value, 'latin1'), 64, 'latin1');
    return hash('sha256', this.outer, 'hex');
  }

  token(label: string, value: string): string {
    const normalized = normalizeFor(label)(value);
    let byValue = this.cache.get(label);
    if (byValue === undefined) {
      byValue = new Map();
      this.cache.set(label, byValue);
    }
    let hex = byValue.get(normalized);
    if (hex === undefined) {
      hex = this.hmacHex(normalized).slice(0, HASH_HEX_CHARS);
      if (this.cached >= HASH_CACHE_LIMIT) {
        for (const m of this.cache.values()) m.clear();
        this.cached = 0;
      }
      byValue.set(normalized, hex);
      this.cached++;
    }
    return `tok_${label}_${hex}`;
  }
}
