import { schedule, seekPoints, seekUnit, type PlaybackOptions, type Timeline } from './timeline.js';

/**
 * The player's state machine: pure, no React, no clock. Time only moves through `tick` actions
 * carrying the elapsed wall time, so a test drives it with whatever clock it likes.
 */

/** A timeline prepared for playing: when each frame plays, and where → / ← stop. */
export interface Playback {
  readonly timeline: Timeline;
  readonly speed: number;
  /** Playback time of each frame (ms after the start), never decreasing. */
  readonly times: readonly number[];
  /** Indexes of the frames → and ← move between. */
  readonly seekPoints: readonly number[];
  /** What they are, for the status line. */
  readonly unit: 'statement' | 'command' | 'step';
  /** Playback time of the last frame. */
  readonly durationMs: number;
}

export function createPlayback(timeline: Timeline, opts: PlaybackOptions = {}): Playback {
  const times = schedule(timeline, opts);
  return {
    timeline,
    speed: opts.speed ?? 1,
    times,
    seekPoints: seekPoints(timeline),
    unit: seekUnit(timeline),
    durationMs: times.at(-1) ?? 0,
  };
}

export interface PlayerState {
  /** How many frames are on screen: frames [0, shown). */
  readonly shown: number;
  /** Where playback is, in ms of playback time (speed and idle caps applied). */
  readonly clockMs: number;
  readonly playing: boolean;
}

export type PlayerAction =
  /** Wall time passed; only moves the clock while playing. */
  | { readonly type: 'tick'; readonly elapsedMs: number }
  /** Space: pause, resume, or (at the end) play again from the start. */
  | { readonly type: 'toggle' }
  /** →: show everything up to and including the next statement (or command). */
  | { readonly type: 'next' }
  /** ←: back to the statement (or command) before the current one, or the start. */
  | { readonly type: 'prev' }
  | { readonly type: 'quit' };

export interface PlayerStep {
  readonly state: PlayerState;
  readonly effect?: 'quit';
}

/** Frames due at or before `clockMs`. */
function dueAt(p: Playback, clockMs: number): number {
  let n = 0;
  while (n < p.times.length && p.times[n]! <= clockMs) n++;
  return n;
}

export function initialPlayerState(p: Playback): PlayerState {
  const shown = dueAt(p, 0);
  return { shown, clockMs: 0, playing: shown < p.times.length };
}

export function isFinished(state: PlayerState, p: Playback): boolean {
  return state.shown >= p.times.length;
}

/** The number of the last statement on screen (0 before the first). */
export function currentStatement(state: PlayerState, p: Playback): number {
  for (let i = state.shown - 1; i >= 0; i--) {
    const f = p.timeline.frames[i]!;
    if (f.kind === 'statement') return f.number;
  }
  return 0;
}

/** How many seek points are on screen: the number of the current statement or command (0 before the first). */
export function currentStep(state: PlayerState, p: Playback): number {
  let n = 0;
  for (const i of p.seekPoints) if (i < state.shown) n++;
  return n;
}

/** Shows frames [0, k] with the clock at frame k: the result of any seek. */
function seekTo(state: PlayerState, p: Playback, k: number): PlayerState {
  if (k < 0) return { ...state, shown: dueAt(p, 0), clockMs: 0 };
  const clockMs = p.times[k]!;
  // Frames due at the same instant as k come with it.
  const shown = Math.max(k + 1, dueAt(p, clockMs));
  return { shown, clockMs, playing: shown < p.times.length && state.playing };
}

export function playerStep(state: PlayerState, action: PlayerAction, p: Playback): PlayerStep {
  const n = p.times.length;
  switch (action.type) {
    case 'tick': {
      if (!state.playing || action.elapsedMs <= 0) return { state };
      const clockMs = Math.min(state.clockMs + action.elapsedMs, p.durationMs);
      const shown = Math.max(state.shown, dueAt(p, clockMs));
      return { state: { shown, clockMs, playing: shown < n } };
    }
    case 'toggle':
      if (state.shown >= n) return { state: { ...initialPlayerState(p), playing: n > 0 } };
      return { state: { ...state, playing: !state.playing } };
    case 'next': {
      const target = p.seekPoints.find((i) => i >= state.shown);
      if (target === undefined) return { state: { shown: n, clockMs: p.durationMs, playing: false } };
      return { state: seekTo(state, p, target) };
    }
    case 'prev': {
      const onScreen = p.seekPoints.filter((i) => i < state.shown);
      // The current statement or command is the last one on screen; go to the one before it.
      const target = onScreen.length >= 2 ? onScreen.at(-2)! : -1;
      return { state: seekTo(state, p, target) };
    }
    case 'quit':
      return { state, effect: 'quit' };
  }
}

export interface KeyPress {
  readonly leftArrow?: boolean;
  readonly rightArrow?: boolean;
}

/** Space pauses and resumes, → / ← (or l / h) move between statements or commands, q quits. */
export function keyAction(input: string, key: KeyPress): PlayerAction | null {
  if (key.rightArrow || input === 'l') return { type: 'next' };
  if (key.leftArrow || input === 'h') return { type: 'prev' };
  if (input === ' ') return { type: 'toggle' };
  if (input === 'q') return { type: 'quit' };
  return null;
}
