import { UsageError } from '../errors.js';

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/**
 * A point in time for --since/--until: `30d`, `12h`, `15m` (that long before now), `now`, a date
 * (`2025-01-31`, UTC midnight), an ISO date-time, or milliseconds since the epoch.
 */
export function parseTimeArg(value: string, option: string, now: number = Date.now()): number {
  const v = value.trim();
  if (v === 'now') return now;
  const rel = /^(\d+)(ms|s|m|h|d|w)$/.exec(v);
  if (rel) return now - Number(rel[1]) * UNITS[rel[2]!]!;
  if (/^\d+$/.test(v)) return Number(v);
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) return Date.parse(`${v}T00:00:00Z`);
  if (/^\d{4}-\d{2}-\d{2}T/.test(v)) {
    const t = Date.parse(v);
    if (!Number.isNaN(t)) return t;
  }
  throw new UsageError(`${option}: cannot read "${value}" as a time`, 'use 30d, 12h, 15m, now, 2025-01-31 or 2025-01-31T12:00:00Z');
}

/** The --since/--until pair of a command, checked for order. */
export function timeRange(options: Record<string, unknown>, defaults: { since?: string } = {}): { since?: number; until?: number } {
  const now = Date.now();
  const sinceArg = typeof options.since === 'string' ? options.since : defaults.since;
  const since = sinceArg === undefined ? undefined : parseTimeArg(sinceArg, '--since', now);
  const until = typeof options.until === 'string' ? parseTimeArg(options.until, '--until', now) : undefined;
  if (since !== undefined && until !== undefined && since >= until) throw new UsageError('--since must be before --until');
  return { ...(since !== undefined ? { since } : {}), ...(until !== undefined ? { until } : {}) };
}
