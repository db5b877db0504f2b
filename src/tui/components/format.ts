/** "42s", "4m05s", "2h03m": short enough for a table cell, exact enough for a countdown. */
export function formatSpan(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** Agent metadata as `k=v` pairs, or an empty string for a person at a keyboard. */
export function formatAgent(meta: Readonly<Record<string, string>> | null): string {
  return meta ? Object.entries(meta).map(([k, v]) => `${k}=${v}`).join(' ') : '';
}
