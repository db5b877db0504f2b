import { describe, expect, it } from 'vitest';
import { createPlayback, currentStatement, initialPlayerState, isFinished, keyAction, playerStep, type Playback, type PlayerAction, type PlayerState } from '../../src/replay/player-model.js';
import { screenLines } from '../../src/replay/render.js';
import { buildTimeline, isSeekPoint, schedule } from '../../src/replay/timeline.js';
import { SESSION, T0, sessionEvents, terminalEvents } from './fixtures.js';

const timeline = () => buildTimeline(SESSION, sessionEvents());

function run(p: Playback, ...actions: PlayerAction[]): PlayerState {
  let s = initialPlayerState(p);
  for (const a of actions) s = playerStep(s, a, p).state;
  return s;
}

describe('the replay timeline', () => {
  it('has a header from session.start and one frame per statement plus the end', () => {
    const t = timeline();
    expect(t.header).toMatchObject({ sessionId: 's_replay', connection: 'pg-prod', connectionType: 'postgres', clientAddress: '127.0.0.1:50000', startedAt: T0, endReason: 'client-closed' });
    expect(t.header.identity.groups).toEqual(['engineers', 'oncall']);
    expect(t.header.agentMeta).toEqual({ model: 'claude', task: 'TICKET-42' });
    expect(t.header.clientInfo).toEqual({ application_name: 'psql' });
    expect(t.statements).toBe(5);
    expect(t.frames.map((f) => f.kind)).toEqual(['statement', 'statement', 'statement', 'statement', 'statement', 'end']);
    expect(t.frames.map((f) => f.offsetMs)).toEqual([1000, 3000, 34_000, 35_000, 635_000, 636_000]);
  });

  it('keeps the recorded events as recorded (without the store position the sources add)', () => {
    const first = timeline().frames[0]!;
    expect(first.kind === 'statement' && first.event).not.toHaveProperty('seq');
    expect(first.kind === 'statement' && first.event.result?.columns).toEqual(['id', 'email']);
  });

  it('joins the approval that let a held statement run, from approval.decided', () => {
    const held = timeline().frames[1]!;
    expect(held.kind).toBe('statement');
    if (held.kind !== 'statement') return;
    expect(held.approval).toMatchObject({ requestId: 'ar_1', status: 'approved', approvedBy: ['bob'], waitedMs: 29_995, viaWindow: false });
  });

  it('falls back to the sessions row when session.start is missing', () => {
    const t = buildTimeline(SESSION, sessionEvents().filter((e) => e.type !== 'session.start'));
    expect(t.header.startedAt).toBe(T0);
    expect(t.header.identity.name).toBe('claude-agent');
    expect(t.header.agentMeta).toEqual({ model: 'claude', task: 'TICKET-42' });
  });

  it('orders frames by time, then recording order', () => {
    const events = sessionEvents();
    // A statement recorded after a later one (it completed later) still plays at its start time.
    const swapped = [events[0]!, events[5]!, events[1]!, ...events.slice(2, 5), ...events.slice(6)];
    const t = buildTimeline(SESSION, swapped);
    expect(t.frames.map((f) => f.time)).toEqual([...t.frames.map((f) => f.time)].sort((a, b) => a - b));
  });
});

