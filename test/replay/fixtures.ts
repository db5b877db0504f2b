import { expect } from 'vitest';
import type { AuditEvent, EventIdentity, RecordedDecision } from '../../src/audit/events.js';
import type { RecordedStatement, SourceEvent, TerminalEvent } from '../../src/replay/timeline.js';
import type { SessionSummary } from '../../src/store/store.js';

export const T0 = Date.UTC(2025, 0, 15, 9, 30, 0);
export const AGENT: EventIdentity = { kind: 'service-account', subject: 'sa_1', name: 'claude-agent', groups: ['engineers', 'oncall'] };
const base = { sessionId: 's_replay', identity: AGENT, connection: 'pg-prod' };

/**
 * A session with every kind of statement the replay shows: a read with a result table, a write
 * approved by a person after a long wait, a denied statement, a database error, a masked read, and
 * a 10-minute idle gap before the last statement.
 */
export function sessionEvents(): SourceEvent[] {
  const events: (AuditEvent | RecordedStatement)[] = [
    { ...base, type: 'session.start', time: T0, connectionType: 'postgres', clientAddress: '127.0.0.1:50000', clientInfo: { application_name: 'psql' }, agentMeta: { model: 'claude', task: 'TICKET-42' } },
    {
      ...base,
      type: 'statement',
      time: T0 + 1000,
      protocol: 'simple',
      sql: 'select id, email from customers limit 2',
      durationMs: 1.5,
      rows: 2,
      commandTag: 'SELECT 2',
      decision: { action: 'allow', rule: 'reads', class: 'read' },
      masked: { 'email:email': 2 },
      result: { columns: ['id', 'email'], rows: [['1', 'a***@example.com'], ['2', null]], truncated: false },
    },
    { ...base, type: 'statement', time: T0 + 3000, protocol: 'simple', sql: 'update orders set status = 1 where id = 7', durationMs: 30_000, rows: 1, commandTag: 'UPDATE 1', decision: { action: 'review', rule: 'writes-reviewed', class: 'write' } },
    { ...base, type: 'approval.requested', time: T0 + 3005, requestId: 'ar_1', sql: 'update orders set status = 1 where id = 7', decision: { action: 'review', rule: 'writes-reviewed', class: 'write' }, approverGroups: ['approvers'], approvalsNeeded: 1, expiresAt: T0 + 600_000 },
    { ...base, type: 'approval.decided', time: T0 + 33_000, requestId: 'ar_1', status: 'approved', approvers: [{ name: 'bob', decision: 'approve', reason: null, windowMs: null }], reason: null, waitedMs: 29_995, viaWindow: false },
    { ...base, type: 'statement', time: T0 + 34_000, protocol: 'simple', sql: 'drop table orders', durationMs: 0, rows: 0, error: { code: '42501', message: 'hoop: denied by rule no-ddl' }, decision: { action: 'deny', rule: 'no-ddl', class: 'destructive' } },
    { ...base, type: 'statement', time: T0 + 35_000, protocol: 'extended', sql: 'select * from nope where id = $1', params: ['7'], durationMs: 0.4, rows: 0, error: { code: '42P01', message: 'relation "nope" does not exist' }, decision: { action: 'allow', rule: 'reads', class: 'read' } },
    { ...base, type: 'statement', time: T0 + 635_000, protocol: 'simple', sql: 'select 42 as answer', durationMs: 0.2, rows: 1, commandTag: 'SELECT 1', decision: { action: 'allow', rule: 'reads', class: 'read' } },
    { ...base, type: 'session.end', time: T0 + 636_000, durationMs: 636_000, statements: 5, reason: 'client-closed' },
  ];
  // As the sources hand them over: the store position spread in.
  return events.map((e, i) => ({ seq: 100 + i, ...e }) as SourceEvent);
}

export const SESSION: SessionSummary = {
  id: 's_replay',
  identityKind: AGENT.kind,
  identitySubject: AGENT.subject,
  identityName: AGENT.name,
  groups: AGENT.groups,
  connection: 'pg-prod',
  connectionType: 'postgres',
  clientAddress: '127.0.0.1:50000',
  startedAt: T0,
  endedAt: T0 + 636_000,
  endReason: 'client-closed',
  statements: 5,
  agentMeta: { model: 'claude', task: 'TICKET-42' },
};

