/**
 * ASCII character classes as a lookup table: every detector asks "is this a digit / letter /
 * token character" millions of times per MB, and a table lookup beats regex tests or chains of
 * comparisons there. Non-ASCII code units are in no class, so they act as delimiters: a detector
 * then sees a candidate as *more* isolated, which errs on the side of masking.
 */
export const DIGIT = 1;
export const UPPER = 2;
export const LOWER = 4;
export const HEX = 8;
export const UNDERSCORE = 16;
export const DASH = 32;
export const DOT = 64;
export const PLUS = 128;
export const SLASH = 256;
export const PERCENT = 512;

export const ALNUM = DIGIT | UPPER | LOWER;
export const WORD = ALNUM | UNDERSCORE;
export const B64URL = ALNUM | DASH | UNDERSCORE;
export const B64 = ALNUM | PLUS | SLASH;
/** The part of an e-mail local part we accept (no quotes, `=`, `/`…, which mostly glue it to text). */
export const EMAIL_LOCAL = ALNUM | DOT | UNDERSCORE | PERCENT | PLUS | DASH;
export const HOST = ALNUM | DOT | DASH;

const TABLE = new Uint16Array(128);
for (let c = 48; c <= 57; c++) TABLE[c] = DIGIT | HEX;
for (let c = 65; c <= 90; c++) TABLE[c] = UPPER | (c <= 70 ? HEX : 0);
for (let c = 97; c <= 122; c++) TABLE[c] = LOWER | (c <= 102 ? HEX : 0);
TABLE[95] = UNDERSCORE;
TABLE[45] = DASH;
TABLE[46] = DOT;
TABLE[43] = PLUS;
TABLE[47] = SLASH;
TABLE[37] = PERCENT;

/** `c` is a char code (or NaN past either end of the string, which is in no class). */
export function has(c: number, cls: number): boolean {
  return c < 128 && (TABLE[c]! & cls) !== 0;
}

export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

export function isUpper(c: number): boolean {
  return c >= 65 && c <= 90;
}

export function isAlnum(c: number): boolean {
  return c < 128 && (TABLE[c]! & ALNUM) !== 0;
}

/** End of the run of `cls` characters starting at `from`, scanning at most `max` of them. */
export function runEnd(text: string, from: number, cls: number, max = Infinity): number {
  const limit = Math.min(text.length, from + max);
  let i = from;
  while (i < limit && has(text.charCodeAt(i), cls)) i++;
  return i;
}

/** Start of the run of `cls` characters ending just before `to`, scanning at most `max` of them. */
export function runStart(text: string, to: number, cls: number, max = Infinity): number {
  const limit = Math.max(0, to - max);
  let i = to;
  while (i > limit && has(text.charCodeAt(i - 1), cls)) i--;
  return i;
}

/** Shannon entropy in bits per character. */
export function entropy(s: string): number {
  const freq = new Map<number, number>();
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    freq.set(c, (freq.get(c) ?? 0) + 1);
  }
  let h = 0;
  for (const n of freq.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/** Distinct characters, counting at most `cap` (placeholders like `xxxx…` have very few). */
export function distinctChars(s: string, cap = 64): number {
  const seen = new Set<number>();
  for (let i = 0; i < s.length && seen.size < cap; i++) seen.add(s.charCodeAt(i));
  return seen.size;
}

/**
 * Calls `visit` at every occurrence of any of `literals`, in text order. `indexOf` on a literal
 * runs at memory speed, so anchoring detectors on literals keeps PII-free text cheap. `visit`
 * returns where to resume (past the span it consumed), which is what keeps repeated near-matches
 * linear: nothing inside a consumed span is looked at again.
 */
export function forEachLiteral(
  text: string,
  literals: readonly string[],
  visit: (pos: number, literal: number) => number,
  from = 0,
): void {
  if (literals.length === 1) {
    const lit = literals[0]!;
    let p = text.indexOf(lit, from);
    while (p !== -1) p = text.indexOf(lit, Math.max(p + 1, visit(p, 0)));
    return;
  }
  const next: number[] = [];
  let any = false;
  for (let k = 0; k < literals.length; k++) {
    const p = text.indexOf(literals[k]!, from);
    next.push(p);
    if (p !== -1) any = true;
  }
  if (!any) return;
  for (;;) {
    let best = -1;
    let which = -1;
    for (let k = 0; k < next.length; k++) {
      const p = next[k]!;
      if (p !== -1 && (best === -1 || p < best)) {
        best = p;
        which = k;
      }
    }
    if (which === -1) return;
    const resume = Math.max(best + 1, visit(best, which));
    for (let k = 0; k < next.length; k++) {
      if (next[k] !== -1 && next[k]! < resume) next[k] = text.indexOf(literals[k]!, resume);
    }
  }
}
