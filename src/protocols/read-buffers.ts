import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Every socket read gives the relay a new buffer (up to 64 KiB) outside V8's heap, which is
 * garbage as soon as the bytes are written on. V8 collects them when its own heap fills or when
 * such outside memory has grown by its fixed allowance (64 MB) since the last collection. A relay
 * that only forwards bytes allocates almost nothing in the heap, so a large result streamed with
 * masking off held up to ~60 MB of dead read buffers (bench: peak RSS 192–205 MB, against ~145
 * for the same stream with masking on, which allocates enough to be collected often).
 *
 * So the engines count what they relay, and every RELAYED_BYTES_PER_COLLECTION bytes the gateway
 * asks V8 for a young-generation collection, where those buffers live. One costs a fraction of a
 * millisecond (a 1 GB stream pays ~250 of them and ran no slower in the bench); the dead buffers
 * then stay near 4 MB (peak RSS 133 MB). Under small messages (pgbench) it is about one a second.
 */
export const RELAYED_BYTES_PER_COLLECTION = 4 * 1024 * 1024;

type Collect = (options: { type: 'minor' | 'major' }) => void;

let collect: Collect | null = null;
let sinceCollection = 0;

/**
 * Turns the collections on for this process (the gateway does, at start). Node offers `gc` only
 * behind a flag: it is set long enough to take the function from a fresh context, then unset, so
 * no other code sees a global `gc`. Returns false where that is not possible (then nothing changes).
 */
export function collectReadBuffers(): boolean {
  if (collect !== null) return true;
  try {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as Collect;
  } catch {
    collect = null;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
  return typeof collect === 'function';
}

/** Counts bytes that arrived in a socket read and are being relayed; collects when their share is due. */
export function relayed(bytes: number): void {
  sinceCollection += bytes;
  if (sinceCollection < RELAYED_BYTES_PER_COLLECTION) return;
  sinceCollection = 0;
  collect?.({ type: 'minor' });
}
