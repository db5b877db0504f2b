import { describe, expect, it } from 'vitest';
import { BUILTIN_DETECTORS, createMasker } from '../../src/mask/index.js';
import { generateFalsePositives } from './fixtures/false-positives.js';
import { generateTruePositives } from './fixtures/true-positives.js';

/** Highest acceptable share of PII-free corpus items in which the default set finds anything. */
const MAX_FALSE_POSITIVE_RATE = 0.01;

describe('false-positive corpus (default detectors)', () => {
  const masker = createMasker({});
  const corpus = generateFalsePositives();

  it(`flags at most ${MAX_FALSE_POSITIVE_RATE * 100}% of ${corpus.length} PII-free items`, () => {
    const flagged = corpus
      .map((item) => ({ item, hits: masker.detect(item.text) }))
      .filter((r) => r.hits.length > 0)
      .map((r) => ({ kind: r.item.kind, text: r.item.text, hits: r.hits.map((h) => `${h.detector}:${r.item.text.slice(h.start, h.end)}`) }));
    const rate = flagged.length / corpus.length;
    console.log(
      `mask false-positive rate: ${(rate * 100).toFixed(2)}% (${flagged.length}/${corpus.length} items)` +
        (flagged.length ? `\n${flagged.map((f) => `  [${f.kind}] ${JSON.stringify(f.text)} → ${f.hits.join(', ')}`).join('\n')}` : ''),
    );
    expect(rate).toBeLessThanOrEqual(MAX_FALSE_POSITIVE_RATE);
  });

  it('covers every kind the brief lists', () => {
    const kinds = new Set(corpus.map((c) => c.kind));
    for (const k of ['order-id', 'timestamp', 'uuid', 'price', 'version', 'phone-invalid', 'non-luhn-16', 'ip-like-version', 'hex-hash', 'base64', 'isbn', 'tracking']) {
      expect(kinds, k).toContain(k);
    }
  });
});

describe('true-positive corpus (seeded)', () => {
  const masker = createMasker({});
  const corpus = generateTruePositives();

  it(`detects 100% of ${corpus.length} generated values`, () => {
    const missed: string[] = [];
    const perKind = new Map<string, [number, number]>();
    for (const tp of corpus) {
      const start = tp.text.indexOf(tp.value);
      expect(start, tp.text).toBeGreaterThanOrEqual(0);
      const end = start + tp.value.length;
      const hits = masker.detect(tp.text);
      const ok = hits.some((h) => h.start <= start && h.end >= end && tp.detectors.includes(h.detector));
      const k = perKind.get(tp.kind) ?? [0, 0];
      perKind.set(tp.kind, [k[0] + (ok ? 1 : 0), k[1] + 1]);
      if (!ok) missed.push(`[${tp.kind}] ${JSON.stringify(tp.text)} value=${JSON.stringify(tp.value)} hits=${JSON.stringify(hits)}`);
    }
    const detected = corpus.length - missed.length;
    console.log(
      `mask true-positive rate: ${((detected / corpus.length) * 100).toFixed(2)}% (${detected}/${corpus.length}); ` +
        [...perKind].map(([k, [a, b]]) => `${k} ${a}/${b}`).join(', '),
    );
    expect(missed).toEqual([]);
  });

  it('finds each value with one of its detectors alone, too', () => {
    for (const tp of corpus) {
      const start = tp.text.indexOf(tp.value);
      const found = tp.detectors.some((name) =>
        BUILTIN_DETECTORS[name as keyof typeof BUILTIN_DETECTORS].find(tp.text).some((h) => h.start <= start && h.end >= start + tp.value.length),
      );
      expect(found, `${tp.detectors.join('|')} on ${JSON.stringify(tp.text)}`).toBe(true);
    }
  });

  it('masks the value out of the text', () => {
    for (const tp of corpus) {
      const { text, changed } = masker.maskText(tp.text);
      expect(changed).toBe(true);
      expect(text.includes(tp.value), `${tp.kind}: ${text}`).toBe(false);
    }
  });
});
