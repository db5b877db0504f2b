import type { MaskStyle } from './types.js';

/** A column of a result set, as RowDescription gives it (table name resolved by the caller). */
export interface ColumnField {
  /** Column name or alias. */
  readonly name: string;
  readonly tableOid?: number | undefined;
  /** `table` or `schema.table`, when the column comes straight from a table. */
  readonly table?: string | undefined;
}

/** Mask the whole value, whatever it contains. */
export interface WholeValueRule {
  readonly style: MaskStyle;
  readonly label: string;
}

/**
 * Per-column decision, made once per result set:
 * - `'pass'`: exempt, values go through untouched (no detector runs);
 * - `'detect'`: run the content detectors;
 * - a {@link WholeValueRule}: mask the whole value.
 */
export type PlanEntry = 'pass' | 'detect' | WholeValueRule;

export interface ColumnRuleConfig {
  readonly columns: readonly string[];
  readonly style: MaskStyle;
  readonly label?: string | undefined;
}

export const DEFAULT_RULE_LABEL = 'column';

/**
 * A column pattern is either a regex written `/source/flags`, or a case-insensitive glob where
 * `*` is any run of characters and `?` one character. A glob starting with `*.` also matches a
 * column whose table is unknown (`*.ssn` matches `customers.ssn` and a bare `ssn` alias).
 * Patterns are tested against `column`, `table.column` and, for `schema.table`, also
 * `schema.table.column`. Regexes from the config are not checked for backtracking: they only
 * ever run on identifiers (≤ 63 bytes in PostgreSQL) and once per column per result set.
 */
export function compileColumnPattern(pattern: string): RegExp {
  const re = /^\/(.+)\/([a-z]*)$/s.exec(pattern);
  if (re) {
    if (!/^[imsu]*$/.test(re[2]!)) throw new Error(`column pattern ${pattern}: flags may only use i, m, s and u`);
    try {
      return new RegExp(re[1]!, re[2]);
    } catch (err) {
      throw new Error(`column pattern ${pattern}: ${(err as Error).message}`);
    }
  }
  let body = pattern;
  let prefix = '';
  if (body.startsWith('*.')) {
    prefix = '(?:.*\\.)?';
    body = body.slice(2);
  }
  const src = body.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${prefix}${src}$`, 'i');
}

function candidates(field: ColumnField): string[] {
  const out = [field.name];
  if (field.table) {
    out.push(`${field.table}.${field.name}`);
    const dot = field.table.lastIndexOf('.');
    if (dot !== -1) out.push(`${field.table.slice(dot + 1)}.${field.name}`);
  }
  return out;
}

/** `table.column` or `column` (the last dot splits). */
export function parseColumnRef(ref: string): ColumnField {
  const dot = ref.lastIndexOf('.');
  return dot > 0 && dot < ref.length - 1 ? { name: ref.slice(dot + 1), table: ref.slice(0, dot) } : { name: ref };
}

const PLAN_CACHE_LIMIT = 10_000;

/**
 * Column rules first (the first matching rule wins), then exemptions, else content detection.
 * A column matching both a rule and an exemption is masked: an exemption never weakens an
 * explicit rule. Decisions are cached by (table, column), so a repeated query costs a map
 * lookup per column and nothing per row.
 */
export class ColumnPlanner {
  private readonly rules: { readonly patterns: RegExp[]; readonly entry: WholeValueRule }[];
  private readonly exempt: RegExp[];
  private readonly cache = new Map<string, PlanEntry>();
  /** How many columns had their patterns evaluated (cache misses), for tests and metrics. */
  evaluations = 0;

  constructor(
    rules: readonly ColumnRuleConfig[],
    exempt: readonly string[],
    private readonly enabled = true,
  ) {
    this.rules = rules.map((r) => ({
      patterns: r.columns.map(compileColumnPattern),
      entry: Object.freeze({ style: r.style, label: r.label ?? DEFAULT_RULE_LABEL }),
    }));
    this.exempt = exempt.map(compileColumnPattern);
  }

  entry(field: ColumnField): PlanEntry {
    if (!this.enabled) return 'pass';
    const key = `${field.table ?? ''}\u0000${field.name}`;
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    this.evaluations++;
    const names = candidates(field);
    const matches = (re: RegExp): boolean => names.some((n) => re.test(n));
    let entry: PlanEntry = 'detect';
    const rule = this.rules.find((r) => r.patterns.some(matches));
    if (rule) entry = rule.entry;
    else if (this.exempt.some(matches)) entry = 'pass';
    if (this.cache.size >= PLAN_CACHE_LIMIT) this.cache.clear();
    this.cache.set(key, entry);
    return entry;
  }

  plan(fields: readonly ColumnField[]): PlanEntry[] {
    return fields.map((f) => this.entry(f));
  }
}
