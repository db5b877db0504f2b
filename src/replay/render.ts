import type { RecordedDecision, RecordedRefUpdate } from '../audit/events.js';
import { formatDuration, formatTime, renderTable } from '../cli/table.js';
import type {
  ApprovalInfo,
  EndFrame,
  ExecFrame,
  Frame,
  GitFrame,
  SessionHeader,
  SftpFrame,
  ShellCommandFrame,
  SshChannelFrame,
  SshRequestFrame,
  StatementFrame,
  Timeline,
} from './timeline.js';
import { VirtualTerminal } from './vt.js';

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

/** `512 B`, `12.3 KiB`, `4.0 MiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

const pairs = (r: Readonly<Record<string, string>>): string =>
  Object.entries(r)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');

/** What a session did, in words: `5 statement(s)` for SQL, `3 command(s), 1 git operation(s)`… for SSH. */
export function countsText(c: { readonly statements: number; readonly commands: number; readonly gitOperations: number; readonly sftpOperations: number; readonly ssh: boolean }): string {
  if (!c.ssh) return `${c.statements} statement(s)`;
  const parts: string[] = [];
  if (c.commands > 0 || (c.gitOperations === 0 && c.sftpOperations === 0)) parts.push(`${c.commands} command(s)`);
  if (c.gitOperations > 0) parts.push(`${c.gitOperations} git operation(s)`);
  if (c.sftpOperations > 0) parts.push(`${c.sftpOperations} file operation(s)`);
  return parts.join(', ');
}

function ptyText(pty: { readonly term: string; readonly cols: number; readonly rows: number } | null | undefined): string {
  return pty ? `${pty.term} ${pty.cols}×${pty.rows}` : 'no pty';
}

export function headerLines(timeline: Timeline): Line[] {
  const h: SessionHeader = timeline.header;
  const lines: Line[] = [{ text: `session     ${h.sessionId}`, tone: 'title' }];
  lines.push({ text: `identity    ${h.identity.name} (${h.identity.kind}; groups: ${h.identity.groups.join(', ') || 'none'})` });
  if (h.agentMeta && Object.keys(h.agentMeta).length > 0) lines.push({ text: `agent       ${pairs(h.agentMeta)}` });
  lines.push({ text: `connection  ${h.connection}${h.connectionType ? ` (${h.connectionType})` : ''}${h.clientAddress ? ` from ${h.clientAddress}` : ''}` });
  if (Object.keys(h.clientInfo).length > 0) lines.push({ text: `client      ${pairs(h.clientInfo)}` });
  const end = h.endedAt !== null ? `, ended ${formatTime(h.endedAt)} (${h.endReason ?? 'unknown'}) after ${formatDuration(h.endedAt - h.startedAt)}` : ', no end recorded';
  lines.push({ text: `started     ${formatTime(h.startedAt)}${end}; ${countsText(timeline)}` });
  const t = timeline.terminal;
  if (t) {
    const info = timeline.channels.find((c) => c.channel === t.channel);
    const kind = info && info.kind !== 'unknown' ? `${info.kind}, ` : '';
    const others = timeline.channels.filter((c) => c.terminalEvents > 0 && c.channel !== t.channel).map((c) => c.channel);
    const also = others.length > 0 ? `; other terminals: channel ${others.join(', ')} (--channel N)` : '';
    lines.push({ text: `terminal    channel ${t.channel} (${kind}${t.term ?? 'terminal'} ${t.cols}×${t.rows})${also}` });
  }
  return lines;
}

function decisionLine(d: RecordedDecision, label = 'decision'): Line {
  return {
    text: `  ${label.padEnd(8)}  ${d.action} · rule ${d.rule} · class ${d.class}${d.reason ? ` · ${d.reason}` : ''}`,
    tone: d.action === 'deny' ? 'error' : d.action === 'review' ? 'warn' : 'dim',
  };
}