describe('playback timing', () => {
  it('keeps the original gaps between statements', () => {
    expect(schedule(timeline())).toEqual([1000, 3000, 34_000, 35_000, 635_000, 636_000]);
  });

  it('divides them by --speed', () => {
    expect(schedule(timeline(), { speed: 2 })).toEqual([500, 1500, 17_000, 17_500, 317_500, 318_000]);
    expect(() => schedule(timeline(), { speed: 0 })).toThrow(RangeError);
  });

  it('caps every pause with --skip-idle, before the speed applies', () => {
    // Gaps 1s, 2s, 31s, 1s, 600s, 1s, each capped at 5s.
    expect(schedule(timeline(), { skipIdleMs: 5000 })).toEqual([1000, 3000, 8000, 9000, 14_000, 15_000]);
    expect(schedule(timeline(), { skipIdleMs: 5000, speed: 2 })).toEqual([500, 1500, 4000, 4500, 7000, 7500]);
    expect(schedule(timeline(), { skipIdleMs: 0 })).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('never goes backwards, even for events out of order', () => {
    const events = sessionEvents();
    const t = buildTimeline(SESSION, events);
    const times = schedule({ ...t, frames: [t.frames[2]!, t.frames[0]!, t.frames[1]!] });
    expect(times).toEqual([34_000, 34_000, 34_000]);
  });
});

describe('the player model', () => {
  const playback = () => createPlayback(timeline());

  it('starts playing with only the header, and shows frames as the clock reaches them', () => {
    const p = playback();
    const s0 = initialPlayerState(p);
    expect(s0).toEqual({ shown: 0, clockMs: 0, playing: true });
    let s = playerStep(s0, { type: 'tick', elapsedMs: 999 }, p).state;
    expect(s.shown).toBe(0);
    s = playerStep(s, { type: 'tick', elapsedMs: 1 }, p).state;
    expect(s.shown).toBe(1);
    expect(currentStatement(s, p)).toBe(1);
    s = playerStep(s, { type: 'tick', elapsedMs: 40_000 }, p).state;
    expect(s.shown).toBe(4);
    s = playerStep(s, { type: 'tick', elapsedMs: 10_000_000 }, p).state;
    expect(s).toEqual({ shown: 6, clockMs: 636_000, playing: false });
    expect(isFinished(s, p)).toBe(true);
  });

  it('space pauses (the clock stops) and resumes', () => {
    const p = playback();
    const paused = run(p, { type: 'tick', elapsedMs: 500 }, { type: 'toggle' }, { type: 'tick', elapsedMs: 60_000 });
    expect(paused).toEqual({ shown: 0, clockMs: 500, playing: false });
    const resumed = playerStep(paused, { type: 'toggle' }, p).state;
    expect(playerStep(resumed, { type: 'tick', elapsedMs: 500 }, p).state).toEqual({ shown: 1, clockMs: 1000, playing: true });
  });

  it('→ jumps to the next statement, keeping pause as it was', () => {
    const p = playback();
    let s = run(p, { type: 'toggle' }, { type: 'next' });
    expect(s).toEqual({ shown: 1, clockMs: 1000, playing: false });
    s = run(p, { type: 'toggle' }, { type: 'next' }, { type: 'next' }, { type: 'next' });
    expect(s).toEqual({ shown: 3, clockMs: 34_000, playing: false });
    expect(currentStatement(s, p)).toBe(3);
    s = run(p, { type: 'next' }, { type: 'next' });
    expect(s.playing).toBe(true);
  });

  it('→ after the last statement goes to the end', () => {
    const p = playback();
    const s = run(p, ...Array.from({ length: 5 }, () => ({ type: 'next' }) as const));
    expect(currentStatement(s, p)).toBe(5);
    expect(s.shown).toBe(5);
    expect(run(p, ...Array.from({ length: 7 }, () => ({ type: 'next' }) as const))).toEqual({ shown: 6, clockMs: 636_000, playing: false });
  });

  it('← goes back to the statement before the current one, then to the start', () => {
    const p = playback();
    const at3 = run(p, { type: 'toggle' }, { type: 'next' }, { type: 'next' }, { type: 'next' });
    let s = playerStep(at3, { type: 'prev' }, p).state;
    expect(s).toEqual({ shown: 2, clockMs: 3000, playing: false });
    s = playerStep(s, { type: 'prev' }, p).state;
    expect(s).toEqual({ shown: 1, clockMs: 1000, playing: false });
    s = playerStep(s, { type: 'prev' }, p).state;
    expect(s).toEqual({ shown: 0, clockMs: 0, playing: false });
    expect(playerStep(s, { type: 'prev' }, p).state).toEqual(s);
    // From the end, ← lands on the last statement's predecessor (the end frame is not a statement).
    const end = run(p, { type: 'tick', elapsedMs: 1e9 }, { type: 'prev' });
    expect(currentStatement(end, p)).toBe(4);
  });

  it('seeking uses the scaled times (speed, skip-idle)', () => {
    const p = createPlayback(timeline(), { speed: 2, skipIdleMs: 5000 });
    expect(run(p, { type: 'next' }, { type: 'next' }, { type: 'next' }, { type: 'next' }, { type: 'next' }).clockMs).toBe(7000);
  });

  it('space at the end plays again from the start', () => {
    const p = playback();
    const s = run(p, { type: 'tick', elapsedMs: 1e9 }, { type: 'toggle' });
    expect(s).toEqual({ shown: 0, clockMs: 0, playing: true });
  });

  it('q asks to quit', () => {
    const p = playback();
    expect(playerStep(initialPlayerState(p), { type: 'quit' }, p).effect).toBe('quit');
  });

  it('maps keys: space, arrows, h/l, q', () => {
    expect(keyAction(' ', {})).toEqual({ type: 'toggle' });
    expect(keyAction('', { rightArrow: true })).toEqual({ type: 'next' });
    expect(keyAction('', { leftArrow: true })).toEqual({ type: 'prev' });
    expect(keyAction('l', {})).toEqual({ type: 'next' });
    expect(keyAction('h', {})).toEqual({ type: 'prev' });
    expect(keyAction('q', {})).toEqual({ type: 'quit' });
    expect(keyAction('x', {})).toBeNull();
  });
});

describe('terminal sessions (the frames a later version records)', () => {
  it('become terminal frames; entered commands are the seek points', () => {
    const t = buildTimeline(undefined, terminalEvents());
    expect(t.frames.map((f) => f.kind)).toEqual(['terminal', 'terminal', 'terminal', 'terminal', 'terminal', 'end']);
    expect(t.frames.filter(isSeekPoint).map((f) => f.offsetMs)).toEqual([1000, 5000]);
    const p = createPlayback(t);
    const s = run(p, { type: 'toggle' }, { type: 'next' });
    expect(s.shown).toBe(2);
    expect(playerStep(s, { type: 'next' }, p).state.shown).toBe(4);
  });

  it('seeking re-renders the screen from the start up to frame k', () => {
    const t = buildTimeline(undefined, terminalEvents());
    expect(screenLines(t, 4).map((l) => l.text)).toEqual(['$ ls', 'README.md  src', '$ ']);
    expect(screenLines(t, 2).map((l) => l.text)).toEqual(['$ ']);
  });
});
