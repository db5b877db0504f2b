import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/schema.js';
import type { Store } from '../store/store.js';
import { newChainId } from './chain.js';
import { RecordingJournal, recoverJournals } from './journal.js';
import { defaultKeyDir, gatewaySigner } from './keys.js';
import { Recorder } from './recorder.js';

/** The gateway's recorder: a new chain for this process, signed with the configured (or generated) key. */
export async function createGatewayRecorder(store: Store, config: GatewayConfig, log: Logger): Promise<Recorder> {
  const signer = gatewaySigner(config, log);
  if (config.recording.mode === 'strict') store.setDurableCommits?.(true);
  // The journal lives beside the store; a crashed gateway's is moved into the store first.
  const dir = defaultKeyDir(config);
  if (dir) await recoverJournals(dir, store, signer, log);
  const chain = newChainId();
  const journal = dir && config.recording.mode === 'batched' ? RecordingJournal.create(dir, chain) : undefined;
  const recorder = new Recorder(store, {
    chain,
    ...(journal ? { journal } : {}),
    batchSize: config.recording.batchSize,
    flushIntervalMs: config.recording.flushIntervalMs,
    mode: config.recording.mode,
    signer,
    checkpointEvery: config.audit.checkpointEvery,
    checkpointIntervalMs: config.audit.checkpointIntervalMs,
  });
  log.info({ chain: recorder.chain, keyFingerprint: signer.fingerprint, mode: recorder.mode }, 'audit chain started');
  return recorder;
}