function approvalLine(a: ApprovalInfo | null): Line | null {
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

const took = (ms: number): string => (ms < 1000 ? `${ms.toFixed(1)}ms` : formatDuration(ms));

/** The lines of one statement: SQL, parameters, decision, approval, outcome, masking, result. */
export function statementLines(f: StatementFrame): Line[] {
  const e = f.event;
  const lines: Line[] = [{ text: `── #${f.number} ${formatOffset(f.offsetMs)} · ${formatTime(e.time)} · ${e.protocol}`, tone: 'heading' }];
  for (const l of e.sql.replace(/\s+$/, '').split(/\r?\n/)) lines.push({ text: l.replace(/\s+$/, ''), tone: 'sql' });
  if (e.params && e.params.length > 0) lines.push({ text: `  params    ${JSON.stringify(e.params)}`, tone: 'dim' });
  if (e.decision) lines.push(decisionLine(e.decision));
  const approval = approvalLine(f.approval);
  if (approval) lines.push(approval);
  if (e.error) lines.push({ text: `  outcome   ERROR ${e.error.code}: ${e.error.message} · ${took(e.durationMs)}`, tone: 'error' });
  else lines.push({ text: `  outcome   ${e.commandTag ?? '(no command tag)'} · ${e.rows} row(s) · ${took(e.durationMs)}`, tone: 'ok' });
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

/** Whether something held or refused never ran: denied by a rule, or held without an approval. */
function refused(d: RecordedDecision, approval: ApprovalInfo | null): boolean {
  return d.action === 'deny' || (d.action === 'review' && approval?.status !== 'approved');
}

/** Captured output under a label, one row per line, continuation rows indented like the label's text. */
function outputLines(label: string, text: string, tone?: Line['tone']): Line[] {
  const body = plainTerminalText(text).replace(/\n$/, '');
  if (body === '') return [];
  return body.split('\n').map((l, i) => ({ text: `${i === 0 ? `  ${label.padEnd(8)}  ` : ' '.repeat(12)}${l}`, ...(tone ? { tone } : {}) }));
}

/** A command run with exec: the command line, decision, approval, exit, output. */
export function execLines(f: ExecFrame): Line[] {
  const e = f.event;
  const lines: Line[] = [{ text: `── exec #${f.number} ${formatOffset(f.offsetMs)} · ${formatTime(e.time)} · channel ${e.channel}`, tone: 'heading' }];
  for (const l of e.command.replace(/\s+$/, '').split(/\r?\n/)) lines.push({ text: l, tone: 'sql' });
  lines.push(decisionLine(e.decision));
  const approval = approvalLine(f.approval);
  if (approval) lines.push(approval);
  const traffic = `${formatBytes(e.bytesOut)} out, ${formatBytes(e.bytesIn)} in`;
  if (e.exitStatus !== undefined) lines.push({ text: `  outcome   exit ${e.exitStatus} · ${took(e.durationMs)} · ${traffic}`, tone: e.exitStatus === 0 ? 'ok' : 'error' });
  else if (e.exitSignal !== undefined) lines.push({ text: `  outcome   killed by signal ${e.exitSignal} · ${took(e.durationMs)} · ${traffic}`, tone: 'error' });
  else if (refused(e.decision, f.approval)) lines.push({ text: '  outcome   not run: refused by hoop', tone: 'error' });
  else lines.push({ text: `  outcome   no exit status (the channel closed first) · ${took(e.durationMs)} · ${traffic}`, tone: 'warn' });
  lines.push(...outputLines('stdout', e.stdout), ...outputLines('stderr', e.stderr, 'warn'));
  if (e.outputTruncated) lines.push({ text: '  output    truncated: only the first bytes were recorded', tone: 'dim' });
  return lines;
}

const shortId = (id: string): string => id.slice(0, 7);

function refLine(r: RecordedRefUpdate, pushRefused: boolean): Line {
  const what =
    r.kind === 'create' ? `create ${r.ref} → ${shortId(r.newId)}` : r.kind === 'delete' ? `delete ${r.ref} (was ${shortId(r.oldId)})` : `update ${r.ref} ${shortId(r.oldId)}..${shortId(r.newId)}`;
  const result = r.result ?? (r.decision.action === 'deny' || pushRefused ? 'refused' : 'no result recorded');
  const bad = r.decision.action === 'deny' || result !== 'ok';
  return { text: `  ref       ${what} · ${r.decision.action} · rule ${r.decision.rule} · ${result}`, tone: bad ? 'error' : 'ok' };
}

/** A fetch or push: repository, decision, approval, each ref update with its own decision and result. */
export function gitLines(f: GitFrame): Line[] {
  const e = f.event;
  const lines: Line[] = [{ text: `── git ${f.operation} ${formatOffset(f.offsetMs)} · ${formatTime(e.time)} · ${e.repository} · channel ${e.channel}`, tone: 'heading' }];
  lines.push(decisionLine(e.decision));
  const approval = approvalLine(f.approval);
  if (approval) lines.push(approval);
  const pushRefused = refused(e.decision, f.approval);
  for (const r of e.refs) lines.push(refLine(r, pushRefused));
  if (e.wants && e.wants.length > 0) lines.push({ text: `  wants     ${e.wants.length} object(s)`, tone: 'dim' });
  const traffic = `${formatBytes(e.bytesIn)} in, ${formatBytes(e.bytesOut)} out`;
  if (e.exitStatus !== undefined) lines.push({ text: `  outcome   exit ${e.exitStatus} · ${took(e.durationMs)} · ${traffic}`, tone: e.exitStatus === 0 ? 'ok' : 'error' });
  else if (pushRefused) lines.push({ text: '  outcome   not run: refused by hoop', tone: 'error' });
  else lines.push({ text: `  outcome   no exit status · ${took(e.durationMs)} · ${traffic}`, tone: 'warn' });
  if (e.message) lines.push(...outputLines('message', e.message, 'dim'));
  return lines;
}

export function sftpLines(f: SftpFrame): Line[] {
  const e = f.event;
  const target = e.target !== undefined ? ` → ${e.target}` : '';
  const bytes = e.bytes !== undefined ? ` · ${formatBytes(e.bytes)}` : '';
  return [{ text: `── sftp ${formatOffset(f.offsetMs)} · ${e.op} ${e.path}${target}${bytes} · ${e.status}`, tone: e.status === 'ok' ? 'dim' : 'error' }];
}

export function requestLines(f: SshRequestFrame): Line[] {
  const e = f.event;
  const d = e.decision;
  const verdict = d.action === 'allow' ? `allowed by rule ${d.rule}` : `refused by rule ${d.rule}${d.reason ? `: ${d.reason}` : ''}`;
  return [{ text: `── ssh request ${formatOffset(f.offsetMs)} · ${e.request}${e.detail ? ` ${e.detail}` : ''} · ${verdict}`, tone: d.action === 'allow' ? 'dim' : 'error' }];
}

export function channelLines(f: SshChannelFrame): Line[] {
  const e = f.event;
  if (f.foldedIntoExec) return [];
  const d = e.decision;
  const what = e.kind === 'subsystem' ? `subsystem ${e.subsystem ?? '(unnamed)'}` : e.kind;
  const env = e.env && e.env.length > 0 ? ` · env ${e.env.join(', ')}` : '';
  const verdict =
    d.action === 'allow'
      ? `allowed by rule ${d.rule}`
      : d.action === 'review'
        ? `held for approval by rule ${d.rule}`
        : `refused by rule ${d.rule}${d.reason ? `: ${d.reason}` : ''}`;
  const lines: Line[] = [
    { text: `── channel ${e.channel} ${formatOffset(f.offsetMs)} · ${what} · ${ptyText(e.pty)}${env} · ${verdict}`, tone: d.action === 'allow' ? 'heading' : d.action === 'review' ? 'warn' : 'error' },
  ];
  const approval = approvalLine(f.approval);
  if (approval) lines.push(approval);
  return lines;
}

/** A line typed into a shell. The policy's verdict is what it would have said: shells are recorded, not enforced. */
export function shellCommandLines(f: ShellCommandFrame): Line[] {
  const e = f.event;
  const d = e.decision;
  return [
    {
      text: `── shell #${f.number} ${formatOffset(f.offsetMs)} · channel ${e.channel} · ${e.command.replace(/\s+/g, ' ').trim()} · recorded, not enforced (policy: ${d.action} · rule ${d.rule})`,
      tone: d.action === 'allow' ? 'dim' : 'warn',
    },
  ];
}

export function endLines(f: EndFrame): Line[] {
  const counts = countsText(f);
  return [{ text: `── session ended ${formatOffset(f.offsetMs)} · ${f.reason}${f.error ? `: ${f.error}` : ''} · ${counts} in ${formatDuration(f.durationMs)}`, tone: f.error ? 'error' : 'heading' }];
}

/**
 * Text with escape sequences stripped and line ends made `\n`: for output captured without a
 * terminal (an exec's stdout). Terminal sessions go through the virtual terminal instead.
 */
export function plainTerminalText(data: string): string {
  return data
    .replace(/\u001b\][^\u0007\u001b]*(\u0007|\u001b\\)/g, '') // OSC … BEL/ST
    .replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, '') // CSI
    .replace(/\u001b[@-Z\\-_]/g, '')
    .replace(/\r\n/g, '\n')
    .replace(/\r/g, '');
}

