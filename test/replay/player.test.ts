import { Console as NodeConsole } from 'node:console';
import { EventEmitter } from 'node:events';
import { cleanup, render } from 'ink-testing-library';
import { createElement } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import { createPlayback } from '../../src/replay/player-model.js';
import { type Clock, Player, runReplayPlayer } from '../../src/replay/player.js';
import { buildTimeline } from '../../src/replay/timeline.js';
import { SESSION, sessionEvents, sshEvents, terminalEvents } from './fixtures.js';
import { FakeScreen, FakeTty } from '../support/fake-terminal.js';

// Rendered through createElement: vitest.config.ts collects `*.test.ts` files only.

const RIGHT = '\u001B[C';
const LEFT = '\u001B[D';
/** ink-testing-library's stdin reaches React asynchronously: let each key land. */
const tick = (ms = 30) => new Promise((r) => setTimeout(r, ms));

/** Time moves only when the test says so. */
class FakeClock implements Clock {
  private t = 0;
  readonly timers = new Set<() => void>();
  now = () => this.t;
  every = (_ms: number, fn: () => void) => {
    this.timers.add(fn);
    return () => void this.timers.delete(fn);
  };
  /** Moves time on and fires the player's timer once, as a real interval would. */
  advance(ms: number): void {
    this.t += ms;
    for (const fn of this.timers) fn();
  }
}

function setup(opts: { speed?: number; skipIdleMs?: number; timeline?: ReturnType<typeof buildTimeline>; rows?: number } = {}) {
  const clock = new FakeClock();
  const playback = createPlayback(opts.timeline ?? buildTimeline(SESSION, sessionEvents()), opts);
  const ui = render(createElement(Player, { playback, clock, rows: opts.rows ?? 60, columns: 100 }));
  const frame = () => ui.lastFrame() ?? '';
  const press = async (...keys: string[]) => {
    for (const k of keys) {
      ui.stdin.write(k);
      await tick();
    }
  };
  const advance = async (ms: number) => {
    clock.advance(ms);
    await tick();
  };
  return { clock, ui, frame, press, advance };
}

afterEach(() => cleanup());

describe('the replay player', () => {
  it('shows the header at once, then each statement when its time comes', async () => {
    const { frame, advance } = setup();
    await tick();
    expect(frame()).toContain('session     s_replay');
    expect(frame()).toContain('identity    claude-agent (service-account; groups: engineers, oncall)');
    expect(frame()).toContain('agent       model=claude, task=TICKET-42');
    expect(frame()).toContain('▶ playing');
    expect(frame()).toContain('statement 0/5');
    expect(frame()).not.toContain('#1');
    await advance(1000);
    expect(frame()).toContain('── #1 +0:01.000');
    expect(frame()).toContain('select id, email from customers limit 2');
    expect(frame()).toContain('a***@example.com');
    expect(frame()).toContain('statement 1/5');
    expect(frame()).not.toContain('#2');
  });

  it('space pauses: time passing shows nothing new; space again resumes', async () => {
    const { frame, press, advance } = setup();
    await advance(1000);
    await press(' ');
    expect(frame()).toContain('❚❚ paused');
    await advance(60_000);
    expect(frame()).not.toContain('#2');
    await press(' ');
    expect(frame()).toContain('▶ playing');
    await advance(2000);
    expect(frame()).toContain('── #2 +0:03.000');
    expect(frame()).toContain('approved by bob');
  });

  it('→ shows the next statement at once, ← goes back to the previous one', async () => {
    const { frame, press } = setup();
    await tick();
    await press(' ', RIGHT);
    expect(frame()).toContain('── #1');
    expect(frame()).toContain('statement 1/5');
    await press(RIGHT, RIGHT);
    expect(frame()).toContain('── #3');
    expect(frame()).toContain('ERROR 42501: hoop: denied by rule no-ddl');
    expect(frame()).toContain('statement 3/5');
    expect(frame()).toContain('❚❚ paused');
    await press(LEFT);
    expect(frame()).toContain('statement 2/5');
    expect(frame()).toContain('── #2');
    expect(frame()).not.toContain('── #3');
    await press(LEFT, LEFT);
    expect(frame()).toContain('statement 0/5');
    expect(frame()).not.toContain('── #1');
  });

  it('→ past the last statement shows the end of the session', async () => {
    const { frame, press } = setup();
    await tick();
    await press(RIGHT, RIGHT, RIGHT, RIGHT, RIGHT, RIGHT);
    expect(frame()).toContain('── session ended +10:36.000 · client-closed');
    expect(frame()).toContain('■ end of session');
    expect(frame()).toContain('statement 5/5');
  });

  it('keeps the latest lines on a small screen, under the fixed header', async () => {
    const clock = new FakeClock();
    const playback = createPlayback(buildTimeline(SESSION, sessionEvents()));
    const ui = render(createElement(Player, { playback, clock, rows: 20, columns: 100 }));
    await tick();
    for (let i = 0; i < 6; i++) ui.stdin.write(RIGHT);
    await tick(60);
    const f = ui.lastFrame() ?? '';
    expect(f).toContain('session     s_replay');
    expect(f).toContain('── session ended');
    expect(f).not.toContain('── #1');
    expect(f.split('\n').length).toBeLessThanOrEqual(20);
  });

  it('shows the speed', async () => {
    const { frame } = setup({ speed: 4 });
    await tick();
    expect(frame()).toContain('4x');
  });

  it('q quits: the player unmounts and stops its timer', async () => {
    const { clock, press } = setup();
    await tick();
    expect(clock.timers.size).toBe(1);
    await press('q');
    expect(clock.timers.size).toBe(0);
  });
});

