import { describe, expect, it } from 'vitest';
import { ColumnPlanner, compileColumnPattern, createMasker, parseColumnRef } from '../../src/mask/index.js';

describe('column patterns', () => {
  it('globs are case-insensitive, * spans anything, a leading *. also matches a bare column', () => {
    const ssn = compileColumnPattern('*.ssn');
    expect(ssn.test('customers.ssn')).toBe(true);
    expect(ssn.test('public.customers.SSN')).toBe(true);
    expect(ssn.test('ssn')).toBe(true);
    expect(ssn.test('customers.ssn_hash')).toBe(false);
    const pw = compileColumnPattern('*password*');
    expect(pw.test('users.password_hash')).toBe(true);
    expect(pw.test('Password')).toBe(true);
    const exact = compileColumnPattern('customers.card_number');
    expect(exact.test('customers.card_number')).toBe(true);
    expect(exact.test('orders.card_number')).toBe(false);
    expect(compileColumnPattern('c?de').test('code')).toBe(true);
    expect(compileColumnPattern('a.b').test('axb')).toBe(false); // dots are literal
  });

  it('/regex/flags patterns', () => {
    const re = compileColumnPattern('/^(.*\\.)?card_?number$/i');
    expect(re.test('customers.card_number')).toBe(true);
    expect(re.test('CardNumber')).toBe(true);
    expect(re.test('card_numbers')).toBe(false);
    expect(() => compileColumnPattern('/(/')).toThrow(/column pattern/);
    expect(() => compileColumnPattern('/x/g')).toThrow(/flags/);
  });

  it('parses table.column references', () => {
    expect(parseColumnRef('ssn')).toEqual({ name: 'ssn' });
    expect(parseColumnRef('customers.ssn')).toEqual({ name: 'ssn', table: 'customers' });
    expect(parseColumnRef('public.customers.ssn')).toEqual({ name: 'ssn', table: 'public.customers' });
  });
});

describe('planColumns', () => {
  const config = {
    rules: [
      { columns: ['*.ssn', '/^(.*\\.)?card_?number$/i'], style: 'redact' as const, label: 'pii' },
      { columns: ['*password*'], style: 'null' as const },
    ],
    exempt: ['*.id', 'orders.*', '*.ssn'],
  };

  it('maps each field to pass, detect or a whole-value rule', () => {
    const m = createMasker(config);
    const plan = m.planColumns([
      { name: 'id', table: 'customers', tableOid: 16384 },
      { name: 'ssn', table: 'customers' },
      { name: 'card_number', table: 'customers' },
      { name: 'CardNumber' },
      { name: 'password_hash', table: 'users' },
      { name: 'notes', table: 'customers' },
      { name: 'status', table: 'orders' },
      { name: 'total' },
    ]);
    expect(plan).toEqual([
      'pass',
      { style: 'redact', label: 'pii' }, // a rule beats an exemption
      { style: 'redact', label: 'pii' },
      { style: 'redact', label: 'pii' },
      { style: 'null', label: 'column' },
      'detect',
      'pass',
      'detect',
    ]);
  });

  it('whole-value rules mask whatever the value holds, beating detectors', () => {
    const m = createMasker(config);
    const [pii, pw, notes] = m.planColumns([{ name: 'ssn' }, { name: 'password' }, { name: 'notes' }]);
    expect(m.maskValue('not even an ssn', pii)).toBe('[REDACTED:pii]');
    expect(m.maskValue('bob@example.com', pii)).toBe('[REDACTED:pii]'); // the rule's label, not email
    expect(m.maskValue('hunter2', pw)).toBeNull();
    expect(m.maskValue('bob@example.com', notes)).toBe('[REDACTED:email]');
    expect(m.maskText('bob@example.com', 'orders.status').text).toBe('bob@example.com'); // exempt
    expect(m.maskText('x', 'users.password').nullify).toBe(true);
  });

  it('is computed once per column: the per-row cost is a lookup', () => {
    const planner = new ColumnPlanner(config.rules, config.exempt);
    const fields = [{ name: 'id', table: 'customers' }, { name: 'ssn', table: 'customers' }, { name: 'notes' }];
    const first = planner.plan(fields);
    expect(planner.evaluations).toBe(3);
    for (let i = 0; i < 100; i++) expect(planner.plan(fields)).toEqual(first);
    expect(planner.evaluations).toBe(3);
    // Entries are shared objects: rows compare by identity, nothing is rebuilt.
    expect(planner.plan(fields)[1]).toBe(first[1]);
    planner.plan([{ name: 'other' }]);
    expect(planner.evaluations).toBe(4);

    const m = createMasker(config);
    const plan = m.planColumns(fields);
    const before = m.planEvaluations;
    for (let r = 0; r < 1000; r++) plan.forEach((entry, c) => m.maskValue(`row ${r} col ${c}`, entry));
    expect(m.planEvaluations).toBe(before);
  });

  it('masking disabled plans every column as pass', () => {
    expect(createMasker({ ...config, enabled: false }).planColumns([{ name: 'ssn' }, { name: 'x' }])).toEqual(['pass', 'pass']);
  });
});
