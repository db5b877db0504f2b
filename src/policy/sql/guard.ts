/**
 * A stack guard for the WASM parser, NOT a classifier.
 *
 * libpg_query turns its C parse tree into JSON recursively. A statement nested thousands of levels
 * deep (`select 1+1+1…`, `select 1 union all select 1 …`, `f(f(f(…)))`) overflows the JavaScript
 * engine's stack inside WebAssembly. The parser then throws a RangeError, but the memory context of
 * that parse is never freed (tens of MB for a large statement), and enough of them kill the process
 * with a FATAL out-of-memory. A gateway that parses hostile text must not let that happen, so text
 * that could nest deeply is measured first, with a single linear pass that knows just enough of the
 * lexical rules (strings, quoted identifiers, dollar quotes, comments) not to be fooled by them.
 *
 * The estimate is an upper bound of the tree depth, in rough units of "one binary operator":
 * every open parenthesis or bracket costs 5 (a sub-select or function call is several nodes deep),
 * every operator, typecast and chaining keyword (IS, NOT, UNION, JOIN…) at a level adds 1, and a
 * comma, AND, OR, WHEN, THEN or ELSE starts a new sibling (lists are flat in the tree). Set
 * operations and joins chain across commas, so they are counted separately. Measured on PostgreSQL
 * 18's libpg_query under Node's default stack, the parser overflows at about 9,600 chained
 * operators and at about 2,300 nested sub-selects (11,000 units); the default limit of 2,000
 * leaves a margin of about five.
 *
 * Nothing here decides a class: classification only ever looks at the real parser's tree.
 */

export const DEFAULT_MAX_NESTING = 2000;

/** Text shorter than this cannot nest deeply enough to matter (each level costs at least 2 characters). */
export const GUARD_MIN_LENGTH = 2048;

const CHAIN_KEYWORDS = new Set([
  'is', 'isnull', 'notnull', 'not', 'collate', 'at', 'like', 'ilike', 'similar', 'between', 'in', 'overlaps', 'escape', 'operator', 'any', 'all', 'some',
]);
const SETOP_KEYWORDS = new Set(['union', 'intersect', 'except', 'join']);
const SIBLING_KEYWORDS = new Set(['and', 'or', 'when', 'then', 'else']);
const OPERATOR_CHARS = '+-*/<>=~!@#%^&|`?';

function isIdentStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c >= 0x80;
}
function isIdentChar(c: number): boolean {
  return isIdentStart(c) || (c >= 48 && c <= 57) || c === 36;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * Upper bound of the parse tree's depth in operator units, or the running maximum when the text
 * ends inside a string or comment (the parser will reject it without building a deep tree).
 */
export function estimateNesting(sql: string): number {
  const n = sql.length;
  // Per open level: its chain (reset by siblings) and its set-operation/join chain.
  const chains: number[] = [0];
  const setops: number[] = [0];
  // Sum over enclosing levels of (5 + chain + setops), frozen while inside the inner level.
  let enclosing = 0;
  let max = 0;
  const bump = (): void => {
    const here = enclosing + (chains[chains.length - 1] ?? 0) + (setops[setops.length - 1] ?? 0);
    if (here > max) max = here;
  };
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    // whitespace
    if (c === 32 || c === 9 || c === 10 || c === 13 || c === 12) {
      i++;
      continue;
    }
    // -- comment
    if (c === 45 && sql.charCodeAt(i + 1) === 45) {
      const nl = sql.indexOf('\n', i + 2);
      if (nl < 0) return max;
      i = nl + 1;
      continue;
    }
    // /* nested comment */
    if (c === 47 && sql.charCodeAt(i + 1) === 42) {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        const d = sql.charCodeAt(i);
        if (d === 47 && sql.charCodeAt(i + 1) === 42) {
          depth++;
          i += 2;
        } else if (d === 42 && sql.charCodeAt(i + 1) === 47) {
          depth--;
          i += 2;
        } else i++;
      }
      if (depth > 0) return max;
      continue;
    }
    // 'string' (the E'' form is handled with identifiers)
    if (c === 39) {
      const end = skipQuoted(sql, i, 39, false);
      if (end < 0) return max;
      i = end;
      continue;
    }
    // "quoted identifier"
    if (c === 34) {
      const end = skipQuoted(sql, i, 34, false);
      if (end < 0) return max;
      i = end;
      continue;
    }
    // $1 parameter or $tag$ dollar quote $tag$
    if (c === 36) {
      if (isDigit(sql.charCodeAt(i + 1))) {
        i += 2;
        while (i < n && isDigit(sql.charCodeAt(i))) i++;
        continue;
      }
      let j = i + 1;
      while (j < n && isIdentChar(sql.charCodeAt(j)) && sql.charCodeAt(j) !== 36) j++;
      if (sql.charCodeAt(j) === 36) {
        const tag = sql.slice(i, j + 1);
        const close = sql.indexOf(tag, j + 1);
        if (close < 0) return max;
        i = close + tag.length;
        continue;
      }
      i++;
      continue;
    }
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentChar(sql.charCodeAt(j))) j++;
      const word = sql.slice(i, j).toLowerCase();
      if ((word === 'e' || word === 'b' || word === 'x' || word === 'n') && sql.charCodeAt(j) === 39) {
        const end = skipQuoted(sql, j, 39, word === 'e');
        if (end < 0) return max;
        i = end;
        continue;
      }
      i = j;
      const top = chains.length - 1;
      if (SIBLING_KEYWORDS.has(word)) chains[top] = 0;
      else if (SETOP_KEYWORDS.has(word)) {
        setops[top] = (setops[top] ?? 0) + 1;
        bump();
      } else if (CHAIN_KEYWORDS.has(word)) {
        chains[top] = (chains[top] ?? 0) + 1;
        bump();
      }
      continue;
    }
    if (isDigit(c) || (c === 46 && isDigit(sql.charCodeAt(i + 1)))) {
      i++;
      while (i < n && (isIdentChar(sql.charCodeAt(i)) || sql.charCodeAt(i) === 46)) i++;
      continue;
    }
    if (c === 40 || c === 91) {
      // ( or [
      const top = chains.length - 1;
      enclosing += 5 + (chains[top] ?? 0) + (setops[top] ?? 0);
      chains.push(0);
      setops.push(0);
      bump();
      i++;
      continue;
    }
    if (c === 41 || c === 93) {
      // ) or ]
      if (chains.length > 1) {
        chains.pop();
        setops.pop();
        const top = chains.length - 1;
        enclosing -= 5 + (chains[top] ?? 0) + (setops[top] ?? 0);
      }
      i++;
      continue;
    }
    if (c === 44) {
      // ,
      chains[chains.length - 1] = 0;
      i++;
      continue;
    }
    if (c === 59) {
      // ; ends a statement (or an action inside CREATE RULE … ( … ; … ))
      chains[chains.length - 1] = 0;
      setops[setops.length - 1] = 0;
      i++;
      continue;
    }
    if (c === 58 && sql.charCodeAt(i + 1) === 58) {
      // :: typecast
      chains[chains.length - 1] = (chains[chains.length - 1] ?? 0) + 1;
      bump();
      i += 2;
      continue;
    }
    if (OPERATOR_CHARS.includes(sql[i] ?? '')) {
      let j = i + 1;
      while (j < n && OPERATOR_CHARS.includes(sql[j] ?? '')) {
        // A comment start ends the operator.
        if ((sql[j] === '-' && sql[j + 1] === '-') || (sql[j] === '/' && sql[j + 1] === '*')) break;
        j++;
      }
      chains[chains.length - 1] = (chains[chains.length - 1] ?? 0) + 1;
      bump();
      i = j;
      continue;
    }
    i++;
  }
  return max;
}

/** Index just past the closing quote, or -1 when unterminated. Doubled quotes escape; `backslash` for E'' strings. */
function skipQuoted(sql: string, open: number, quote: number, backslash: boolean): number {
  let i = open + 1;
  const n = sql.length;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (backslash && c === 92) {
      i += 2;
      continue;
    }
    if (c === quote) {
      if (sql.charCodeAt(i + 1) === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return -1;
}
