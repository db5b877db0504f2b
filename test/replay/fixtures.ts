import { expect } from 'vitest';
import type { AuditEvent, EventIdentity } from '../../src/audit/events.js';
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

/** An SSH-style session (what a later version records): raw output chunks and typed lines. */
export function terminalEvents(): SourceEvent[] {
  const t = (time: number, type: TerminalEvent['type'], data: string): TerminalEvent => ({ type, sessionId: 's_term', time: T0 + time, data });
  return [
    { ...base, sessionId: 's_term', type: 'session.start', time: T0, connectionType: 'ssh', clientAddress: '10.0.0.5:2222', clientInfo: {} },
    t(100, 'terminal.output', '\u001b[32m$\u001b[0m '),
    t(1000, 'terminal.input', 'ls\r'),
    t(1010, 'terminal.output', 'ls\r\nREADME.md  src\r\n$ '),
    t(5000, 'terminal.input', 'whoami\r'),
    t(5010, 'terminal.output', 'whoami\r\nroot\r\n$ '),
    { ...base, sessionId: 's_term', type: 'session.end', time: T0 + 6000, durationMs: 6000, statements: 0, reason: 'client-closed' },
  ];
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
    expect(e[1]).toBe('o');
    expect(typeof e[2]).toBe('string');
    expect(e[0]).toBeGreaterThanOrEqual(last);
    last = e[0];
  }
  return { header, events };
}
