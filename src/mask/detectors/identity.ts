import { ALNUM, DIGIT, EMAIL_LOCAL, HOST, forEachLiteral, has, isAlnum, isDigit, runEnd } from '../chars.js';
import { F_AT, F_DASH, F_DIGIT, F_DOT, F_PAREN, F_PLUS, defineDetector, type ScanDetector } from '../scan.js';
import type { Match } from '../types.js';
import { nanpValid, ssnValid } from '../validators.js';
import { digitsOf, numberEndsAlone, numberStartsAlone } from './boundary.js';

const SSN_CONTEXT = /(?:^|[^a-z])ssn(?:[^a-z]|$)|social[ _-]?sec/;
const SSN_TRIGGER = /\d\d\d(?:[- ]\d\d[- ]\d\d\d\d|\d\d\d\d\d\d)/g;

/**
 * US SSN. `AAA-GG-SSSS` and `AAA GG SSSS` are detected wherever they stand alone; nine bare
 * digits only when "SSN" or "social security" appears in the 40 characters before, because
 * nine-digit ids, ZIP+4 codes and amounts are far more common than undelimited SSNs (columns
 * known to hold SSNs should get a column rule instead). Area 000/666/900–999, group 00 and
 * serial 0000 are rejected.
 */
export const ssnDetector: ScanDetector = defineDetector('ssn', { priority: 1, needs: [F_DIGIT], minLength: 9 }, (text, out) => {
  const re = SSN_TRIGGER;
  re.lastIndex = 0;
  while (re.test(text)) {
    const e = re.lastIndex;
    const sep = text.charCodeAt(e - 5);
    const grouped = sep === 45 || sep === 32;
    const s = e - (grouped ? 11 : 9);
    if (!numberStartsAlone(text, s) || !numberEndsAlone(text, e)) continue;
    if (grouped) {
      // One separator throughout, and not part of a longer chain of them (dates, tables, phones).
      if (text.charCodeAt(s + 3) !== sep) continue;
      if ((text.charCodeAt(s - 1) === sep && isDigit(text.charCodeAt(s - 2))) || (text.charCodeAt(e) === sep && isDigit(text.charCodeAt(e + 1)))) continue;
      if (!ssnValid(text.slice(s, s + 3), text.slice(s + 4, s + 6), text.slice(s + 7, e))) continue;
    } else if (
      !ssnValid(text.slice(s, s + 3), text.slice(s + 3, s + 5), text.slice(s + 5, e)) ||
      !SSN_CONTEXT.test(text.slice(Math.max(0, s - 40), s).toLowerCase())
    ) {
      continue;
    }
    out.push({ detector: 'ssn', start: s, end: e });
  }
});

/** Length of the separator between two digit groups of a phone number at `e`, or 0. */
function phoneJoiner(text: string, e: number): number {
  const c = text.charCodeAt(e);
  const d = text.charCodeAt(e + 1);
  if (c === 41 /* ) */) return d === 32 || d === 45 || d === 46 ? 2 : 1;
  if (c === 32 || c === 45) return d === 40 ? 2 : 1;
  return c === 46 || c === 40 ? 1 : 0;
}

/** Parentheses in `text[a, b)` pair up without nesting. */
function parensBalanced(text: string, a: number, b: number): boolean {
  let open = false;
  for (let i = a; i < b; i++) {
    const c = text.charCodeAt(i);
    if (c === 40) {
      if (open) return false;
      open = true;
    } else if (c === 41) {
      if (!open) return false;
      open = false;
    }
  }
  return !open;
}

