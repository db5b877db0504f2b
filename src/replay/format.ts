import { frameLines, headerLines, screenLines, type Line } from './render.js';
import { schedule, seekPoints, type Frame, type PlaybackOptions, type Timeline } from './timeline.js';

/**
 * The replay's printed forms, all without waiting:
 * - `text`: the header, then every frame as the player shows it;
 * - `json`: the recorded event behind every frame (statements, commands, git and SFTP operations,
 *   channels, requests, shell lines, the shown terminal's traffic), exactly as stored, one JSON
 *   object per line (JSONL), in timeline order;
 * - `asciicast`: an asciinema v2 recording. A terminal session's cast is its terminal traffic as it
 *   was (output as "o", keystrokes as "i"), at the pty's size; any other session's is the text
 *   form with the session's timing.
 */
export type ReplayFormat = 'text' | 'json' | 'asciicast';

const text = (lines: readonly Line[]): string[] => lines.map((l) => l.text);

/** The header, a blank line, then every frame. No trailing newline. */
export function formatText(timeline: Timeline): string {
  return [...text(headerLines(timeline)), '', ...text(screenLines(timeline, timeline.frames.length))].join('\n');
}

/** The recorded event of every frame but the end (its event is the session's summary, not an activity). */
function frameEvent(f: Frame): object | null {
  return f.kind === 'end' ? null : f.event;
}

/** One recorded event per line, exactly as recorded. No trailing newline. */
export function formatJson(timeline: Timeline): string {
  return timeline.frames
    .flatMap((f) => {
      const event = frameEvent(f);
      return event === null ? [] : [JSON.stringify(event)];
    })
    .join('\n');
}

export interface AsciicastHeader {
  readonly version: 2;
  readonly width: number;
  readonly height: number;
  /** Unix time of the session start, in seconds. */
  readonly timestamp: number;
  readonly title: string;
  readonly env: Readonly<Record<string, string>>;
}

/**
 * `[seconds, "o", text]`: output at that time after the start; `"i"`: what was typed; `"m"`: a
 * marker (a command), which asciinema's player shows on its progress bar and can jump to.
 */
export type AsciicastEvent = readonly [number, 'o' | 'i' | 'm', string];

export interface AsciicastOptions extends PlaybackOptions {
  /** For sessions without a terminal: the cast's size (a terminal session uses its pty's). */
  readonly width?: number;
  readonly height?: number;
}

/** The header line and the event lines of an asciicast v2 file. */
export function asciicast(timeline: Timeline, opts: AsciicastOptions = {}): { header: AsciicastHeader; events: AsciicastEvent[] } {
  return timeline.terminal ? terminalCast(timeline, opts) : textCast(timeline, opts);
}

function title(timeline: Timeline): string {
  const h = timeline.header;
  return `hoop replay ${h.sessionId}: ${h.identity.name} on ${h.connection}`;
}

const seconds = (ms: number): number => Math.round(ms) / 1000;

/** A SQL session (or one without terminal traffic) as the text form, frame by frame. */
function textCast(timeline: Timeline, opts: AsciicastOptions): { header: AsciicastHeader; events: AsciicastEvent[] } {
  const times = schedule(timeline, opts);
  const crlf = (lines: readonly string[]): string => lines.map((l) => `${l}\r\n`).join('');
  const head = text(headerLines(timeline));
  const events: AsciicastEvent[] = [[0, 'o', crlf([...head, ''])]];
  let longest = Math.max(0, ...head.map((l) => [...l].length));
  timeline.frames.forEach((f, i) => {
    if (f.kind === 'terminal') return; // only in terminal sessions, which terminalCast writes
    const lines = text(frameLines(f));
    for (const l of lines) longest = Math.max(longest, [...l].length);
    events.push([seconds(times[i]!), 'o', crlf(lines)]);
  });
  return {
    header: {
      version: 2,
      width: opts.width ?? Math.min(200, Math.max(80, longest)),
      height: opts.height ?? 40,
      timestamp: Math.floor(timeline.header.startedAt / 1000),
      title: title(timeline),
      env: { TERM: 'xterm-256color', SHELL: '/bin/sh' },
    },
    events,
  };
}

/** The one-line label of a marker: what → stops at in the player. */
function markerLabel(f: Frame): string | null {
  switch (f.kind) {
    case 'ssh.exec':
      return `exec #${f.number}: ${f.event.command}`;
    case 'shell.command':
      return `shell #${f.number}: ${f.event.command}`;
    case 'git':
      return `git ${f.operation} ${f.event.repository}`;
    case 'sftp':
      return `sftp ${f.event.op} ${f.event.path}`;
    default:
      return null;
  }
}

/**
 * A terminal session as it was: the raw bytes at the pty's size, so any asciicast player draws
 * exactly what the user saw. Nothing of hoop's own is written into the stream (it would move the
 * cursor under a full-screen program); commands become markers instead.
 */
function terminalCast(timeline: Timeline, opts: PlaybackOptions): { header: AsciicastHeader; events: AsciicastEvent[] } {
  const t = timeline.terminal!;
  const times = schedule(timeline, opts);
  const marked = new Set(seekPoints(timeline));
  const events: AsciicastEvent[] = [];
  timeline.frames.forEach((f, i) => {
    const at = seconds(times[i]!);
    if (f.kind === 'terminal') {
      if (f.data !== '') events.push([at, f.stream === 'output' ? 'o' : 'i', f.data]);
      return;
    }
    const label = marked.has(i) ? markerLabel(f) : null;
    if (label !== null) events.push([at, 'm', label.replace(/\s+/g, ' ').trim()]);
  });
  return {
    header: {
      version: 2,
      width: t.cols,
      height: t.rows,
      timestamp: Math.floor(timeline.header.startedAt / 1000),
      title: `${title(timeline)} (channel ${t.channel})`,
      env: { TERM: t.term ?? 'xterm-256color' },
    },
    events,
  };
}

/** The asciicast v2 file: the header line, then one event per line. No trailing newline. */
export function formatAsciicast(timeline: Timeline, opts: AsciicastOptions = {}): string {
  const { header, events } = asciicast(timeline, opts);
  return [JSON.stringify(header), ...events.map((e) => JSON.stringify(e))].join('\n');
}

export function formatReplay(timeline: Timeline, format: ReplayFormat, opts: AsciicastOptions = {}): string {
  switch (format) {
    case 'text':
      return formatText(timeline);
    case 'json':
      return formatJson(timeline);
    case 'asciicast':
      return formatAsciicast(timeline, opts);
  }
}