describe('the replay player on an SSH session', () => {
  it('draws the terminal as it goes, with the events of the session between its lines', async () => {
    const { frame, advance } = setup({ timeline: buildTimeline(undefined, sshEvents()) });
    await tick();
    expect(frame()).toContain('terminal    channel 0 (shell, xterm-256color 100×30); other terminals: channel 5');
    expect(frame()).toContain('step 0/9');
    await advance(250);
    expect(frame()).toContain('── channel 0 +0:00.100 · shell');
    // The coloured prompt, drawn without its colour codes (the renderer trims its trailing space).
    expect(frame()).toMatch(/^web-1\$$/m);
    expect(frame()).not.toContain('[1;32m');
    expect(frame()).not.toContain('web-1$ ls');
    await advance(1000);
    expect(frame()).toContain('web-1$ ls');
    expect(frame()).toContain('── shell #1 +0:01.201 · channel 0 · ls · recorded, not enforced');
    expect(frame()).toContain('README.md  app.log');
    expect(frame()).toContain('step 1/9');
  });

  it('→ jumps to the next command and ← back, redrawing the terminal up to there', async () => {
    const { frame, press } = setup({ timeline: buildTimeline(undefined, sshEvents()) });
    await tick();
    await press(' ', RIGHT, RIGHT);
    expect(frame()).toContain('web-1$ rm -rf /tmp /cache');
    expect(frame()).toContain('── shell #2 ');
    expect(frame()).toContain('step 2/9');
    expect(frame()).toContain('→ next step');
    await press(RIGHT);
    expect(frame()).toContain('── exec #3 ');
    expect(frame()).toContain('  stdout    web-1');
    await press(LEFT, LEFT);
    expect(frame()).toContain('step 1/9');
    expect(frame()).toContain('web-1$ ls');
    expect(frame()).not.toContain('rm -rf');
    expect(frame()).not.toContain('── exec #3 ');
  });

  it('plays at --speed with --skip-idle: the long pauses of a terminal session shrink', async () => {
    const { frame, advance } = setup({ timeline: buildTimeline(undefined, terminalEvents()), speed: 2, skipIdleMs: 500 });
    await tick();
    expect(frame()).toContain('2x');
    expect(frame()).toContain('command 0/2');
    // 4 s of typing pause is capped at 0.5 s and halved: the second command is on screen 0.56 s in.
    await advance(560);
    expect(frame()).toContain('whoami');
    expect(frame()).toContain('root');
    expect(frame()).toContain('command 2/2');
    await advance(300);
    expect(frame()).toContain('■ end of session');
    expect(frame()).toContain('── session ended +0:06.000 · client-closed · 0 command(s)');
  });

  it('keeps the bottom of the terminal on a small screen', async () => {
    const { frame, ui } = setup({ timeline: buildTimeline(undefined, sshEvents()), rows: 16 });
    await tick();
    for (let i = 0; i < 20; i++) ui.stdin.write(RIGHT);
    await tick(60);
    expect(frame()).toContain('session     s_ssh');
    expect(frame()).toContain('── session ended');
    expect(frame()).not.toContain('Welcome to web-1');
    expect(frame().split('\n').length).toBeLessThanOrEqual(16);
  });
});

describe('runReplayPlayer', () => {
  it('plays in a terminal and resolves 0 on q', async () => {
    if (!('Console' in console)) Object.assign(console, { Console: NodeConsole });
    const stdin = new FakeTty();
    const stdout = new FakeScreen();
    const code = runReplayPlayer(createPlayback(buildTimeline(SESSION, sessionEvents())), { stdin: stdin as unknown as NodeJS.ReadStream, stdout: stdout as unknown as NodeJS.WriteStream });
    await tick(100);
    stdin.type('q');
    expect(await code).toBe(0);
    expect(stdout.output).toContain('s_replay');
  });

  it('refuses to play without a terminal', async () => {
    const stdin = Object.assign(new EventEmitter(), { isTTY: false });
    await expect(runReplayPlayer(createPlayback(buildTimeline(SESSION, sessionEvents())), { stdin: stdin as unknown as NodeJS.ReadStream })).rejects.toThrow(/interactive terminal/);
  });
});