/** `+CC …`: resume position. */
function international(text: string, plus: number, out: Match[]): number {
  if (isAlnum(text.charCodeAt(plus - 1)) || !isDigit(text.charCodeAt(plus + 1)) || text.charCodeAt(plus + 1) === 48) return plus + 1;
  const starts: number[] = [];
  const ends: number[] = [];
  let digits = 0;
  let s = plus + 1;
  let last = s;
  for (;;) {
    const e = runEnd(text, s, DIGIT);
    last = e;
    if (digits + (e - s) > 15) break;
    starts.push(s);
    ends.push(e);
    digits += e - s;
    if (starts.length === 8) break;
    const j = phoneJoiner(text, e);
    if (j === 0 || !isDigit(text.charCodeAt(e + j))) break;
    s = e + j;
  }
  // Longest first; a shorter prefix only when a space separates it from what follows
  // (`+1 415 555 2671 2024` keeps the phone, `+1-415-555-2671-99` is something else).
  for (let m = starts.length - 1; m >= 0; m--) {
    const end = ends[m]!;
    if (digits >= 8 && (m === starts.length - 1 ? numberEndsAlone(text, end) : text.charCodeAt(end) === 32) && parensBalanced(text, plus, end)) {
      const d = digitsOf(text, plus + 1, end);
      if (d.charCodeAt(0) !== 49 || (d.length === 11 && nanpValid(d.slice(1)))) {
        out.push({ detector: 'phone', start: plus, end });
        return end;
      }
    }
    digits -= end - starts[m]!;
  }
  return Math.max(plus + 1, last);
}

/** Whether `m` overlaps one of `sorted[0, n)` (sorted by start, non-overlapping). */
function overlapsSorted(sorted: readonly Match[], n: number, m: Match): boolean {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]!.end <= m.start) lo = mid + 1;
    else hi = mid;
  }
  return lo < n && sorted[lo]!.start < m.end;
}

/** `(AAA) EEE-SSSS`, optionally after `1 `: resume position. */
function parenthesised(text: string, open: number, out: Match[]): number {
  const a = open + 1;
  const ae = runEnd(text, a, DIGIT, 4);
  if (ae - a !== 3 || text.charCodeAt(ae) !== 41) return a;
  let es = ae + 1;
  const c = text.charCodeAt(es);
  if (c === 32 || c === 45) es++;
  const ee = runEnd(text, es, DIGIT, 4);
  const g2 = text.charCodeAt(ee);
  if (ee - es !== 3 || (g2 !== 45 && g2 !== 46 && g2 !== 32)) return a;
  const se = runEnd(text, ee + 1, DIGIT, 5);
  if (se - ee - 1 !== 4) return a;
  let start = open;
  if (text.charCodeAt(open - 1) === 49 && numberStartsAlone(text, open - 1)) start = open - 1;
  else if (text.charCodeAt(open - 1) === 32 && text.charCodeAt(open - 2) === 49 && numberStartsAlone(text, open - 2)) start = open - 2;
  if (!numberStartsAlone(text, start) || !numberEndsAlone(text, se)) return a;
  if (!nanpValid(text.slice(a, ae) + text.slice(es, ee) + text.slice(ee + 1, se))) return a;
  out.push({ detector: 'phone', start, end: se });
  return se;
}

const NANP_TRIGGER = /\d\d\d[-.]\d\d\d[-.]\d\d\d\d/g;

/** `AAA-EEE-SSSS` / `AAA.EEE.SSSS`, optionally after `1-` / `1.`. */
function dashed(text: string, e: number, out: Match[]): void {
  const p = e - 12;
  const sep = text.charCodeAt(p + 3);
  if (text.charCodeAt(p + 7) !== sep || isAlnum(text.charCodeAt(p - 1))) return;
  let start = p;
  if (text.charCodeAt(p - 1) === sep && text.charCodeAt(p - 2) === 49 && !isAlnum(text.charCodeAt(p - 3))) start = p - 2;
  if (!numberStartsAlone(text, start) || !numberEndsAlone(text, e)) return;
  if (!nanpValid(text.slice(p, p + 3) + text.slice(p + 4, p + 7) + text.slice(p + 8, e))) return;
  out.push({ detector: 'phone', start, end: e });
}

/**
 * Phone numbers.
 * - International, with a leading `+`: 8–15 digits (E.164) in groups joined by single spaces,
 *   dashes, dots or parentheses (`+14155552671`, `+44 20 7946 0958`, `+44 (0)20 7946 0958`,
 *   `+1 (415) 555-2671`); `+1` numbers must also be valid NANP numbers.
 * - National, North American only: `(415) 555-2671`, `415-555-2671`, `415.555.2671`, optionally
 *   after `1-`/`1 `; area code and exchange must be NXX and not N11.
 * Out of scope (too ambiguous without a `+`): other countries' national formats, bare 10-digit
 * runs, space-only `415 555 2671`, 7-digit local numbers. A `+` glued to a word or digit
 * (`3+4155552671`) is arithmetic, not a phone.
 */
