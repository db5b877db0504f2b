import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/events.js';
import { parsePrivateKey, signerFromPrivateKey, writeKeyFiles } from '../../src/audit/keys.js';
import { Recorder } from '../../src/audit/recorder.js';
import { recordedEvent } from '../../src/replay/timeline.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { hoop, tempDir } from '../support/hoop.js';
import { gitEvents, sshEvents } from '../replay/fixtures.js';

/** `hoop audit export --format ocsf` over a signed store holding an SSH and a git session. */
describe('the OCSF export of SSH and git sessions', () => {
  let dir: string;
  let out: string;
  let recorded: AuditEvent[];

  beforeAll(async () => {
    dir = tempDir('ocsf-ssh');
    const keys = writeKeyFiles(join(dir, 'keys'));
    writeFileSync(join(dir, 'hoop.yaml'), 'store: sqlite:./hoop.db\naudit:\n  signingKey: ${file:keys/hoop-audit.key}\n');
    const store = new SqliteStore(join(dir, 'hoop.db'));
    const signer = signerFromPrivateKey(parsePrivateKey(keys.privatePath, 'test key'));
    // Recent times, so the default range holds them.
    const shift = Date.now() - 3600_000 - sshEvents()[0]!.time;
    recorded = [...sshEvents(), ...gitEvents()].map((e) => ({ ...(recordedEvent(e) as AuditEvent), time: e.time + shift }));
    try {
      const recorder = new Recorder(store, { batchSize: 16, flushIntervalMs: 1, signer, checkpointEvery: 10, checkpointIntervalMs: 0 });
      for (const e of recorded) recorder.record(e);
      await recorder.close();
    } finally {
      await store.close();
    }
    out = join(dir, 'export');
    const r = await hoop(['audit', 'export', '--config', join(dir, 'hoop.yaml'), '--out', out, '--format', 'ocsf']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes one OCSF record per mapped event, in the classes docs/audit.md names', () => {
    const ocsf = readFileSync(join(out, 'events.ocsf.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
    const mapped = recorded.filter((e) => !['approval.requested', 'approval.decided', 'terminal.output', 'terminal.input'].includes(e.type));
    expect(ocsf).toHaveLength(mapped.length);
    const classOf = (type: string) => new Set(ocsf.filter((_, i) => mapped[i]!.type === type).map((o) => o.class_uid));
    expect(classOf('ssh.exec')).toEqual(new Set([1007]));
    expect(classOf('shell.command')).toEqual(new Set([1007]));
    expect(classOf('sftp.op')).toEqual(new Set([1001]));
    expect(classOf('ssh.channel')).toEqual(new Set([4007]));
    expect(classOf('ssh.request')).toEqual(new Set([4007]));
    expect(classOf('git.push')).toEqual(new Set([6003]));
    expect(classOf('session.start')).toEqual(new Set([3002]));
    // Each record names the chained event it came from.
    for (const o of ocsf) expect(o.metadata.uid).toMatch(/^gw_[^:]+:\d+$/);
    const shutdown = ocsf.find((o) => o.process?.cmd_line === 'shutdown -h now')!;
    expect(shutdown).toMatchObject({ type_uid: 100701, status_id: 2, device: { name: 'web-prod' } });
  });
});