/** A terminal session at its simplest: raw output chunks and typed lines on one channel, nothing else. */
export function terminalEvents(): SourceEvent[] {
  const t = (time: number, type: TerminalEvent['type'], data: string): TerminalEvent => ({ ...base, sessionId: 's_term', connection: 'web-prod', type, channel: 0, time: T0 + time, data });
  return [
    { ...base, sessionId: 's_term', connection: 'web-prod', type: 'session.start', time: T0, connectionType: 'ssh', clientAddress: '10.0.0.5:2222', clientInfo: {} },
    t(100, 'terminal.output', '\u001b[32m$\u001b[0m '),
    t(1000, 'terminal.input', 'ls\r'),
    t(1010, 'terminal.output', 'ls\r\nREADME.md  src\r\n$ '),
    t(5000, 'terminal.input', 'whoami\r'),
    t(5010, 'terminal.output', 'whoami\r\nroot\r\n$ '),
    { ...base, sessionId: 's_term', connection: 'web-prod', type: 'session.end', time: T0 + 6000, durationMs: 6000, statements: 0, reason: 'client-closed' },
  ];
}

const decision = (action: RecordedDecision['action'], rule: string, cls: string, reason?: string): RecordedDecision => ({ action, rule, class: cls, ...(reason ? { reason } : {}) });
const ssh = { sessionId: 's_ssh', identity: AGENT, connection: 'web-prod' };
const PTY = { term: 'xterm-256color', cols: 100, rows: 30 };

/**
 * An SSH session with everything the gateway records: a refused env variable and port forward,
 * a shell (pty 100×30) whose typed lines were detected, a command that ran, one approved after a
 * wait, one whose approval was denied, one denied by a rule, SFTP operations, and a second shell
 * on channel 5 that only `--channel 5` shows.
 */
