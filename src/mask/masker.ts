import { ColumnPlanner, type ColumnField, type PlanEntry, parseColumnRef } from './columns.js';
import { type MaskingConfig, type MaskingConfigInput, maskingSchema } from './config.js';
import { compileCustomDetector } from './detectors/custom.js';
import { BUILTIN_DETECTORS } from './detectors/index.js';
import { F_ALL, type ScanDetector, featuresOf, runsOn } from './scan.js';
import { Tokenizer, partialFor } from './styles.js';
import type { Detector, Match, MaskStyle } from './types.js';

/** What a value becomes when masking it failed: never the raw value. */
export const WITHHELD = '[WITHHELD]';
/** Key of {@link MaskTextResult.counts} counting values withheld because masking threw. */
export const WITHHELD_COUNT = 'withheld';

export class MaskConfigError extends Error {
  override readonly name = 'MaskConfigError';
}

export interface MaskerOptions {
  /** HMAC key for the `hash` style (≥ 16 bytes); required when any rule or detector uses it. */
  readonly key?: Uint8Array | undefined;
  /** Extra detectors (programmatic, e.g. tests); they run after the configured ones. */
  readonly detectors?: readonly Detector[] | undefined;
}

export interface MaskTextResult {
  /** Masked text. When `nullify` is set, a `[REDACTED:label]` marker, for callers that cannot send NULL (logs). */
  readonly text: string;
  /** Hits per detector (or rule label); `withheld` when masking threw. */
  readonly counts: Record<string, number>;
  readonly changed: boolean;
  /** A `null`-style rule or detector hit: the whole value must become SQL NULL. */
  readonly nullify: boolean;
}

export interface Masker {
  readonly config: MaskingConfig;
  /** Masks a text (a log line, a statement, a cell). `column` applies column rules and exemptions. */
  maskText(text: string, column?: string | ColumnField): MaskTextResult;
  /**
   * The per-cell path: `entry` comes from {@link Masker.planColumns}. Returns the masked value,
   * `null` for SQL NULL (a NULL input or a `null`-style hit), the very same string when nothing
   * was masked, and {@link WITHHELD} when masking threw. Hits are added to `counts` if given.
   */
  maskValue(value: string | null, entry?: PlanEntry, counts?: Record<string, number>): string | null;
  /** One entry per field; compute once per RowDescription. */
  planColumns(fields: readonly ColumnField[]): PlanEntry[];
  /** Non-overlapping hits of the content detectors, sorted by start. Throws if a detector does. */
  detect(text: string): Match[];
  /** The replacement for one hit or whole value under the style configured for `label`; `null` = NULL. */
  replacement(label: string, value: string, style?: MaskStyle): string | null;
  /** Whether members of `groups` see clear values (`unmaskedGroups`). */
  seesClearValues(groups: readonly string[]): boolean;
  /** Column-plan cache misses so far (each is one evaluation of the column patterns). */
  readonly planEvaluations: number;
}

interface Nullify {
  readonly nullify: string;
}

function wrapDetector(d: Detector): ScanDetector {
  return {
    name: d.name,
    priority: 4,
    needs: [0],
    minLength: 1,
    find: (text) => d.find(text),
    scan(text, out) {
      for (const m of d.find(text)) {
        if (!(Number.isInteger(m.start) && Number.isInteger(m.end) && m.start >= 0 && m.end <= text.length && m.start < m.end)) {
          throw new Error(`detector ${d.name} returned an invalid span`);
        }
        out.push({ detector: d.name, start: m.start, end: m.end });
      }
    },
  };
}

function bump(counts: Record<string, number> | undefined, label: string): void {
  if (counts) counts[label] = (counts[label] ?? 0) + 1;
}

/** Sorted, non-overlapping; on a tie the higher-priority detector keeps the span, overlaps merge. */
function resolve(matches: Match[], priority: ReadonlyMap<string, number>): Match[] {
  matches.sort((a, b) => a.start - b.start || b.end - a.end || (priority.get(a.detector) ?? 9) - (priority.get(b.detector) ?? 9));
  const out: Match[] = [];
  let last: Match | undefined;
  for (const m of matches) {
    if (last && m.start < last.end) {
      // Overlap: the union is masked under the first one's label, never leaving a tail visible.
      if (m.end > last.end) {
        last = { detector: last.detector, start: last.start, end: m.end };
        out[out.length - 1] = last;
      }
      continue;
    }
    out.push(m);
    last = m;
  }
  return out;
}