/** The lines of one frame on its own (terminal output is drawn across frames by `ScreenRenderer`). */
export function frameLines(f: Frame): Line[] {
  switch (f.kind) {
    case 'statement':
      return statementLines(f);
    case 'ssh.exec':
      return execLines(f);
    case 'shell.command':
      return shellCommandLines(f);
    case 'git':
      return gitLines(f);
    case 'sftp':
      return sftpLines(f);
    case 'ssh.request':
      return requestLines(f);
    case 'ssh.channel':
      return channelLines(f);
    case 'end':
      return endLines(f);
    case 'terminal':
      return f.stream === 'output' ? plainTerminalText(f.data).split('\n').map((text) => ({ text })) : [];
  }
}

/**
 * The screen after frames [0, shown): what the player shows and what seeking re-renders.
 *
 * Terminal output is written into one virtual terminal, so redraws, line editing and `clear` come
 * out as they looked. Every other frame becomes a note placed among the terminal's lines where
 * its cursor was at that moment: a detected command lands right under the line it was typed on,
 * anything else above the prompt that was waiting.
 * Moving forward feeds only the new frames; moving back starts again from the first frame.
 */
export class ScreenRenderer {
  private terminal: VirtualTerminal | null = null;
  private notes: { at: number; lines: Line[] }[] = [];
  private fed = 0;

