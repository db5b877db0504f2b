import { isAlnum, isDigit } from '../chars.js';

/**
 * Whether a number-shaped candidate starting at `s` stands on its own. It must not continue a
 * word (`abc4242…`, hex hashes), a decimal (`0.4111…`, the tail of a float), or an identifier
 * (`ORD-4242…`, `order_4242…`). A `+` belongs to phone numbers, so it disqualifies the others.
 * Commas, colons, tabs and the like are field separators here (CSV, COPY, `key:value`), not
 * decimal marks: a comma-decimal with 13+ digits is rarer than a card in a CSV row.
 */
export function numberStartsAlone(text: string, s: number): boolean {
  const c = text.charCodeAt(s - 1);
  if (c !== c) return true; // start of text
  if (isAlnum(c) || c === 43 /* + */) return false;
  if (c === 46) return !isDigit(text.charCodeAt(s - 2)); // .
  if (c === 45 || c === 95) return !isAlnum(text.charCodeAt(s - 2)); // - _
  return true;
}

/** The mirror of {@link numberStartsAlone} for the character at `e` (one past the candidate). */
export function numberEndsAlone(text: string, e: number): boolean {
  const c = text.charCodeAt(e);
  if (c !== c) return true; // end of text
  if (isAlnum(c)) return false;
  if (c === 46) return !isDigit(text.charCodeAt(e + 1));
  if (c === 45 || c === 95) return !isAlnum(text.charCodeAt(e + 1));
  return true;
}

/** Digits of `text[start, end)` without separators. */
export function digitsOf(text: string, start: number, end: number): string {
  let d = '';
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) d += text[i];
  }
  return d;
}