export function createMasker(input: MaskingConfigInput | MaskingConfig = {}, options: MaskerOptions = {}): Masker {
  const config = maskingSchema.parse(input);
  const detectors: ScanDetector[] = [
    ...config.detectors.map((n) => BUILTIN_DETECTORS[n]),
    ...config.custom.map((c) => compileCustomDetector(c)),
    ...(options.detectors ?? []).map(wrapDetector),
  ];
  const priority = new Map(detectors.map((d) => [d.name, d.priority]));
  const styleOf = new Map<string, MaskStyle>(detectors.map((d) => [d.name, config.style]));
  for (const [name, style] of Object.entries(config.styles)) if (style) styleOf.set(name, style);
  for (const c of config.custom) if (c.style) styleOf.set(c.name, c.style);

  const usesHash = [...styleOf.values(), ...config.rules.map((r) => r.style)].includes('hash');
  if (usesHash && !options.key) throw new MaskConfigError('masking style "hash" needs a key: pass { key } to createMasker');
  if (options.key && options.key.length < 16) throw new MaskConfigError('the masking hash key must be at least 16 bytes');
  const tokenizer = options.key ? new Tokenizer(options.key) : undefined;
  const planner = new ColumnPlanner(config.rules, config.exempt, config.enabled);
  const unmasked = new Set(config.unmaskedGroups);
  // Nothing built in matches fewer than 4 characters (`pw=x`); programmatic detectors might.
  const minLength = config.custom.length > 0 || (options.detectors?.length ?? 0) > 0 ? 1 : 4;

  // Which detectors a short text's features allow, computed once per distinct feature set
  // (a few hundred in practice): per cell, the detector loop is then a length check each.
  const byFeatures: (ScanDetector[] | undefined)[] = [];
  const allDetectors = detectors;

  function detect(text: string): Match[] {
    const out: Match[] = [];
    const n = text.length;
    if (n < minLength) return out;
    const features = featuresOf(text);
    let list = features === F_ALL ? allDetectors : byFeatures[features];
    if (list === undefined) {
      list = detectors.filter((d) => runsOn(d, features, Infinity));
      byFeatures[features] = list;
    }
    for (let i = 0; i < list.length; i++) {
      const d = list[i]!;
      if (n >= d.minLength) d.scan(text, out);
    }
    return out.length > 1 ? resolve(out, priority) : out;
  }

  function render(label: string, value: string, style: MaskStyle): string | null {
    switch (style) {
      case 'redact':
        return `[REDACTED:${label}]`;
      case 'partial':
        return partialFor(label)(value);
      case 'hash':
        if (!tokenizer) throw new MaskConfigError('masking style "hash" needs a key');
        return tokenizer.token(label, value);
      case 'null':
        return null;
    }
  }

  /**
   * Masked text, or which label nullified it. Throws on any failure (callers withhold); counts
   * are added only once everything rendered, so a withheld value counts as `withheld` alone.
   */
  function apply(text: string, entry: PlanEntry, counts: Record<string, number> | undefined): string | Nullify {
    if (entry === 'pass') return text;
    if (entry !== 'detect') {
      const r = render(entry.label, text, entry.style);
      bump(counts, entry.label);
      return r === null ? { nullify: entry.label } : r;
    }
    const matches = detect(text);
    if (matches.length === 0) return text;
    let nullLabel: string | undefined;
    for (const m of matches) {
      if (styleOf.get(m.detector) === 'null') {
        nullLabel = m.detector;
        break;
      }
    }
    let out = '';
    if (nullLabel === undefined) {
      let pos = 0;
      for (const m of matches) {
        out += text.slice(pos, m.start) + render(m.detector, text.slice(m.start, m.end), styleOf.get(m.detector) ?? config.style);
        pos = m.end;
      }
      out += text.slice(pos);
    }
    for (const m of matches) bump(counts, m.detector);
    return nullLabel === undefined ? out : { nullify: nullLabel };
  }

  return {
    config,
    get planEvaluations() {
      return planner.evaluations;
    },
    detect,
    planColumns: (fields) => planner.plan(fields),
    seesClearValues: (groups) => groups.some((g) => unmasked.has(g)),

    replacement(label, value, style) {
      return render(label, value, style ?? styleOf.get(label) ?? config.style);
    },

    maskText(text, column) {
      if (!config.enabled) return { text, counts: {}, changed: false, nullify: false };
      const counts: Record<string, number> = {};
      try {
        const entry = column === undefined ? 'detect' : planner.entry(typeof column === 'string' ? parseColumnRef(column) : column);
        const r = apply(text, entry, counts);
        if (typeof r !== 'string') return { text: `[REDACTED:${r.nullify}]`, counts, changed: true, nullify: true };
        return { text: r, counts, changed: r !== text, nullify: false };
      } catch {
        return { text: WITHHELD, counts: { [WITHHELD_COUNT]: 1 }, changed: true, nullify: false };
      }
    },

    maskValue(value, entry = 'detect', counts) {
      if (value === null || entry === 'pass' || !config.enabled) return value;
      try {
        const r = apply(value, entry, counts);
        return typeof r === 'string' ? r : null;
      } catch {
        bump(counts, WITHHELD_COUNT);
        return WITHHELD;
      }
    },
  };
}