  constructor(readonly timeline: Timeline) {
    this.reset();
  }

  private reset(): void {
    const t = this.timeline.terminal;
    this.terminal = t ? new VirtualTerminal({ cols: t.cols, rows: t.rows }) : null;
    this.notes = [];
    this.fed = 0;
  }

  linesAt(shown: number): Line[] {
    const frames = this.timeline.frames;
    const target = Math.max(0, Math.min(shown, frames.length));
    if (target < this.fed) this.reset();
    for (; this.fed < target; this.fed++) {
      const f = frames[this.fed]!;
      if (f.kind === 'terminal') {
        if (f.stream === 'output') this.terminal?.write(f.data);
        continue;
      }
      // Never before an earlier note: notes keep the order things happened in. The end goes last.
      const at = f.kind === 'end' ? Number.POSITIVE_INFINITY : Math.max(this.terminal?.notePosition(f.kind === 'shell.command') ?? 0, this.notes.at(-1)?.at ?? 0);
      this.notes.push({ at, lines: frameLines(f) });
    }
    return this.compose();
  }

  private compose(): Line[] {
    const out: Line[] = [];
    const main = this.terminal?.mainLines() ?? [];
    const dropped = this.terminal?.droppedLines ?? 0;
    if (dropped > 0) out.push({ text: `… ${dropped} earlier terminal line(s) not kept`, tone: 'dim' });
    let n = 0;
    for (let i = 0; i < main.length; i++) {
      while (n < this.notes.length && this.notes[n]!.at <= dropped + i) out.push(...this.notes[n++]!.lines);
      out.push({ text: main[i]! });
    }
    while (n < this.notes.length && Number.isFinite(this.notes[n]!.at)) out.push(...this.notes[n++]!.lines);
    // A full-screen program still running: its screen is what was showing.
    const alternate = this.terminal?.alternateLines();
    if (alternate) out.push(...alternate.map((text) => ({ text })));
    while (n < this.notes.length) out.push(...this.notes[n++]!.lines);
    return out;
  }
}

/** The screen after frames [0, shown), rendered from the start. */
export function screenLines(timeline: Timeline, shown: number): Line[] {
  return new ScreenRenderer(timeline).linesAt(shown);
}
