import { formatDuration, formatTime, renderTable } from '../cli/table.js';
import type { Frame, SessionHeader, StatementFrame, Timeline } from './timeline.js';

/**
 * What a replay shows, as lines of text: the text format prints them, the asciicast format
 * writes them with their timing, and the player shows the last screenful. `tone` is a hint for
 * the player's colours; the text forms ignore it.
 */
export interface Line {
  readonly text: string;
  readonly tone?: 'title' | 'heading' | 'sql' | 'dim' | 'ok' | 'error' | 'warn';
}

/** `+1:02.345`, or `+1:02:03.456` past an hour: a frame's offset from the session start. */
export function formatOffset(ms: number): string {
  const total = Math.max(0, Math.round(ms));
  const millis = String(total % 1000).padStart(3, '0');
  const s = Math.floor(total / 1000);
  const secs = String(s % 60).padStart(2, '0');
  const m = Math.floor(s / 60);
  if (m < 60) return `+${m}:${secs}.${millis}`;
  return `+${Math.floor(m / 60)}:${String(m % 60).padStart(2, '0')}:${secs}.${millis}`;
}

const pairs = (r: Readonly<Record<string, string>>): string =>
  Object.entries(r)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');

export function headerLines(h: SessionHeader, statements: number): Line[] {
  const lines: Line[] = [{ text: `session     ${h.sessionId}`, tone: 'title' }];
  lines.push({ text: `identity    ${h.identity.name} (${h.identity.kind}; groups: ${h.identity.groups.join(', ') || 'none'})` });
  if (h.agentMeta && Object.keys(h.agentMeta).length > 0) lines.push({ text: `agent       ${pairs(h.agentMeta)}` });
  lines.push({ text: `connection  ${h.connection}${h.connectionType ? ` (${h.connectionType})` : ''}${h.clientAddress ? ` from ${h.clientAddress}` : ''}` });
  if (Object.keys(h.clientInfo).length > 0) lines.push({ text: `client      ${pairs(h.clientInfo)}` });
  const end = h.endedAt !== null ? `, ended ${formatTime(h.endedAt)} (${h.endReason ?? 'unknown'}) after ${formatDuration(h.endedAt - h.startedAt)}` : ', no end recorded';
  lines.push({ text: `started     ${formatTime(h.startedAt)}${end}; ${statements} statement(s)` });
  return lines;
}

function approvalLine(f: StatementFrame): Line | null {
  const a = f.approval;
  if (!a) return null;
  const id = a.requestId ? ` (${a.requestId}${a.waitedMs !== null && !a.viaWindow ? `, waited ${formatDuration(a.waitedMs)}` : ''})` : '';
  switch (a.status) {
    case 'approved':
      if (a.viaWindow) return { text: `  approval  inside an approval window${id}`, tone: 'ok' };
      return { text: `  approval  approved by ${a.approvedBy.join(', ') || '(unknown)'}${id}`, tone: 'ok' };
    case 'denied':
      return { text: `  approval  denied by ${a.deniedBy.join(', ') || '(unknown)'}${a.reason ? `: ${a.reason}` : ''}${id}`, tone: 'error' };
    case 'expired':
      return { text: `  approval  expired without a decision${id}`, tone: 'error' };
    case 'cancelled':
      return { text: `  approval  withdrawn (the session ended)${id}`, tone: 'warn' };
    case 'pending':
      return { text: `  approval  requested, no decision recorded${id}`, tone: 'warn' };
  }
}