export function sshEvents(): SourceEvent[] {
  const term = (ms: number, type: TerminalEvent['type'], data: string, channel = 0): AuditEvent => ({ ...ssh, type, channel, time: T0 + ms, data });
  const exec = (ms: number, channel: number, command: string, d: RecordedDecision, extra: Partial<Extract<AuditEvent, { type: 'ssh.exec' }>> = {}): AuditEvent => ({
    ...ssh,
    type: 'ssh.exec',
    time: T0 + ms,
    channel,
    command,
    decision: d,
    durationMs: 12,
    stdout: '',
    stderr: '',
    outputTruncated: false,
    bytesOut: 0,
    bytesIn: 0,
    ...extra,
  });
  const events: AuditEvent[] = [
    { ...ssh, type: 'session.start', time: T0, connectionType: 'ssh', clientAddress: '10.0.0.5:50022', clientInfo: { client: 'SSH-2.0-OpenSSH_9.6' } },
    { ...ssh, type: 'ssh.request', time: T0 + 50, request: 'env', detail: 'LC_ALL', decision: decision('deny', 'hoop:env-allow-list', 'exec', 'LC_ALL is not in the allow-list') },
    { ...ssh, type: 'ssh.channel', time: T0 + 100, channel: 0, kind: 'shell', pty: PTY, env: ['LANG'], decision: decision('allow', 'shells', 'shell') },
    term(200, 'terminal.output', 'Welcome to web-1\r\n\u001b[1;32mweb-1$\u001b[0m '),
    term(1000, 'terminal.input', 'l'),
    term(1010, 'terminal.output', 'l'),
    term(1100, 'terminal.input', 's'),
    term(1110, 'terminal.output', 's'),
    term(1200, 'terminal.input', '\r'),
    { ...ssh, type: 'shell.command', time: T0 + 1201, channel: 0, command: 'ls', decision: decision('allow', 'reads', 'read') },
    term(1210, 'terminal.output', '\r\nREADME.md  app.log\r\n\u001b[1;32mweb-1$\u001b[0m '),
    { ...ssh, type: 'ssh.request', time: T0 + 2000, request: 'direct-tcpip', detail: '127.0.0.1:5432', decision: decision('deny', 'no-forwarding', 'forward', 'port forwarding is off') },
    // A typo fixed with backspace, then a command the policy would have denied: recorded, not enforced.
    term(3000, 'terminal.input', 'rm -rf /tmpx\u007f /cache\r'),
    term(3010, 'terminal.output', 'rm -rf /tmpx\b\u001b[K /cache\r\n'),
    { ...ssh, type: 'shell.command', time: T0 + 3011, channel: 0, command: 'rm -rf /tmp /cache', decision: decision('deny', 'no-rm', 'destructive') },
    term(3020, 'terminal.output', '\u001b[1;32mweb-1$\u001b[0m '),
    { ...ssh, type: 'ssh.channel', time: T0 + 4000, channel: 1, kind: 'exec', decision: decision('allow', 'reads', 'read') },
    exec(4000, 1, 'cat /etc/hostname', decision('allow', 'reads', 'read'), { exitStatus: 0, stdout: 'web-1\n', bytesOut: 6 }),
    { ...ssh, type: 'ssh.channel', time: T0 + 5000, channel: 2, kind: 'exec', decision: decision('review', 'restarts-reviewed', 'write') },
    { ...ssh, type: 'approval.requested', time: T0 + 5001, requestId: 'ar_exec1', subject: 'ssh.exec', sql: 'systemctl restart nginx', decision: decision('review', 'restarts-reviewed', 'write'), approverGroups: ['approvers'], approvalsNeeded: 1, expiresAt: T0 + 600_000 },
    { ...ssh, type: 'approval.decided', time: T0 + 9000, requestId: 'ar_exec1', status: 'approved', approvers: [{ name: 'bob', decision: 'approve', reason: null, windowMs: null }], reason: null, waitedMs: 3999, viaWindow: false },
    exec(5000, 2, 'systemctl restart nginx', decision('review', 'restarts-reviewed', 'write'), {
      approval: { requestId: 'ar_exec1', approvedBy: ['bob'], viaWindow: false },
      exitStatus: 1,
      stderr: 'Job for nginx.service failed.\nSee journalctl -xe.\n',
      bytesOut: 48,
      durationMs: 4200,
    }),
    { ...ssh, type: 'ssh.channel', time: T0 + 10_000, channel: 3, kind: 'exec', decision: decision('review', 'restarts-reviewed', 'write') },
    { ...ssh, type: 'approval.requested', time: T0 + 10_001, requestId: 'ar_exec2', subject: 'ssh.exec', sql: 'systemctl stop postgresql', decision: decision('review', 'restarts-reviewed', 'write'), approverGroups: ['approvers'], approvalsNeeded: 1, expiresAt: T0 + 600_000 },
    { ...ssh, type: 'approval.decided', time: T0 + 12_000, requestId: 'ar_exec2', status: 'denied', approvers: [{ name: 'carol', decision: 'deny', reason: 'not during business hours', windowMs: null }], reason: 'not during business hours', waitedMs: 1999, viaWindow: false },
    exec(10_000, 3, 'systemctl stop postgresql', decision('review', 'restarts-reviewed', 'write')),
    { ...ssh, type: 'ssh.channel', time: T0 + 13_000, channel: 4, kind: 'exec', decision: decision('deny', 'no-shutdown', 'destructive', 'shutting hosts down is not allowed') },
    exec(13_000, 4, 'shutdown -h now', decision('deny', 'no-shutdown', 'destructive', 'shutting hosts down is not allowed')),
    { ...ssh, type: 'ssh.channel', time: T0 + 14_000, channel: 5, kind: 'shell', pty: { term: 'screen', cols: 80, rows: 24 }, decision: decision('allow', 'shells', 'shell') },
    term(14_100, 'terminal.output', 'second$ ', 5),
    term(14_500, 'terminal.input', 'uptime\r', 5),
    term(14_510, 'terminal.output', 'uptime\r\n up 3 days\r\nsecond$ ', 5),
    { ...ssh, type: 'ssh.channel', time: T0 + 15_000, channel: 6, kind: 'subsystem', subsystem: 'sftp', decision: decision('allow', 'sftp', 'sftp') },
    { ...ssh, type: 'sftp.op', time: T0 + 15_100, channel: 6, op: 'write', path: '/tmp/report.csv', bytes: 12_345, status: 'ok' },
    { ...ssh, type: 'sftp.op', time: T0 + 15_200, channel: 6, op: 'rename', path: '/tmp/report.csv', target: '/srv/report.csv', status: 'ok' },
    { ...ssh, type: 'sftp.op', time: T0 + 15_300, channel: 6, op: 'remove', path: '/etc/passwd', status: 'permission-denied' },
    term(20_000, 'terminal.output', 'logout\r\n'),
    { ...ssh, type: 'session.end', time: T0 + 20_000, durationMs: 20_000, statements: 4, reason: 'client-closed' },
  ];
  return events.map((e, i) => ({ seq: 200 + i, ...e }) as SourceEvent);
}

