import { type PlanEntry, parseColumnRef } from './columns.js';
import { WITHHELD, WITHHELD_COUNT, type Masker } from './masker.js';

/** One masked span: `replacement` is what replaces `text.slice(start, end)`; `null` means the value becomes NULL. */
export interface TextFinding {
  readonly detector: string;
  readonly start: number;
  readonly end: number;
  readonly replacement: string | null;
}

/**
 * What `maskText` would replace in `text`, span by span (for `hoop mask test`). A detector that
 * throws yields one `withheld` finding over the whole text, as masking would.
 */
export function explainText(masker: Masker, text: string): TextFinding[] {
  if (!masker.config.enabled) return [];
  try {
    return masker.detect(text).map((m) => ({
      detector: m.detector,
      start: m.start,
      end: m.end,
      replacement: masker.replacement(m.detector, text.slice(m.start, m.end)),
    }));
  } catch {
    return [{ detector: WITHHELD_COUNT, start: 0, end: text.length, replacement: WITHHELD }];
  }
}

/**
 * RFC 4180 CSV: `,` separators, `"` quoting with `""` escapes, quoted fields may hold commas,
 * quotes and newlines; CRLF or LF line ends; a leading BOM is dropped; a final empty line is not
 * a row. Unbalanced quotes run to the end of the input rather than failing.
 */
export function parseCsv(input: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = input.charCodeAt(0) === 0xfeff ? 1 : 0;
  const n = input.length;
  let fieldStarted = false;
  while (i < n) {
    const c = input[i]!;
    if (c === '"' && !fieldStarted) {
      i++;
      for (;;) {
        const q = input.indexOf('"', i);
        if (q === -1) {
          field += input.slice(i);
          i = n;
          break;
        }
        field += input.slice(i, q);
        if (input[q + 1] === '"') {
          field += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      fieldStarted = true;
    } else if (c === ',') {
      row.push(field);
      field = '';
      fieldStarted = false;
      i++;
    } else if (c === '\n' || c === '\r') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      fieldStarted = false;
      i += c === '\r' && input[i + 1] === '\n' ? 2 : 1;
    } else {
      field += c;
      fieldStarted = true;
      i++;
    }
  }
  if (fieldStarted || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export interface CsvCellExplanation {
  /** 1-based data row (the header is row 0). */
  readonly row: number;
  readonly columnIndex: number;
  readonly column: string;
  /** `'detect'` for content hits; the rule for whole-value masking. */
  readonly entry: Exclude<PlanEntry, 'pass'>;
  readonly findings: TextFinding[];
  /** The cell as masking leaves it; `null` for SQL NULL. */
  readonly masked: string | null;
}

export interface CsvExplanation {
  readonly columns: string[];
  readonly plan: PlanEntry[];
  /** Data rows read. */
  readonly rows: number;
  /** Only cells that masking changes. */
  readonly cells: CsvCellExplanation[];
  readonly counts: Record<string, number>;
  /** The whole input masked (NULL cells become empty fields). */
  readonly maskedCsv: string;
}

export interface ExplainCsvOptions {
  /** First row names the columns (default). Without it, columns are `column_1`, `column_2`… */
  readonly header?: boolean;
}

/**
 * Masks a CSV as the gateway would mask a result set with those columns: column rules and
 * exemptions apply by header name (`ssn`, or `table.column`), other cells go through the
 * detectors. Empty cells are left alone.
 */
export function explainCsv(masker: Masker, csvText: string, options: ExplainCsvOptions = {}): CsvExplanation {
  const all = parseCsv(csvText);
  const header = options.header ?? true;
  const width = all.reduce((w, r) => Math.max(w, r.length), 0);
  const headerRow = header ? (all[0] ?? []) : [];
  const columns = Array.from({ length: width }, (_, i) => headerRow[i] ?? `column_${i + 1}`);
  const plan = masker.planColumns(columns.map(parseColumnRef));
  const data = header ? all.slice(1) : all;
  const cells: CsvCellExplanation[] = [];
  const counts: Record<string, number> = {};
  const out: string[] = header ? [headerRow.map(csvField).join(',')] : [];
  data.forEach((row, r) => {
    const masked = row.map((value, c) => {
      const entry = plan[c] ?? 'detect';
      if (value === '' || entry === 'pass') return value;
      const result = masker.maskValue(value, entry, counts);
      if (result === value) return value;
      const findings: TextFinding[] =
        result === WITHHELD
          ? [{ detector: WITHHELD_COUNT, start: 0, end: value.length, replacement: WITHHELD }]
          : entry === 'detect'
            ? explainText(masker, value)
            : [{ detector: entry.label, start: 0, end: value.length, replacement: result }];
      cells.push({ row: r + 1, columnIndex: c, column: columns[c]!, entry, findings, masked: result });
      return result;
    });
    out.push(masked.map((v) => (v === null ? '' : csvField(v))).join(','));
  });
  return { columns, plan, rows: data.length, cells, counts, maskedCsv: out.join('\n') + (out.length ? '\n' : '') };
}
