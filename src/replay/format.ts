import { frameLines, headerLines, screenLines, type Line } from './render.js';
import { schedule, type PlaybackOptions, type Timeline } from './timeline.js';

/**
 * The replay's printed forms, all without waiting:
 * - `text`: the header, then every frame as the player shows it;
 * - `json`: the recorded statement events, exactly as stored, one JSON object per line (JSONL), in
 *   timeline order;
 * - `asciicast`: an asciinema v2 recording of the text form with the session's timing.
 */
export type ReplayFormat = 'text' | 'json' | 'asciicast';

const text = (lines: readonly Line[]): string[] => lines.map((l) => l.text);

/** The header, a blank line, then every frame. No trailing newline. */
export function formatText(timeline: Timeline): string {
  return [...text(headerLines(timeline.header, timeline.statements)), '', ...text(screenLines(timeline, timeline.frames.length))].join('\n');
}

/** One recorded statement event per line, exactly as recorded. No trailing newline. */
export function formatJson(timeline: Timeline): string {
  return timeline.frames
    .flatMap((f) => (f.kind === 'statement' ? [JSON.stringify(f.event)] : []))
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

/** `[seconds, "o", text]`: output at that time after the start. */
export type AsciicastEvent = readonly [number, 'o', string];

export interface AsciicastOptions extends PlaybackOptions {
  readonly width?: number;
  readonly height?: number;
}

/** The header line and the event lines of an asciicast v2 file. */
export function asciicast(timeline: Timeline, opts: AsciicastOptions = {}): { header: AsciicastHeader; events: AsciicastEvent[] } {
  const times = schedule(timeline, opts);
  const crlf = (lines: readonly string[]): string => lines.map((l) => `${l}\r\n`).join('');
  const head = text(headerLines(timeline.header, timeline.statements));
  const events: AsciicastEvent[] = [[0, 'o', crlf([...head, ''])]];
  let longest = Math.max(0, ...head.map((l) => [...l].length));
  timeline.frames.forEach((f, i) => {
    const at = Math.round(times[i]!) / 1000;
    if (f.kind === 'terminal') {
      // Raw terminal bytes play as they were written; typed input is already echoed in the output.
      if (f.stream === 'output' && f.data !== '') events.push([at, 'o', f.data]);
      return;
    }
    const lines = text(frameLines(f));
    for (const l of lines) longest = Math.max(longest, [...l].length);
    events.push([at, 'o', crlf(lines)]);
  });
  const h = timeline.header;
  return {
    header: {
      version: 2,
      width: opts.width ?? Math.min(200, Math.max(80, longest)),
      height: opts.height ?? 40,
      timestamp: Math.floor(h.startedAt / 1000),
      title: `hoop replay ${h.sessionId}: ${h.identity.name} on ${h.connection}`,
      env: { TERM: 'xterm-256color', SHELL: '/bin/sh' },
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
