/** Renders rows as an aligned text table in psql's style. */
export function renderTable(columns: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(displayWidth(c), ...rows.map((r) => displayWidth(r[i] ?? ''))));
  const line = (cells: readonly string[], align: (i: number) => 'left' | 'right'): string =>
    cells
      .map((c, i) => {
        const pad = ' '.repeat(widths[i]! - displayWidth(c));
        return align(i) === 'right' ? ` ${pad}${c} ` : ` ${c}${pad} `;
      })
      .join('|')
      .replace(/\s+$/, '');
  const numeric = columns.map((_, i) => rows.length > 0 && rows.every((r) => /^-?\d+(\.\d+)?$/.test(r[i] ?? '') || r[i] === ''));
  const header = line(
    columns.map((c, i) => {
      const extra = widths[i]! - displayWidth(c);
      return ' '.repeat(Math.floor(extra / 2)) + c + ' '.repeat(Math.ceil(extra / 2));
    }),
    () => 'left',
  );
  const sep = widths.map((w) => '-'.repeat(w + 2)).join('+');
  const body = rows.map((r) => line(r, (i) => (numeric[i] ? 'right' : 'left')));
  return [header, sep, ...body].join('\n');
}

function displayWidth(s: string): number {
  return [...s].length;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${Math.round(s % 60)}s`;
  return `${Math.floor(m / 60)}h${m % 60}m`;
}

export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
