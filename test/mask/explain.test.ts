import { describe, expect, it } from 'vitest';
import { WITHHELD, createMasker, explainCsv, explainText, parseCsv } from '../../src/mask/index.js';

describe('explainText', () => {
  it('lists each hit with its span and replacement', () => {
    const m = createMasker({ styles: { card: 'partial' } });
    const text = 'mail bob@example.com, card 4242 4242 4242 4242';
    const findings = explainText(m, text);
    expect(findings).toEqual([
      { detector: 'email', start: 5, end: 20, replacement: '[REDACTED:email]' },
      { detector: 'card', start: 27, end: 46, replacement: '**** **** **** 4242' },
    ]);
    expect(text.slice(findings[0]!.start, findings[0]!.end)).toBe('bob@example.com');
  });

  it('null style: replacement null; disabled: nothing; a throwing detector: withheld', () => {
    expect(explainText(createMasker({ styles: { ssn: 'null' } }), 'x 123-45-6789')[0]?.replacement).toBeNull();
    expect(explainText(createMasker({ enabled: false }), 'bob@example.com')).toEqual([]);
    const broken = createMasker({}, { detectors: [{ name: 'boom', find: () => { throw new Error('x'); } }] });
    expect(explainText(broken, 'abc')).toEqual([{ detector: 'withheld', start: 0, end: 3, replacement: WITHHELD }]);
  });
});

describe('parseCsv', () => {
  it('quoted fields with commas, quotes and newlines; CRLF; BOM', () => {
    expect(parseCsv('\ufeffa,b,c\r\n1,"x, y","say ""hi"""\n2,"multi\nline",\n')).toEqual([
      ['a', 'b', 'c'],
      ['1', 'x, y', 'say "hi"'],
      ['2', 'multi\nline', ''],
    ]);
    expect(parseCsv('a,b')).toEqual([['a', 'b']]);
    expect(parseCsv('')).toEqual([]);
    expect(parseCsv('"unterminated,x')).toEqual([['unterminated,x']]);
  });
});

describe('explainCsv', () => {
  const csv = [
    'id,email,ssn,notes,password',
    '1,bob@example.com,123-45-6789,"call +1 415-555-2671, or mail alice@example.org",hunter2',
    '2,carol@example.com,not-an-ssn,"plain, harmless note",',
    '3,,078-05-1120,"quote ""4242 4242 4242 4242""\nsecond line",x',
  ].join('\n');
  const m = createMasker({
    rules: [
      { columns: ['ssn'], style: 'partial', label: 'ssn' },
      { columns: ['*password*'], style: 'null' },
    ],
    exempt: ['id'],
  });

  it('applies column rules by header name and detectors elsewhere', () => {
    const r = explainCsv(m, csv);
    expect(r.columns).toEqual(['id', 'email', 'ssn', 'notes', 'password']);
    expect(r.rows).toBe(3);
    expect(r.plan[0]).toBe('pass');
    expect(r.plan[2]).toEqual({ style: 'partial', label: 'ssn' });
    const cell = (row: number, column: string) => r.cells.find((c) => c.row === row && c.column === column);
    expect(cell(1, 'email')?.masked).toBe('[REDACTED:email]');
    expect(cell(1, 'ssn')?.masked).toBe('***-**-6789');
    expect(cell(2, 'ssn')?.masked).toBe('***-**-***'); // a rule masks whatever is there
    expect(cell(1, 'password')?.masked).toBeNull();
    expect(cell(1, 'notes')?.findings.map((f) => f.detector)).toEqual(['phone', 'email']);
    expect(cell(3, 'notes')?.findings.map((f) => f.detector)).toEqual(['card']);
    expect(cell(2, 'notes')).toBeUndefined();
    expect(cell(2, 'password')).toBeUndefined(); // empty cell
    expect(r.cells.some((c) => c.column === 'id')).toBe(false);
    expect(r.counts).toEqual({ email: 3, ssn: 3, phone: 1, column: 2, card: 1 });
  });

  it('produces the masked CSV, re-quoted', () => {
    const lines = parseCsv(explainCsv(m, csv).maskedCsv);
    expect(lines[0]).toEqual(['id', 'email', 'ssn', 'notes', 'password']);
    expect(lines[1]).toEqual(['1', '[REDACTED:email]', '***-**-6789', 'call [REDACTED:phone], or mail [REDACTED:email]', '']);
    expect(lines[3]).toEqual(['3', '', '***-**-1120', 'quote "[REDACTED:card]"\nsecond line', '']);
  });

  it('table.column headers and headerless input', () => {
    const r = explainCsv(createMasker({ rules: [{ columns: ['customers.ssn'], style: 'redact' }] }), 'customers.ssn,orders.ssn\nx,y\n');
    expect(r.cells.map((c) => [c.column, c.masked])).toEqual([['customers.ssn', '[REDACTED:column]']]);
    const h = explainCsv(createMasker({}), 'bob@example.com,1\n', { header: false });
    expect(h.columns).toEqual(['column_1', 'column_2']);
    expect(h.cells[0]?.row).toBe(1);
  });
});