const git = { sessionId: 's_git', identity: AGENT, connection: 'git-acme' };
export const OLD = '1'.repeat(40);
export const NEW = '2'.repeat(40);
export const ZERO = '0'.repeat(40);

/** A git connection's session: a fetch, a push approved after a wait (one of its refs refused), and a push denied outright. */
export function gitEvents(): SourceEvent[] {
  const push = { action: 'review', rule: 'pushes-reviewed', class: 'git-push' } as const;
  const events: AuditEvent[] = [
    { ...git, type: 'session.start', time: T0, connectionType: 'git', clientAddress: '10.0.0.7:40000', clientInfo: {} },
    {
      ...git,
      type: 'git.fetch',
      time: T0 + 1000,
      channel: 0,
      repository: 'acme/api.git',
      refs: [],
      wants: [NEW, OLD],
      decision: decision('allow', 'fetches', 'git-fetch'),
      exitStatus: 0,
      durationMs: 850,
      bytesIn: 300,
      bytesOut: 52_000,
    },
    { ...git, type: 'approval.requested', time: T0 + 2001, requestId: 'ar_push', subject: 'git.push', sql: 'acme/api.git: update refs/heads/main, delete refs/heads/old', decision: push, approverGroups: ['approvers'], approvalsNeeded: 1, expiresAt: T0 + 600_000 },
    { ...git, type: 'approval.decided', time: T0 + 7000, requestId: 'ar_push', status: 'approved', approvers: [{ name: 'bob', decision: 'approve', reason: 'release', windowMs: null }], reason: 'release', waitedMs: 4999, viaWindow: false },
    {
      ...git,
      type: 'git.push',
      time: T0 + 2000,
      channel: 1,
      repository: 'acme/api.git',
      refs: [
        { ref: 'refs/heads/main', oldId: OLD, newId: NEW, kind: 'update', decision: decision('allow', 'pushes-reviewed', 'git-push'), result: 'ok' },
        { ref: 'refs/heads/old', oldId: OLD, newId: ZERO, kind: 'delete', decision: decision('deny', 'no-ref-delete', 'ref-delete', 'deleting branches is not allowed'), result: 'refused by hoop' },
      ],
      decision: push,
      approval: { requestId: 'ar_push', approvedBy: ['bob'], viaWindow: false },
      exitStatus: 1,
      durationMs: 5400,
      bytesIn: 2048,
      bytesOut: 120,
      message: 'hoop: refs/heads/old: deleting branches is not allowed',
    },
    {
      ...git,
      type: 'git.push',
      time: T0 + 9000,
      channel: 2,
      repository: 'acme/infra.git',
      refs: [{ ref: 'refs/heads/prod', oldId: ZERO, newId: NEW, kind: 'create', decision: decision('deny', 'no-infra-push', 'git-push') }],
      decision: decision('deny', 'no-infra-push', 'git-push', 'infra is read-only'),
      durationMs: 3,
      bytesIn: 0,
      bytesOut: 0,
    },
    { ...git, type: 'session.end', time: T0 + 10_000, durationMs: 10_000, statements: 3, reason: 'client-closed' },
  ];
  return events.map((e, i) => ({ seq: 300 + i, ...e }) as SourceEvent);
}

/** Checks an asciicast v2 file as a player would read it; returns its header and events. */
export function parseAsciicast(file: string): { header: Record<string, unknown>; events: [number, string, string][] } {
  const lines = file.replace(/\n$/, '').split('\n');
  const header = JSON.parse(lines[0]!) as Record<string, unknown>;
  expect(header.version).toBe(2);
  for (const k of ['width', 'height', 'timestamp']) expect(Number.isInteger(header[k]), k).toBe(true);
  expect(header.width as number).toBeGreaterThan(0);
  expect(header.height as number).toBeGreaterThan(0);
  expect(typeof header.title).toBe('string');
  expect(typeof header.env).toBe('object');
  const events = lines.slice(1).map((l) => JSON.parse(l) as [number, string, string]);
  let last = 0;
  for (const e of events) {
    expect(e).toHaveLength(3);
    expect(typeof e[0]).toBe('number');
    expect(['o', 'i', 'm']).toContain(e[1]);
    expect(typeof e[2]).toBe('string');
    expect(e[0]).toBeGreaterThanOrEqual(last);
    last = e[0];
  }
  return { header, events };
}
