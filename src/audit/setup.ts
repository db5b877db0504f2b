import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/schema.js';
import type { Store } from '../store/store.js';
import { gatewaySigner } from './keys.js';
import { Recorder } from './recorder.js';

/** The gateway's recorder: a new chain for this process, signed with the configured (or generated) key. */
export function createGatewayRecorder(store: Store, config: GatewayConfig, log: Logger): Recorder {
  const signer = gatewaySigner(config, log);
  if (config.recording.mode === 'strict') store.setDurableCommits?.(true);
  const recorder = new Recorder(store, {
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
