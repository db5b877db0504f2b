import { describe, expect, it } from 'vitest';
import { F_ALL, F_AT, F_DIGIT, F_DOT, F_LOWER, F_UPPER, SHORT_TEXT, featuresByLoop, featuresOf } from '../../src/mask/scan.js';

/** A deterministic generator, so a failure names a text that can be reproduced. */
function* texts(count: number): Generator<string> {
  // Non-ASCII capitals (É, Σ, İ) change under toLowerCase without being A–Z.
  const alphabet = "aZ09 ,;@=:+(_-./'\\\"!#$%&*<>?[]^`{|}~\té€😀\u0000ÉΣİ";
  let seed = 12345;
  const next = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  for (let i = 0; i < count; i++) {
    const len = next() % 80;
    let s = '';
    for (let j = 0; j < len; j++) s += alphabet[next() % alphabet.length];
    yield s;
  }
}

describe('featuresOf', () => {
  it('gives exactly the features of the character-by-character reference', () => {
    for (const t of texts(20_000)) expect(featuresOf(t), JSON.stringify(t)).toBe(featuresByLoop(t));
    for (const t of ['', 'shipped', 'order 1099999 qty 3, aisle 17', 'Order 12', 'a@b.co', 'x=1', "it's", 'A_B', 'http://h/p', '(555) 123-4567', '+1 5', 'é', 'élan Élan', 'ΣΑΣ 12', 'İstanbul', 'zürich Zürich']) {
      expect(featuresOf(t), t).toBe(featuresByLoop(t));
    }
  });

  it('names the features a cell has', () => {
    expect(featuresOf('order 1099999 qty 3')).toBe(F_DIGIT | F_LOWER);
    expect(featuresOf('Ana@example.com')).toBe(F_UPPER | F_LOWER | F_AT | F_DOT);
    expect(featuresOf('x'.repeat(SHORT_TEXT + 1))).toBe(F_ALL);
  });
});
