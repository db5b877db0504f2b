/**
 * The shape of a query text: the text with every literal's value blanked (`'…'` → `''`, `42` or
 * `1.5e3` → `0`), everything else kept character for character. Two texts with the same shape
 * differ only inside literals, so they parse to the same tree up to constant values; the
 * classifier uses that to reuse a decision for `… WHERE aid = 17` that it made for `… aid = 16`
 * instead of parsing again (only when the decision never looked at a literal's value: see
 * classify.ts).
 *
 * This is not a classifier and decides nothing: it only has to find literals exactly where
 * PostgreSQL's lexer finds them. It handles the common forms and gives up (returns null, and the
 * text is classified on its own) on anything whose lexing depends on more than it tracks:
 * - `\` anywhere: E'' strings, and plain strings when standard_conforming_strings is off;
 * - `$` anywhere: dollar quoting and parameters;
 * - a quote right after an identifier character or `&`: E'', B'', X'', N'', U&'' and typed
 *   literals written without a space; `U&"…"` identifiers, whose UESCAPE string changes the name;
 * - NUL (the parser would stop there), unterminated quotes and comments;
 * - numbers followed by a letter, digit separator or second dot (`0x1f`, `1e`, `1_000`, `1.2.3`).
 */

const QUOTE = 0x27; // '
const DQUOTE = 0x22; // "
const DASH = 0x2d; // -
const SLASH = 0x2f; // /
const STAR = 0x2a; // *
const DOT = 0x2e; // .
const AMP = 0x26; // &
const LF = 0x0a;
const CR = 0x0d;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Characters that continue an identifier or keyword (PostgreSQL: letters, digits, _, $, and any non-ASCII). */
function isIdentChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || isDigit(c) || c === 0x5f || c === 0x24 || c >= 0x80;
}

/** The text's shape, or null when the text holds something this lexer does not follow exactly. */
export function literalShape(sql: string): string | null {
  if (sql.includes('\\') || sql.includes('$') || sql.includes('\0') || sql.includes('&"') || sql.includes("&'")) return null;
  const n = sql.length;
  let out = '';
  let copied = 0; // sql[copied, i) is still to be copied verbatim
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === QUOTE) {
      // An identifier character or & before the quote makes it a prefixed literal (E'', U&'', …).
      if (i > 0) {
        const p = sql.charCodeAt(i - 1);
        if (isIdentChar(p) || p === AMP) return null;
      }
      let j = i + 1;
      for (;;) {
        const q = sql.indexOf("'", j);
        if (q < 0) return null;
        if (sql.charCodeAt(q + 1) === QUOTE) {
          j = q + 2; // '' inside a literal is one quote
          continue;
        }
        j = q + 1;
        break;
      }
      out += sql.slice(copied, i) + "''";
      copied = i = j;
      continue;
    }
    if (c === DQUOTE) {
      let j = i + 1;
      for (;;) {
        const q = sql.indexOf('"', j);
        if (q < 0) return null;
        if (sql.charCodeAt(q + 1) === DQUOTE) {
          j = q + 2;
          continue;
        }
        j = q + 1;
        break;
      }
      i = j;
      continue;
    }
    if (c === DASH && sql.charCodeAt(i + 1) === DASH) {
      let j = i + 2;
      while (j < n) {
        const d = sql.charCodeAt(j);
        if (d === LF || d === CR) break;
        j++;
      }
      i = j;
      continue;
    }
    if (c === SLASH && sql.charCodeAt(i + 1) === STAR) {
      // Comments nest in PostgreSQL.
      let depth = 1;
      let j = i + 2;
      while (depth > 0) {
        if (j >= n) return null;
        const d = sql.charCodeAt(j);
        if (d === SLASH && sql.charCodeAt(j + 1) === STAR) {
          depth++;
          j += 2;
        } else if (d === STAR && sql.charCodeAt(j + 1) === SLASH) {
          depth--;
          j += 2;
        } else j++;
      }
      i = j;
      continue;
    }
    if (isIdentChar(c) && !isDigit(c)) {
      // A keyword or identifier, digits included (t1, abc123): copied as it is.
      let j = i + 1;
      while (j < n && isIdentChar(sql.charCodeAt(j))) j++;
      i = j;
      continue;
    }
    if (isDigit(c)) {
      // digits [. digits*] [e [+-] digits]
      let j = i + 1;
      while (j < n && isDigit(sql.charCodeAt(j))) j++;
      if (sql.charCodeAt(j) === DOT) {
        j++;
        while (j < n && isDigit(sql.charCodeAt(j))) j++;
      }
      const e = sql.charCodeAt(j);
      if (e === 0x65 || e === 0x45) {
        let k = j + 1;
        const sign = sql.charCodeAt(k);
        if (sign === 0x2b || sign === DASH) k++;
        if (!isDigit(sql.charCodeAt(k))) return null;
        while (k < n && isDigit(sql.charCodeAt(k))) k++;
        j = k;
      }
      if (j < n) {
        const next = sql.charCodeAt(j);
        if (isIdentChar(next) || next === DOT) return null;
      }
      out += sql.slice(copied, i) + '0';
      copied = i = j;
      continue;
    }
    i++;
  }
  return copied === 0 ? sql : out + sql.slice(copied);
}
