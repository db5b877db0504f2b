/** The project's seeded random source (mulberry32), for fuzzing and chunking. */
import { createRng, type Rng } from '../../src/demo/random.js';

export { createRng as rng, type Rng };

/** `bytes` cut into random pieces (some empty), as a socket might deliver them. */
export function chunkings(bytes: Buffer, random: Rng): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < bytes.length) {
    const size = Math.floor(random() * Math.min(64, bytes.length - at + 1));
    out.push(bytes.subarray(at, at + size));
    at += size;
  }
  return out;
}

/** Every way to cut `bytes` in two. */
export function* splits(bytes: Buffer): Generator<Buffer[]> {
  for (let at = 0; at <= bytes.length; at++) yield [bytes.subarray(0, at), bytes.subarray(at)];
}

export function randomBytes(random: Rng, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(random() * 256);
  return out;
}
