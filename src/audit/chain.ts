import { randomUUID } from 'node:crypto';
import type { AuditEvent } from './events.js';
import { canonicalJson, sha256Hex } from './canonical.js';

/** What the first event of every chain names as its predecessor. */
export const GENESIS_HASH = '0'.repeat(64);

/** A chain's position: the last event's sequence number and hash (seq 0 and GENESIS_HASH before the first). */
export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

/** An event with its place in a hash chain, as the store keeps it. */
export interface ChainedEvent {
  readonly chain: string;
  /** 1, 2, 3… within the chain, with no gaps. */
  readonly seq: number;
  /** The previous event's hash (GENESIS_HASH for seq 1). */
  readonly prev: string;
  /** sha256 of canonicalJson({ chain, seq, prev, event }), hex. */
  readonly hash: string;
  readonly event: AuditEvent;
  /** canonicalJson(event): the stored body, computed once for both the hash and the store. */
  readonly body: string;
}

/**
 * A signed statement that a chain reached `seq` with `hash` at `time`. Seq 0 (with GENESIS_HASH)
 * opens a chain: it ties the chain id to the key before any event exists.
 */
export interface Checkpoint {
  readonly chain: string;
  readonly seq: number;
  readonly hash: string;
  readonly time: number;
  readonly keyFingerprint: string;
  /** Ed25519 signature of checkpointPayload(…), base64. */
  readonly signature: string;
}

export type UnsignedCheckpoint = Omit<Checkpoint, 'signature'>;

/** One chain per gateway process: never continued after a restart, since nothing proves where the last one ended. */
export function newChainId(): string {
  return `gw_${randomUUID()}`;
}

/**
 * The hash of an event at a place in a chain. `body` must be canonicalJson(event); the input is
 * then canonicalJson({ chain, seq, prev, event }) (keys in sorted order: chain, event, prev, seq),
 * built by concatenation so the event is serialised only once.
 */
export function linkHash(chain: string, seq: number, prev: string, body: string): string {
  return sha256Hex(`{"chain":${JSON.stringify(chain)},"event":${body},"prev":${JSON.stringify(prev)},"seq":${seq}}`);
}

/** Gives events the next places in a chain after `head`. Pure: the caller advances its head once they are stored. */
export function chainEvents(chain: string, head: ChainHead, events: readonly AuditEvent[]): ChainedEvent[] {
  const out: ChainedEvent[] = [];
  let seq = head.seq;
  let prev = head.hash;
  for (const event of events) {
    seq++;
    const body = canonicalJson(event);
    const hash = linkHash(chain, seq, prev, body);
    out.push({ chain, seq, prev, hash, event, body });
    prev = hash;
  }
  return out;
}

/** The exact bytes a checkpoint's signature covers. */
export function checkpointPayload(cp: UnsignedCheckpoint): Buffer {
  return Buffer.from(
    canonicalJson({ type: 'hoop.audit.checkpoint/1', chain: cp.chain, seq: cp.seq, hash: cp.hash, time: cp.time, keyFingerprint: cp.keyFingerprint }),
    'utf8',
  );
}
