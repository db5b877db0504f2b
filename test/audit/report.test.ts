import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditReport } from '../../src/audit/report.js';
import { Recorder } from '../../src/audit/recorder.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { writeFileSync } from 'node:fs';
import { hoop, tempDir } from '../support/hoop.js';
import { AGENT, createFixture, sessionEvents, type Fixture } from './fixtures.js';

describe('hoop audit report', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await createFixture();
  });
  afterAll(() => rmSync(f.dir, { recursive: true, force: true }));

  it('summarises sessions, statement classes, denials, approvals and masking for the period', async () => {
    const r = await hoop(['audit', 'report', '--config', f.configPath, '--since', '30d', '--json']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const report = JSON.parse(String(r.stdout)) as AuditReport;
    expect(report.sessions).toEqual([
      { identity: 'claude-agent', kind: 'service-account', connection: 'pg-prod', sessions: 2, statements: 12 + 3 + 7 + 3 },
      { identity: 'alice', kind: 'user', connection: 'pg-prod', sessions: 1, statements: 15 + 3 },
      { identity: 'claude-agent', kind: 'service-account', connection: 'pg-stage', sessions: 1, statements: 10 + 3 },
    ]);
    expect(report.statementsByClass.find((c) => c.class === 'write')).toEqual({ class: 'write', total: 4, allowed: 0, approved: 4, refused: 0, failed: 0 });
    expect(report.statementsByClass.find((c) => c.class === 'destructive')).toMatchObject({ total: 4, refused: 4 });
    expect(report.denials).toHaveLength(4);
    expect(report.denials[0]).toMatchObject({ identity: 'claude-agent', by: 'rule no-ddl', sql: 'drop table orders' });
    expect(report.approvals).toHaveLength(4);
    expect(report.approvals[0]).toMatchObject({ status: 'approved', approvers: [{ name: 'bob', decision: 'approve', reason: null }], waitedMs: 42_000, sql: 'update orders set status = 1 where id = 7' });
    expect(report.approvalSummary).toMatchObject({ decided: 4, approved: 4, medianWaitMs: 42_000, maxWaitMs: 42_000 });
    expect(report.masking).toEqual({ statementsMasked: 4, maskedValues: 12 });
    expect(report.integrity).toMatchObject({ ok: true, chains: 2, problems: 0 });
  });

  it('renders Markdown for an auditor', async () => {
    const r = await hoop(['audit', 'report', '--config', f.configPath, '--since', '30d', '--format', 'markdown']);
    expect(r.exitCode).toBe(0);
    const md = String(r.stdout);
    expect(md).toMatch(/^# hoop audit report/);
    expect(md).toContain('**Integrity:** verified: 2 chain(s) intact');
    expect(md).toContain('| claude-agent | service-account | pg-prod | 2 | 25 |');
    expect(md).toContain('## Denials (4)');
    expect(md).toMatch(/\| ar_s_a1 \| claude-agent \| approved \| bob \(approve\) \| 42\.0s \|/);
  });

  it('covers only the period asked for, and says so when nothing was masked', async () => {
    const none = await hoop(['audit', 'report', '--config', f.configPath, '--since', '1h', '--until', 'now', '--json']);
    const report = JSON.parse(String(none.stdout)) as AuditReport;
    expect(report.events).toBe(0);
    expect(report.masking).toBeNull();
    const text = await hoop(['audit', 'report', '--config', f.configPath, '--since', '1h']);
    expect(text.stdout).toContain('masking: no masking recorded in this range');
    expect(text.stdout).toContain('no sessions');
    expect((await hoop(['audit', 'report', '--config', f.configPath, '--since', 'last tuesday'])).exitCode).toBe(2);
  });

  it('flags a trail that does not verify', async () => {
    const dir = tempDir('audit-report');
    try {
      writeFileSync(join(dir, 'hoop.yaml'), 'store: sqlite:./hoop.db\n');
      const store = new SqliteStore(join(dir, 'hoop.db'));
      // No signer: a chain nothing vouches for.
      const recorder = new Recorder(store, { batchSize: 10, flushIntervalMs: 1 });
      for (const e of sessionEvents('s_x', AGENT, 'pg', Date.now() - 1000, 1)) recorder.record(e);
      await recorder.close();
      await store.close();
      const { writeKeyFiles } = await import('../../src/audit/keys.js');
      writeKeyFiles(dir);
      const r = await hoop(['audit', 'report', '--config', join(dir, 'hoop.yaml')]);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toMatch(/integrity: FAILED: 1 problem\(s\); first: inserted at chain gw_\S+ seq 1: the chain has no signed opening checkpoint/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
