import { defineDetector, type ScanDetector } from '../scan.js';
import { luhnValid, mod97 } from '../validators.js';

export const CUSTOM_VALIDATORS = ['luhn', 'mod97'] as const;
export type CustomValidator = (typeof CUSTOM_VALIDATORS)[number];

export interface CustomDetectorDefinition {
  readonly name: string;
  readonly pattern: string;
  /** Subset of `imsu`; `g` is always added. */
  readonly flags?: string | undefined;
  readonly validator?: CustomValidator | undefined;
}

export class UnsafePatternError extends Error {
  override readonly name = 'UnsafePatternError';
}

/**
 * Upper bound on the alternatives a backtracking engine may try from one start position. The
 * whole scan is then at most this many steps per input character: linear, with a constant we
 * can live with on hostile input.
 */
export const PATTERN_BACKTRACK_BUDGET = 4096;

/**
 * Rejects patterns that could backtrack super-linearly, with a reason. Deliberately conservative
 * and cheap (one pass over the source, no automaton):
 * - unbounded quantifiers (`*`, `+`, `{n,}`) are refused: a global scan with one of them is
 *   already quadratic on near-misses (`\w+x` against `aaaa…`); bounded ones (`{1,64}`) are fine;
 * - backreferences (`\1`, `\k<n>`) are refused;
 * - every quantifier multiplies the number of ways a match can be attempted: `?` by 2, `{m,n}` by
 *   n−m+1 times the inner count to the power n; alternatives add up. Over
 *   {@link PATTERN_BACKTRACK_BUDGET} the pattern is refused, which catches nested quantifiers
 *   such as `(a{1,9}){1,9}` and quantified alternations like `(a|ab){1,20}`.
 * Overlapping quantifiers separated by a literal (`\w{1,64}@\w{1,64}`) are over-estimated:
 * the message suggests narrowing them.
 */
export function checkPatternSafety(source: string): void {
  let i = 0;
  const fail = (why: string): never => {
    throw new UnsafePatternError(`pattern /${source}/ is not linear-time safe: ${why}`);
  };

  function alternation(): number {
    let total = sequence();
    while (source[i] === '|') {
      i++;
      total += sequence();
      if (total > PATTERN_BACKTRACK_BUDGET) fail('too many alternatives');
    }
    return total;
  }

  function sequence(): number {
    let cost = 1;
    while (i < source.length && source[i] !== '|' && source[i] !== ')') {
      const atomAt = i;
      const inner = atom();
      const q = quantifier();
      let c = inner;
      if (q) {
        if (q.max === Infinity) {
          fail(`unbounded quantifier "${source.slice(q.at, i)}" after "${source.slice(atomAt, q.at)}"; use a bounded one such as {1,64}`);
        }
        c = (q.max - q.min + 1) * inner ** q.max;
      }
      cost *= c;
      if (!(cost <= PATTERN_BACKTRACK_BUDGET)) {
        fail(
          `up to ${Number.isFinite(cost) ? Math.round(cost) : 'unbounded'} backtracking paths per position (limit ${PATTERN_BACKTRACK_BUDGET}) ` +
            `at "${source.slice(atomAt, i)}"; narrow the quantifier ranges, avoid quantifiers inside repeated groups, and use character classes instead of alternations`,
        );
      }
    }
    return cost;
  }

  function atom(): number {
    const ch = source[i];
    if (ch === '(') {
      i++;
      if (source[i] === '?') {
        i++;
        if (source[i] === ':' || source[i] === '=' || source[i] === '!') i++;
        else if (source[i] === '<') {
          i++;
          if (source[i] === '=' || source[i] === '!') i++;
          else {
            const close = source.indexOf('>', i);
            if (close === -1) fail('unterminated group name');
            i = close + 1;
          }
        } else fail('unsupported group syntax');
      }
      const c = alternation();
      if (source[i] !== ')') fail('unbalanced parenthesis');
      i++;
      return c;
    }
    if (ch === '[') {
      i++;
      while (i < source.length && source[i] !== ']') i += source[i] === '\\' ? 2 : 1;
      if (i >= source.length) fail('unterminated character class');
      i++;
      return 1;
    }
    if (ch === '\\') {
      const n = source[i + 1] ?? '';
      if (n >= '1' && n <= '9') fail('backreferences are not allowed');
      if (n === 'k') fail('backreferences are not allowed');
      if ((n === 'u' || n === 'p' || n === 'P') && source[i + 2] === '{') {
        const close = source.indexOf('}', i);
        if (close === -1) fail('unterminated escape');
        i = close + 1;
      } else if (n === 'x') i += 4;
      else if (n === 'u') i += 6;
      else if (n === 'c') i += 3;
      else i += 2;
      return 1;
    }
    if (ch === '*' || ch === '+' || ch === '?') fail(`nothing to repeat before "${ch}"`);
    i++;
    return 1;
  }

  function quantifier(): { min: number; max: number; at: number } | null {
    const at = i;
    const ch = source[i];
    let q: { min: number; max: number; at: number } | null = null;
    if (ch === '*') q = { min: 0, max: Infinity, at };
    else if (ch === '+') q = { min: 1, max: Infinity, at };
    else if (ch === '?') q = { min: 0, max: 1, at };
    if (q) i++;
    else if (ch === '{') {
      const m = /^\{(\d+)(?:(,)(\d*))?\}/.exec(source.slice(i, i + 24));
      if (m) {
        i += m[0].length;
        const min = Number(m[1]);
        const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
        q = { min, max, at };
      }
    }
    if (q && source[i] === '?') i++;
    return q;
  }

  alternation();
  if (i < source.length) fail('unbalanced parenthesis');
}

/** Compiles a custom detector, or throws (syntax error, unsafe pattern, bad flags). */
export function compileCustomDetector(def: CustomDetectorDefinition): ScanDetector {
  const flags = def.flags ?? '';
  if (!/^[imsu]*$/.test(flags)) throw new Error(`custom detector "${def.name}": flags may only use i, m, s and u`);
  checkPatternSafety(def.pattern);
  const re = new RegExp(def.pattern, `${flags}g`);
  const validate = validatorFor(def.validator);
  const name = def.name;
  return defineDetector(name, { priority: 3, needs: [0], minLength: 1 }, (text, out) => {
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const start = m.index;
      const end = start + m[0].length;
      if (end === start) {
        re.lastIndex = start + 1;
        continue;
      }
      if (validate(m[0])) out.push({ detector: name, start, end });
    }
  });
}

function validatorFor(v: CustomValidator | undefined): (s: string) => boolean {
  switch (v) {
    case 'luhn':
      return luhnValid;
    case 'mod97':
      return (s) => {
        const compact = s.replace(/[\s-]/g, '').toUpperCase();
        return /^[A-Z0-9]{5,64}$/.test(compact) && mod97(compact) === 1;
      };
    default:
      return () => true;
  }
}
