import { describe, expect, it } from 'vitest';
import { DELIM_PKT, encodePkt, FLUSH_PKT } from '../../src/protocols/git/pktline.js';
import { MAX_RECORDED_WANTS, UploadPackObserver } from '../../src/protocols/git/upload-pack.js';
import { chunkings, randomBytes, rng, splits } from './helpers.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

function observe(chunks: readonly Buffer[]) {
  const observer = new UploadPackObserver();
  for (const c of chunks) observer.observe(c);
  return observer.summary();
}

// What git 2.39 sends for `git clone` over protocol v2 (ls-refs, then fetch).
const V2 = Buffer.concat([
  encodePkt('command=ls-refs\n'),
  encodePkt('agent=git/2.39.5'),
  encodePkt('object-format=sha1'),
  DELIM_PKT,
  encodePkt('peel\n'),
  encodePkt('symrefs\n'),
  encodePkt('ref-prefix HEAD\n'),
  encodePkt('ref-prefix refs/heads/\n'),
  FLUSH_PKT,
  encodePkt('command=fetch'),
  encodePkt('agent=git/2.39.5'),
  encodePkt('object-format=sha1'),
  DELIM_PKT,
  encodePkt('thin-pack'),
  encodePkt('ofs-delta'),
  encodePkt(`want ${A}\n`),
  encodePkt(`want ${B}\n`),
  encodePkt('want-ref refs/heads/main\n'),
  encodePkt(`have ${C}\n`),
  encodePkt('filter blob:none\n'),
  encodePkt('deepen 1\n'),
  encodePkt('done\n'),
  FLUSH_PKT,
  FLUSH_PKT,
]);

const V0 = Buffer.concat([
  encodePkt(`want ${A} multi_ack_detailed side-band-64k thin-pack ofs-delta agent=git/2.39.5\n`),
  encodePkt(`want ${B}\n`),
  encodePkt(`shallow ${C}\n`),
  encodePkt('deepen 3\n'),
  FLUSH_PKT,
  encodePkt(`have ${C}\n`),
  encodePkt(`have ${B}\n`),
  FLUSH_PKT,
  encodePkt('done\n'),
]);

describe('UploadPackObserver', () => {
  it('records a v2 clone identically at every split offset', () => {
    const whole = observe([V2]);
    expect(whole).toMatchObject({
      protocol: 2,
      commands: ['ls-refs', 'fetch'],
      wants: [A, B],
      wantCount: 2,
      wantRefs: ['refs/heads/main'],
      refPrefixes: ['HEAD', 'refs/heads/'],
      haveCount: 1,
      done: true,
      deepen: ['deepen 1'],
      filter: 'blob:none',
      capabilities: ['agent=git/2.39.5', 'object-format=sha1'],
      truncated: false,
      stoppedAt: null,
    });
    for (const parts of splits(V2)) expect(observe(parts)).toEqual(whole);
  });

  it('records a v0 fetch identically at every split offset', () => {
    const whole = observe([V0]);
    expect(whole).toMatchObject({
      protocol: 0,
      commands: [],
      wants: [A, B],
      wantCount: 2,
      haveCount: 2,
      done: true,
      deepen: [`shallow ${C}`, 'deepen 3'],
      capabilities: ['multi_ack_detailed', 'side-band-64k', 'thin-pack', 'ofs-delta', 'agent=git/2.39.5'],
    });
    for (const parts of splits(V0)) expect(observe(parts)).toEqual(whole);
  });

  it('stops recording wants at the limit but keeps counting', () => {
    const many = Buffer.concat([...Array.from({ length: MAX_RECORDED_WANTS + 50 }, (_, i) => encodePkt(`want ${i.toString(16).padStart(40, '0')}\n`)), FLUSH_PKT]);
    const summary = observe([many]);
    expect(summary.wants).toHaveLength(MAX_RECORDED_WANTS);
    expect(summary.wantCount).toBe(MAX_RECORDED_WANTS + 50);
    expect(summary.truncated).toBe(true);
  });

  it('never throws on garbage: it stops observing', () => {
    const random = rng(5);
    for (let i = 0; i < 300; i++) {
      const bytes = Buffer.concat([V2.subarray(0, Math.floor(random() * V2.length)), randomBytes(random, 1 + Math.floor(random() * 100))]);
      const summary = observe(chunkings(bytes, random));
      expect(summary.wantCount).toBeLessThanOrEqual(2);
    }
    expect(observe([Buffer.from('0003xyz')]).stoppedAt).toContain('length');
  });
});
