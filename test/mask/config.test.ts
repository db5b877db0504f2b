import { describe, expect, it } from 'vitest';
import { DEFAULT_DETECTORS, UnsafePatternError, checkPatternSafety, createMasker, maskingSchema, parseMaskingConfig } from '../../src/mask/index.js';
import { z } from 'zod';

describe('masking config', () => {
  it('defaults: enabled, every detector but IPs, redact', () => {
    const c = parseMaskingConfig({});
    expect(c.enabled).toBe(true);
    expect(c.style).toBe('redact');
    expect(c.detectors).toEqual([...DEFAULT_DETECTORS]);
    expect(c.detectors).not.toContain('ipv4');
    expect(c.detectors).not.toContain('ipv6');
    expect(c.detectors).toContain('card');
    expect(c).toMatchObject({ rules: [], exempt: [], custom: [], unmaskedGroups: [], styles: {} });
  });

  it('embeds in a parent schema with prefault', () => {
    const parent = z.object({ masking: maskingSchema.prefault({}) });
    expect(parent.parse({}).masking.detectors).toEqual([...DEFAULT_DETECTORS]);
  });

  it('rejects unknown detectors, styles and keys', () => {
    expect(() => parseMaskingConfig({ detectors: ['credit-card'] })).toThrow();
    expect(() => parseMaskingConfig({ style: 'scramble' })).toThrow();
    expect(() => parseMaskingConfig({ rules: [{ columns: ['*.ssn'], style: 'redact', extra: 1 }] })).toThrow();
    expect(() => parseMaskingConfig({ rules: [{ columns: [], style: 'redact' }] })).toThrow();
    expect(() => parseMaskingConfig({ exempt: ['/(/'] })).toThrow(/column pattern/);
    expect(() => parseMaskingConfig({ custom: [{ name: 'card', pattern: 'x' }] })).toThrow(/already taken/);
    expect(() => parseMaskingConfig({ custom: [{ name: 'a', pattern: 'x' }, { name: 'a', pattern: 'y' }] })).toThrow(/already taken/);
  });

  it('rule and detector styles', () => {
    const c = parseMaskingConfig({ rules: [{ columns: ['*.ssn'] }], styles: { email: 'partial' } });
    expect(c.rules[0]).toEqual({ columns: ['*.ssn'], style: 'redact' });
    expect(c.styles).toEqual({ email: 'partial' });
  });
});

describe('custom detectors', () => {
  it('run with optional validators', () => {
    const m = createMasker({
      detectors: [],
      custom: [
        { name: 'employee-id', pattern: 'EMP-\\d{6}' },
        { name: 'loyalty-card', pattern: 'LC\\d{10}', validator: 'luhn' },
        { name: 'account', pattern: '[A-Z]{2}\\d{2}[A-Z0-9]{10,30}', validator: 'mod97', style: 'partial' },
      ],
    });
    expect(m.maskText('by EMP-123456 today').text).toBe('by [REDACTED:employee-id] today');
    expect(m.maskText('LC4242424242 ok, LC4242424241 not').text).toBe('[REDACTED:loyalty-card] ok, LC4242424241 not');
    expect(m.maskText('GB82WEST12345698765432 vs GB82WEST12345698765431').text).toBe('******************5432 vs GB82WEST12345698765431');
  });

  it('flags are limited and g is implied', () => {
    const m = createMasker({ detectors: [], custom: [{ name: 'code', pattern: 'secret-[a-z]{3}', flags: 'i' }] });
    expect(m.maskText('SECRET-ABC and secret-xyz').counts).toEqual({ code: 2 });
    expect(() => parseMaskingConfig({ custom: [{ name: 'x', pattern: 'a', flags: 'y' }] })).toThrow();
  });

  it('patterns that are not linear-time safe are rejected with the reason', () => {
    const reject = (pattern: string, why: RegExp): void => {
      expect(() => checkPatternSafety(pattern), pattern).toThrow(UnsafePatternError);
      expect(() => checkPatternSafety(pattern), pattern).toThrow(why);
      expect(() => parseMaskingConfig({ custom: [{ name: 'x', pattern }] }), pattern).toThrow(why);
    };
    reject('(a+)+$', /unbounded quantifier/);
    reject('\\w+@\\w+', /unbounded quantifier/);
    reject('a*', /unbounded quantifier/);
    reject('\\d{3,}', /unbounded quantifier/);
    reject('(a{1,9}){1,9}', /backtracking paths/);
    reject('(?:a|ab){1,20}', /backtracking paths/);
    reject('(\\d{1,10}){2,10}', /backtracking paths/);
    reject('(a)\\1', /backreferences/);
    reject('(?<x>a)\\k<x>', /backreferences/);
    reject('(a', /unbalanced/);
  });

  it('bounded, unambiguous patterns pass', () => {
    for (const p of ['EMP-\\d{6}', '\\d{4}(?:[ -]?\\d{4}){3}', '[A-Z]{2}\\d{2}[A-Z0-9]{11,30}', '(?<=id:)\\d{1,12}', 'x(?:ab|cd)y', '\\bMRN\\d{7,9}\\b', '[\\]\\\\]{1,4}']) {
      expect(() => checkPatternSafety(p), p).not.toThrow();
    }
  });
});
