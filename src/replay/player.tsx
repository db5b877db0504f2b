import { Box, Text, render, useApp, useInput, useWindowSize } from 'ink';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { UsageError } from '../errors.js';
import { type Playback, type PlayerAction, currentStep, initialPlayerState, isFinished, keyAction, playerStep } from './player-model.js';
import { type Line, ScreenRenderer, headerLines } from './render.js';

/** Where the player gets time from: the system clock, or a fake one in tests. */
export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Calls `fn` every `ms` until the returned function is called. */
  every(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  every: (ms, fn) => {
    const timer = setInterval(fn, ms);
    return () => clearInterval(timer);
  },
};

export interface PlayerProps {
  readonly playback: Playback;
  readonly clock?: Clock;
  /** How often the clock is read while playing. */
  readonly tickMs?: number;
  /** The terminal's size; read from the terminal when absent. */
  readonly rows?: number;
  readonly columns?: number;
}

const TONES: Record<NonNullable<Line['tone']>, { color?: string; bold?: boolean; dimColor?: boolean }> = {
  title: { bold: true },
  heading: { color: 'cyan', bold: true },
  sql: {},
  dim: { dimColor: true },
  ok: { color: 'green' },
  error: { color: 'red' },
  warn: { color: 'yellow' },
};

/** Cuts lines longer than the screen into several (at a space when there is one), so one line is one row. */
function wrap(lines: readonly Line[], width: number): Line[] {
  const out: Line[] = [];
  for (const l of lines) {
    let chars = [...l.text];
    while (chars.length > width) {
      const space = chars.lastIndexOf(' ', width);
      const cut = space > width / 2 ? space + 1 : width;
      out.push({ text: chars.slice(0, cut).join('').trimEnd(), ...(l.tone ? { tone: l.tone } : {}) });
      chars = chars.slice(cut);
    }
    out.push(chars.length === [...l.text].length ? l : { text: chars.join(''), ...(l.tone ? { tone: l.tone } : {}) });
  }
  return out;
}

/** `1:02.3`: a playback position. */
function clockText(ms: number): string {
  const tenths = Math.floor(Math.max(0, ms) / 100);
  const s = Math.floor(tenths / 10);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}.${tenths % 10}`;
}

function Lines({ lines }: { readonly lines: readonly Line[] }) {
  return (
    <>
      {lines.map((l, i) => (
        <Text key={i} wrap="truncate-end" {...(l.tone ? TONES[l.tone] : {})}>
          {l.text === '' ? ' ' : l.text}
        </Text>
      ))}
    </>
  );
}

/**
 * Plays a timeline: the header stays on top, the frames played so far scroll below it (the last
 * screenful; for a terminal session, the terminal as it looked), and a status line says where
 * playback is. Space pauses, → / ← seek between statements or commands, q quits.
 */
export function Player({ playback, clock = systemClock, tickMs = 50, rows, columns }: PlayerProps) {
  const { exit } = useApp();
  const size = useWindowSize();
  const height = rows ?? size.rows ?? 24;
  const width = Math.max(20, (columns ?? size.columns ?? 80) - 1);
  const [state, setState] = useState(() => initialPlayerState(playback));
  const current = useRef(state);
  const exitRef = useRef(exit);
  exitRef.current = exit;

  const dispatch = useCallback(
    (action: PlayerAction): void => {
      const { state: next, effect } = playerStep(current.current, action, playback);
      if (next !== current.current) {
        current.current = next;
        setState(next);
      }
      if (effect === 'quit') exitRef.current(0);
    },
    [playback],
  );

  useEffect(() => {
    let last = clock.now();
    return clock.every(tickMs, () => {
      const now = clock.now();
      const elapsedMs = now - last;
      last = now;
      dispatch({ type: 'tick', elapsedMs });
    });
  }, [clock, tickMs, dispatch]);

  useInput((input, key) => {
    const action = keyAction(input, key);
    if (action) dispatch(action);
  });

  const { timeline } = playback;
  const header = useMemo(() => wrap(headerLines(timeline), width), [timeline, width]);
  // One renderer per timeline: playing forward feeds it only the new frames.
  const renderer = useMemo(() => new ScreenRenderer(timeline), [timeline]);
  const screen = useMemo(() => wrap(renderer.linesAt(state.shown), width), [renderer, state.shown, width]);
  // Header, rule, body, two status lines, and one row spare: a frame as tall as the terminal scrolls it.
  const bodyHeight = Math.max(3, height - header.length - 4);
  const visible = screen.slice(-bodyHeight);
  const finished = isFinished(state, playback);
  const status = finished ? '■ end of session' : state.playing ? '▶ playing' : '❚❚ paused';
  const speed = playback.speed === 1 ? '' : ` · ${playback.speed}x`;
  const unit = playback.unit;
  return (
    <Box flexDirection="column">
      <Lines lines={header} />
      <Text dimColor>{'─'.repeat(width)}</Text>
      <Lines lines={visible} />
      <Box>
        <Text color={finished ? 'gray' : state.playing ? 'green' : 'yellow'}>{status}</Text>
        <Text>
          {`${speed} · ${unit} ${currentStep(state, playback)}/${playback.seekPoints.length} · ${clockText(state.clockMs)} / ${clockText(playback.durationMs)}`}
        </Text>
      </Box>
      <Text dimColor>{`space ${finished ? 'play again' : state.playing ? 'pause' : 'play'} · → next ${unit} · ← previous ${unit} · q quit`}</Text>
    </Box>
  );
}

/** `hoop replay ID` in a terminal. Resolves to the exit code: 0 after q, 130 after Ctrl+C. */
export async function runReplayPlayer(playback: Playback, opts: { stdin?: NodeJS.ReadStream; stdout?: NodeJS.WriteStream } = {}): Promise<number> {
  const stdin = opts.stdin ?? process.stdin;
  const stdout = opts.stdout ?? process.stdout;
  if (!stdin.isTTY) throw new UsageError('playing a session needs an interactive terminal', 'print it with --format text, json or asciicast');
  // As in the approvals screen: a person at a terminal gets the live player even where CI=true is set.
  const instance = render(<Player playback={playback} />, { stdin, stdout, alternateScreen: true, interactive: Boolean(stdout.isTTY) });
  const result = await instance.waitUntilExit();
  return typeof result === 'number' ? result : 130;
}
