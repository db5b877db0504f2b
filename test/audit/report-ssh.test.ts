import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/events.js';
import { Recorder } from '../../src/audit/recorder.js';
import { buildReport, renderReportMarkdown, renderReportText, type AuditReport } from '../../src/audit/report.js';
import { recordedEvent } from '../../src/replay/timeline.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { tempDir } from '../support/hoop.js';
import { gitEvents, sessionEvents, sshEvents } from '../replay/fixtures.js';

/**
 * The report over a real store written by the real Recorder: a SQL session, an SSH session (shell,
 * commands run, approved, refused, denied; refused forwarding; SFTP) and a git session (a fetch, a
 * push with a refused ref, a push denied outright).
 */
describe('hoop audit report with SSH and git sessions', () => {
  let dir: string;
  let report: AuditReport;

  beforeAll(async () => {
    dir = tempDir('report-ssh');
    const store = new SqliteStore(join(dir, 'hoop.db'));
    try {
      const recorder = new Recorder(store, { batchSize: 16, flushIntervalMs: 1 });
      for (const e of [...sessionEvents(), ...sshEvents(), ...gitEvents()]) recorder.record(recordedEvent(e) as AuditEvent);
      await recorder.close();
      report = await buildReport(store, {}, null);
    } finally {
      await store.close();
    }
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('counts commands run, refused and held, shell lines, pushes and refused refs, and refused forwarding, per identity and connection', () => {
    expect(report.ssh).toEqual([
      {
        identity: 'claude-agent',
        kind: 'service-account',
        connection: 'web-prod',
        commands: 4,
        commandsRefused: 2,
        commandsHeld: 2,
        commandsFailed: 1,
        shellCommands: 2,
        fetches: 0,
        pushes: 0,
        refUpdates: 0,
        refUpdatesRefused: 0,
        fileOperations: 3,
        forwardingRefused: 1,
        otherRefused: 0,
      },
      {
        identity: 'claude-agent',
        kind: 'service-account',
        connection: 'git-acme',
        commands: 0,
        commandsRefused: 0,
        commandsHeld: 0,
        commandsFailed: 0,
        shellCommands: 0,
        fetches: 1,
        pushes: 2,
        refUpdates: 3,
        refUpdatesRefused: 2,
        fileOperations: 0,
        forwardingRefused: 0,
        otherRefused: 0,
      },
    ]);
    // The SQL counts stand beside them, unchanged.
    expect(report.sessions.find((s) => s.connection === 'pg-prod')).toMatchObject({ sessions: 1, statements: 5 });
    expect(report.sessions.map((s) => s.connection).sort()).toEqual(['git-acme', 'pg-prod', 'web-prod']);
  });

  it('lists what hoop refused: statements, commands, ref updates and forwarding, not the env variables clients send unasked', () => {
    const denials = report.denials.map((d) => [d.subject, d.by, d.sql]);
    // In time order (the fixtures' sessions all start at the same moment).
    expect(denials).toEqual([
      ['ssh.request', 'rule no-forwarding', 'direct-tcpip 127.0.0.1:5432'],
      ['git.push', 'rule no-ref-delete', 'git push acme/api.git delete refs/heads/old'],
      ['git.push', 'rule no-infra-push', 'git push acme/infra.git create refs/heads/prod'],
      ['ssh.exec', 'approval', 'systemctl stop postgresql'],
      ['ssh.exec', 'rule no-shutdown', 'shutdown -h now'],
      ['sql', 'rule no-ddl', 'drop table orders'],
    ]);
    expect(report.denials.find((d) => d.sql === 'shutdown -h now')).toMatchObject({ class: 'destructive', reason: 'shutting hosts down is not allowed', connection: 'web-prod' });
    expect(report.denials.find((d) => d.sql === 'systemctl stop postgresql')!.reason).toBe('not approved');
  });

  it('lists approvals of commands and pushes with what was held', () => {
    expect(report.approvals.map((a) => [a.requestId, a.subject, a.status, a.sql])).toEqual([
      ['ar_1', 'sql', 'approved', 'update orders set status = 1 where id = 7'],
      ['ar_exec1', 'ssh.exec', 'approved', 'systemctl restart nginx'],
      ['ar_exec2', 'ssh.exec', 'denied', 'systemctl stop postgresql'],
      ['ar_push', 'git.push', 'approved', 'acme/api.git: update refs/heads/main, delete refs/heads/old'],
    ]);
    expect(report.approvalSummary).toMatchObject({ decided: 4, approved: 3, denied: 1 });
  });

  it('renders the SSH and git section in text and Markdown', () => {
    const text = renderReportText(report);
    expect(text).toContain('SSH and git by identity and connection');
    expect(text).toMatch(/claude-agent \| web-prod\s+\|\s+4 \|\s+2 \|\s+2 \|\s+1 \|\s+2 \|/);
    expect(text).toContain('Denials (6)');
    const md = renderReportMarkdown(report);
    expect(md).toContain('## SSH and git by identity and connection');
    expect(md).toContain('| claude-agent | git-acme | 0 | 0 | 0 | 0 | 0 | 1 | 2 | 2/3 | 0 | 0 | 0 |');
    expect(md).toContain('| claude-agent | web-prod | 4 | 2 | 2 | 1 | 2 | 0 | 0 | 0/0 | 3 | 1 | 0 |');
  });

  it('says so when there was no SSH or git activity', async () => {
    const empty = tempDir('report-sql');
    const store = new SqliteStore(join(empty, 'hoop.db'));
    try {
      const recorder = new Recorder(store, { batchSize: 16, flushIntervalMs: 1 });
      for (const e of sessionEvents()) recorder.record(recordedEvent(e) as AuditEvent);
      await recorder.close();
      const sqlOnly = await buildReport(store, {}, null);
      expect(sqlOnly.ssh).toEqual([]);
      expect(renderReportText(sqlOnly)).toContain('no SSH or git activity');
    } finally {
      await store.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