/** The lines of one statement: SQL, parameters, decision, approval, outcome, masking, result. */
export function statementLines(f: StatementFrame): Line[] {
  const e = f.event;
  const lines: Line[] = [{ text: `── #${f.number} ${formatOffset(f.offsetMs)} · ${formatTime(e.time)} · ${e.protocol}`, tone: 'heading' }];
  for (const l of e.sql.replace(/\s+$/, '').split(/\r?\n/)) lines.push({ text: l.replace(/\s+$/, ''), tone: 'sql' });
  if (e.params && e.params.length > 0) lines.push({ text: `  params    ${JSON.stringify(e.params)}`, tone: 'dim' });
  if (e.decision) {
    const d = e.decision;
    lines.push({ text: `  decision  ${d.action} · rule ${d.rule} · class ${d.class}${d.reason ? ` · ${d.reason}` : ''}`, tone: d.action === 'deny' ? 'error' : d.action === 'review' ? 'warn' : 'dim' });
  }
  const approval = approvalLine(f);
  if (approval) lines.push(approval);
  const took = e.durationMs < 1000 ? `${e.durationMs.toFixed(1)}ms` : formatDuration(e.durationMs);
  if (e.error) lines.push({ text: `  outcome   ERROR ${e.error.code}: ${e.error.message} · ${took}`, tone: 'error' });
  else lines.push({ text: `  outcome   ${e.commandTag ?? '(no command tag)'} · ${e.rows} row(s) · ${took}`, tone: 'ok' });
  if (e.masked && Object.keys(e.masked).length > 0) {
    const total = Object.values(e.masked).reduce((s, n) => s + n, 0);
    lines.push({ text: `  masked    ${Object.entries(e.masked).map(([k, n]) => `${k} ×${n}`).join(', ')} (${total} value(s))`, tone: 'warn' });
  }
  const r = e.result;
  if (r && r.columns.length > 0) {
    const note = r.truncated ? `first ${r.rows.length} row(s) of ${e.rows}` : `${r.rows.length} row(s)`;
    lines.push({ text: `  result    ${note}`, tone: 'dim' });
    const table = renderTable(r.columns, r.rows.map((row) => r.columns.map((_, i) => cell(row[i]))));
    for (const l of table.split('\n')) lines.push({ text: `  ${l}` });
    if (r.truncated) lines.push({ text: '  …', tone: 'dim' });
  }
  return lines;
}

/** A result cell on one line: NULL shown as psql does (empty), line breaks made visible. */
function cell(v: string | null | undefined): string {
  if (v === null || v === undefined) return '';
  return v.replace(/\r?\n/g, '↵').replace(/\t/g, ' ');
}

export function endLines(f: Extract<Frame, { kind: 'end' }>): Line[] {
  return [{ text: `── session ended ${formatOffset(f.offsetMs)} · ${f.reason}${f.error ? `: ${f.error}` : ''} · ${f.statements} statement(s) in ${formatDuration(f.durationMs)}`, tone: f.error ? 'error' : 'heading' }];
}

/**
 * Terminal output as plain lines. A stand-in until terminal sessions exist: they will be rendered
 * by @xterm/headless (write frames 0..k into a headless terminal, read its buffer), which handles
 * cursor movement and redraws; this only strips escape sequences and splits lines.
 */
export function plainTerminalText(data: string): string {
  return data
    .replace(/\u001b\][^\u0007\u001b]*(\u0007|\u001b\\)/g, '') // OSC … BEL/ST
    .replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, '') // CSI
    .replace(/\u001b[@-Z\\-_]/g, '')
    .replace(/\r\n/g, '\n')
    .replace(/\r/g, '');
}

/** The lines of one frame on its own (terminal output is joined across frames by `screenLines`). */
export function frameLines(f: Frame): Line[] {
  switch (f.kind) {
    case 'statement':
      return statementLines(f);
    case 'end':
      return endLines(f);
    case 'terminal':
      return f.stream === 'output' ? plainTerminalText(f.data).split('\n').map((text) => ({ text })) : [];
  }
}

/**
 * The screen after frames [0, shown): what the player shows and what seeking re-renders. Runs of
 * terminal output are joined before splitting into lines, since output arrives in arbitrary chunks.
 */
export function screenLines(timeline: Timeline, shown: number): Line[] {
  const out: Line[] = [];
  let terminal = '';
  const flush = (): void => {
    if (terminal === '') return;
    for (const text of plainTerminalText(terminal).split('\n')) out.push({ text });
    terminal = '';
  };
  for (const f of timeline.frames.slice(0, shown)) {
    if (f.kind === 'terminal') {
      if (f.stream === 'output') terminal += f.data;
      continue;
    }
    flush();
    out.push(...frameLines(f));
  }
  flush();
  return out;
}
