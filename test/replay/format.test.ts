import { describe, expect, it } from 'vitest';
import { asciicast, formatAsciicast, formatJson, formatText } from '../../src/replay/format.js';
import { formatOffset } from '../../src/replay/render.js';
import { buildTimeline, recordedEvent, type Timeline } from '../../src/replay/timeline.js';
import { SESSION, T0, parseAsciicast, sessionEvents, terminalEvents } from './fixtures.js';

const timeline = () => buildTimeline(SESSION, sessionEvents());

describe('--format text', () => {
  it('prints the header, then every statement with its decision, approval, outcome, masking and result', () => {
    const text = formatText(timeline());
    expect(text).toContain('session     s_replay');
    expect(text).toContain('identity    claude-agent (service-account; groups: engineers, oncall)');
    expect(text).toContain('agent       model=claude, task=TICKET-42');
    expect(text).toContain('connection  pg-prod (postgres) from 127.0.0.1:50000');
    expect(text).toContain('client      application_name=psql');
    expect(text).toContain('started     2025-01-15 09:30:00Z, ended 2025-01-15 09:40:36Z (client-closed)');
    expect(text).toContain('── #1 +0:01.000');
    expect(text).toContain('select id, email from customers limit 2');
    expect(text).toContain('  decision  allow · rule reads · class read');
    expect(text).toContain('  outcome   SELECT 2 · 2 row(s) · 1.5ms');
    expect(text).toContain('  masked    email:email ×2 (2 value(s))');
    expect(text).toMatch(/ id \| {6}email\s*\n\s*-+\+-+\n\s*1 \| a\*\*\*@example\.com/);
    expect(text).toContain('  approval  approved by bob (ar_1, waited 30.0s)');
    expect(text).toContain('  decision  deny · rule no-ddl · class destructive');
    expect(text).toContain('  outcome   ERROR 42501: hoop: denied by rule no-ddl');
    expect(text).toContain('  params    ["7"]');
    expect(text).toContain('  outcome   ERROR 42P01: relation "nope" does not exist · 0.4ms');
    expect(text).toContain('── #5 +10:35.000');
    expect(text).toContain('── session ended +10:36.000 · client-closed · 5 statement(s)');
    // Statements in order.
    const order = ['#1 ', '#2 ', '#3 ', '#4 ', '#5 ', 'session ended'].map((m) => text.indexOf(m));
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it('does not need a result: older gateways did not record one', () => {
    const events = sessionEvents().map((e) => (e.type === 'statement' ? { ...e, result: undefined } : e));
    const text = formatText(buildTimeline(SESSION, events));
    expect(text).not.toContain('  result');
    expect(text).toContain('  outcome   SELECT 2 · 2 row(s)');
  });

  it('says when a result was cut short', () => {
    const events = sessionEvents().map((e) => (e.type === 'statement' && e.sql.startsWith('select id') ? { ...e, rows: 500, result: { columns: ['id'], rows: [['1']], truncated: true } } : e));
    expect(formatText(buildTimeline(SESSION, events))).toContain('  result    first 1 row(s) of 500');
  });

  it('formats offsets', () => {
    expect(formatOffset(0)).toBe('+0:00.000');
    expect(formatOffset(61_234)).toBe('+1:01.234');
    expect(formatOffset(3_723_004)).toBe('+1:02:03.004');
  });
});

describe('--format json', () => {
  it('is exactly the recorded statements, one per line', () => {
    const lines = formatJson(timeline()).split('\n');
    const statements = sessionEvents()
      .filter((e) => e.type === 'statement')
      .map((e) => recordedEvent(e));
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual(statements);
  });

  it('is empty for a session without statements', () => {
    expect(formatJson(buildTimeline(SESSION, sessionEvents().filter((e) => e.type !== 'statement')))).toBe('');
  });
});

describe('--format asciicast', () => {
  it('writes a valid asciicast v2 file with the original timing', () => {
    const { header, events } = parseAsciicast(formatAsciicast(timeline()));
    expect(header.timestamp).toBe(T0 / 1000);
    expect(header.title).toBe('hoop replay s_replay: claude-agent on pg-prod');
    expect(events.map((e) => e[0])).toEqual([0, 1, 3, 34, 35, 635, 636]);
  });

  it('renders the same text as --format text', () => {
    const t: Timeline = timeline();
    const { events } = asciicast(t);
    expect(events.map((e) => e[2]).join('').replace(/\r\n/g, '\n')).toBe(`${formatText(t)}\n`);
  });

  it('applies --speed and --skip-idle to the times', () => {
    const { events } = asciicast(timeline(), { speed: 2, skipIdleMs: 5000 });
    expect(events.map((e) => e[0])).toEqual([0, 0.5, 1.5, 4, 4.5, 7, 7.5]);
  });

  it('plays terminal output as raw bytes', () => {
    const { events } = parseAsciicast(formatAsciicast(buildTimeline(undefined, terminalEvents())));
    expect(events.map((e) => e[2])).toContain('ls\r\nREADME.md  src\r\n$ ');
  });
});