export const phoneDetector: ScanDetector = defineDetector('phone', { priority: 1, needs: [F_DIGIT | F_PLUS, F_DIGIT | F_PAREN, F_DIGIT | F_DASH, F_DIGIT | F_DOT], minLength: 9 }, (text, out) => {
  // Three anchors, three passes; a number found by an earlier one (`+1 (415) 555-2671`) is not
  // reported again by a later one (`(415) 555-2671`).
  const found: Match[] = [];
  forEachLiteral(text, ['+'], (pos) => international(text, pos, found));
  const byPlus = found.length;
  forEachLiteral(text, ['('], (pos) => parenthesised(text, pos, found));
  const re = NANP_TRIGGER;
  re.lastIndex = 0;
  while (re.test(text)) dashed(text, re.lastIndex, found);
  if (found.length === 0) return;
  for (let i = 0; i < found.length; i++) {
    const m = found[i]!;
    if (i < byPlus || !overlapsSorted(found, byPlus, m)) out.push(m);
  }
});

/** Extensions that follow `@2x`-style asset names rather than a mail domain. */
const FILE_TLDS = new Set(['png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'ico', 'bmp', 'tif', 'tiff', 'css', 'js', 'ts', 'map', 'json']);

function validDomain(domain: string): boolean {
  const labels = domain.split('.');
  if (labels.length < 2) return false;
  for (const l of labels) {
    if (l.length === 0 || l.length > 63 || l.charCodeAt(0) === 45 || l.charCodeAt(l.length - 1) === 45) return false;
  }
  const tld = labels[labels.length - 1]!.toLowerCase();
  return (/^[a-z]{2,63}$/.test(tld) || /^xn--[a-z0-9-]{2,59}$/.test(tld)) && !FILE_TLDS.has(tld);
}

/** `scheme://user@host` or `scheme://user:pass@host`: credentials are the database-url detector's. */
function inUrlAuthority(text: string, localStart: number): boolean {
  let k = localStart - 1;
  const c = text.charCodeAt(k);
  if (c === 47) return text.charCodeAt(k - 1) === 47; // "//user@"
  if (c !== 58) return false; // "user:pass@"
  const limit = Math.max(0, k - 256);
  k--;
  while (k > limit) {
    const d = text.charCodeAt(k);
    if (d <= 32 || d === 47 || d === 64) break;
    k--;
  }
  return text.charCodeAt(k) === 47 && text.charCodeAt(k - 1) === 47 && text.charCodeAt(k - 2) === 58;
}

/**
 * E-mail addresses: anchored on `@`, local part `[A-Za-z0-9._%+-]{1,64}` (no leading/trailing
 * dot, no `..`), domain of at least two labels with an alphabetic (or punycode) TLD. Rejected:
 * `icon@2x.png` and other file names, `git@host` (SSH remotes), userinfo inside URLs. Quoted
 * local parts and non-ASCII addresses are out of scope.
 */
export const emailDetector: ScanDetector = defineDetector('email', { priority: 1, needs: [F_AT | F_DOT], minLength: 6 }, (text, out) => {
  let from = 0;
  for (;;) {
    const at = text.indexOf('@', from);
    if (at === -1) return;
    from = at + 1;
    let ls = at;
    // A longer run is still masked, its last 64 characters taken as the local part: a separator
    // line glued to an address must not hide the address.
    while (ls > 0 && at - ls < 64 && has(text.charCodeAt(ls - 1), EMAIL_LOCAL)) ls--;
    while (ls < at && text.charCodeAt(ls) === 46) ls++;
    if (ls === at || text.charCodeAt(at - 1) === 46) continue;
    if (!has(text.charCodeAt(at + 1), ALNUM)) continue;
    let de = at + 1;
    const limit = Math.min(text.length, at + 256);
    while (de < limit && has(text.charCodeAt(de), HOST)) de++;
    while (de > at + 1 && (text.charCodeAt(de - 1) === 46 || text.charCodeAt(de - 1) === 45)) de--;
    if (de - at - 1 > 253 || !validDomain(text.slice(at + 1, de))) continue;
    const local = text.slice(ls, at);
    if (local.includes('..') || local === 'git' || inUrlAuthority(text, ls)) continue;
    out.push({ detector: 'email', start: ls, end: de });
    from = de;
  }
});
