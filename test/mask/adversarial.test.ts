import { describe, expect, it } from 'vitest';
import { BUILTIN_DETECTORS, BUILTIN_DETECTOR_NAMES, compileCustomDetector, createMasker } from '../../src/mask/index.js';
import { ADVERSARIAL_SIZE, adversarialInputs } from './fixtures/adversarial.js';

// No timing assertions (machines differ); a quadratic scanner would still blow the per-test
// wall-clock limit by orders of magnitude: 100 KB squared is 10^10 steps.
const LIMIT_MS = 30_000;
const inputs = adversarialInputs();

describe(`adversarial ${ADVERSARIAL_SIZE / 1000} KB inputs complete`, () => {
  it('inputs are the advertised size', () => {
    for (const [name, text] of inputs) expect(text.length, name).toBeGreaterThanOrEqual(ADVERSARIAL_SIZE - 16);
  });

  for (const name of BUILTIN_DETECTOR_NAMES) {
    it(
      `${name}: every hostile input`,
      () => {
        for (const [label, text] of inputs) {
          const matches = BUILTIN_DETECTORS[name].find(text);
          expect(Array.isArray(matches), label).toBe(true);
          for (const m of matches) expect(m.end).toBeGreaterThan(m.start);
        }
      },
      LIMIT_MS,
    );
  }

  it(
    'custom detectors that pass the safety check',
    () => {
      const custom = [
        compileCustomDetector({ name: 'employee-id', pattern: 'EMP-\\d{6}' }),
        compileCustomDetector({ name: 'card-ish', pattern: '\\d{4}(?:[ -]?\\d{4}){3}', validator: 'luhn' }),
        compileCustomDetector({ name: 'mrn', pattern: '[A-Z]{2,3}\\d{6,10}', flags: 'i' }),
      ];
      for (const d of custom) {
        for (const [label, text] of [...inputs, ['EMP- x N', 'EMP-'.repeat(25_000)], ['EMP-12345 x N', 'EMP-12345'.repeat(11_112)]] as [string, string][]) {
          expect(Array.isArray(d.find(text)), `${d.name} / ${label}`).toBe(true);
        }
      }
    },
    LIMIT_MS,
  );

  it(
    'the whole masker (every detector incl. opt-in, all styles) on every hostile input',
    () => {
      const styles = ['redact', 'partial', 'hash'] as const;
      for (const style of styles) {
        const masker = createMasker({ detectors: [...BUILTIN_DETECTOR_NAMES], style }, { key: Buffer.alloc(32, 1) });
        for (const [label, text] of inputs) {
          const r = masker.maskText(text);
          expect(typeof r.text, label).toBe('string');
          expect(r.counts.withheld, label).toBeUndefined();
        }
      }
    },
    LIMIT_MS * 2,
  );
});
