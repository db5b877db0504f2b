import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/events.js';
import { asciicast, formatAsciicast, formatJson, formatText } from '../../src/replay/format.js';
import { createPlayback, currentStep, initialPlayerState, playerStep, type Playback, type PlayerAction, type PlayerState } from '../../src/replay/player-model.js';
import { ScreenRenderer, screenLines } from '../../src/replay/render.js';
import { buildTimeline, recordedEvent, schedule, seekPoints, seekUnit, type Frame, type SourceEvent } from '../../src/replay/timeline.js';
import { T0, gitEvents, parseAsciicast, sshEvents, terminalEvents } from './fixtures.js';

const ssh = (channel?: number) => buildTimeline(undefined, sshEvents(), channel === undefined ? {} : { channel });
const git = () => buildTimeline(undefined, gitEvents());

function only<K extends Frame['kind']>(frames: readonly Frame[], kind: K): Extract<Frame, { kind: K }>[] {
  return frames.filter((f): f is Extract<Frame, { kind: K }> => f.kind === kind);
}

function run(p: Playback, ...actions: PlayerAction[]): PlayerState {
  let s = initialPlayerState(p);
  for (const a of actions) s = playerStep(s, a, p).state;
  return s;
}

describe('the timeline of an SSH session', () => {
  it('has a frame for every channel, command, shell line, request, SFTP operation and the shown terminal', () => {
    const t = ssh();
    expect(t.ssh).toBe(true);
    expect(t.header).toMatchObject({ sessionId: 's_ssh', connection: 'web-prod', connectionType: 'ssh', clientAddress: '10.0.0.5:50022' });
    expect(t.commands).toBe(6);
    expect(t.sftpOperations).toBe(3);
    expect(t.statements).toBe(0);
    expect(only(t.frames, 'ssh.exec').map((f) => [f.number, f.event.command])).toEqual([
      [3, 'cat /etc/hostname'],
      [4, 'systemctl restart nginx'],
      [5, 'systemctl stop postgresql'],
      [6, 'shutdown -h now'],
    ]);
    expect(only(t.frames, 'shell.command').map((f) => [f.number, f.event.command])).toEqual([
      [1, 'ls'],
      [2, 'rm -rf /tmp /cache'],
    ]);
    expect(only(t.frames, 'ssh.request').map((f) => f.event.request)).toEqual(['env', 'direct-tcpip']);
    expect(only(t.frames, 'sftp').map((f) => f.event.op)).toEqual(['write', 'rename', 'remove']);
    expect(only(t.frames, 'ssh.channel').map((f) => [f.event.channel, f.foldedIntoExec])).toEqual([
      [0, false],
      [1, true],
      [2, true],
      [3, true],
      [4, true],
      [5, false],
      [6, false],
    ]);
    const end = t.frames.at(-1)!;
    expect(end).toMatchObject({ kind: 'end', statements: 4, commands: 6, sftpOperations: 3, ssh: true });
    // Frames in time order.
    expect(t.frames.map((f) => f.time)).toEqual([...t.frames.map((f) => f.time)].sort((a, b) => a - b));
  });

  it("shows the first shell's terminal, and lists the session's channels", () => {
    const t = ssh();
    expect(t.terminal).toEqual({ channel: 0, cols: 100, rows: 30, term: 'xterm-256color' });
    expect(t.channels.map((c) => [c.channel, c.kind, c.terminalEvents])).toEqual([
      [0, 'shell', 11],
      [1, 'exec', 0],
      [2, 'exec', 0],
      [3, 'exec', 0],
      [4, 'exec', 0],
      [5, 'shell', 3],
      [6, 'subsystem', 0],
    ]);
    const terminal = only(t.frames, 'terminal');
    expect(terminal.every((f) => f.channel === 0)).toBe(true);
    expect(terminal).toHaveLength(11);
  });

  it('shows another channel when asked, and none for a channel without terminal traffic', () => {
    const five = ssh(5);
    expect(five.terminal).toEqual({ channel: 5, cols: 80, rows: 24, term: 'screen' });
    expect(only(five.frames, 'terminal').map((f) => f.data)).toEqual(['second$ ', 'uptime\r', 'uptime\r\n up 3 days\r\nsecond$ ']);
    // The other frames are the same whichever terminal is shown.
    expect(five.frames.filter((f) => f.kind !== 'terminal').length).toBe(ssh().frames.filter((f) => f.kind !== 'terminal').length);
    const none = ssh(1);
    expect(none.terminal).toBeNull();
    expect(only(none.frames, 'terminal')).toHaveLength(0);
  });

  it('falls back to the first channel with traffic when no shell was recorded, and to 80×24 without a pty', () => {
    const t = buildTimeline(undefined, terminalEvents());
    expect(t.terminal).toEqual({ channel: 0, cols: 80, rows: 24, term: null });
    expect(t.channels).toEqual([{ channel: 0, kind: 'unknown', pty: null, terminalEvents: 5 }]);
  });

  it("joins approvals: a command's own, and a refused one's request and decision by subject and text", () => {
    const [, approved, denied, refused] = only(ssh().frames, 'ssh.exec');
    expect(approved!.approval).toMatchObject({ requestId: 'ar_exec1', status: 'approved', approvedBy: ['bob'], waitedMs: 3999 });
    expect(denied!.approval).toMatchObject({ requestId: 'ar_exec2', status: 'denied', deniedBy: ['carol'], reason: 'not during business hours' });
    expect(refused!.approval).toBeNull();
  });

  it('does not join a SQL request to a command, nor a command request to a statement', () => {
    const base = { sessionId: 's_mix', identity: sshEvents()[0]!.identity, connection: 'web-prod' };
    const review = { action: 'review', rule: 'r', class: 'write' } as const;
    const events: AuditEvent[] = [
      { ...base, type: 'approval.requested', time: T0 + 1, requestId: 'ar_sql', sql: 'reboot', decision: review, approverGroups: [], approvalsNeeded: 1, expiresAt: T0 + 1000 },
      { ...base, type: 'ssh.exec', time: T0, channel: 1, command: 'reboot', decision: review, durationMs: 1, stdout: '', stderr: '', outputTruncated: false, bytesOut: 0, bytesIn: 0 },
    ];
    expect(only(buildTimeline(undefined, events).frames, 'ssh.exec')[0]!.approval).toBeNull();
  });

  it('joins a held shell to its request', () => {
    const base = { sessionId: 's_held', identity: sshEvents()[0]!.identity, connection: 'web-prod' };
    const review = { action: 'review', rule: 'shells-reviewed', class: 'shell' } as const;
    const events: AuditEvent[] = [
      { ...base, type: 'ssh.channel', time: T0, channel: 0, kind: 'shell', decision: review },
      { ...base, type: 'approval.requested', time: T0 + 1, requestId: 'ar_sh', subject: 'ssh.exec', sql: '(interactive shell)', decision: review, approverGroups: [], approvalsNeeded: 1, expiresAt: T0 + 1000 },
      { ...base, type: 'approval.decided', time: T0 + 500, requestId: 'ar_sh', status: 'expired', approvers: [], reason: null, waitedMs: 499, viaWindow: false },
    ];
    const t = buildTimeline(undefined, events);
    expect(only(t.frames, 'ssh.channel')[0]!.approval).toMatchObject({ requestId: 'ar_sh', status: 'expired' });
    expect(formatText(t)).toContain('  approval  expired without a decision (ar_sh, waited 499ms)');
  });

  it('stops → at detected commands on the terminal shown, not at raw Enter keys', () => {
    const t = ssh();
    const stops = seekPoints(t).map((i) => t.frames[i]!);
    expect(stops.map((f) => f.kind)).toEqual(['shell.command', 'shell.command', 'ssh.exec', 'ssh.exec', 'ssh.exec', 'ssh.exec', 'sftp', 'sftp', 'sftp']);
    expect(seekUnit(t)).toBe('step');
    // Channel 5 has no detected lines: its Enter key is the stop there.
    const five = ssh(5);
    expect(seekPoints(five).map((i) => five.frames[i]!.kind)).toContain('terminal');
    expect(seekUnit(buildTimeline(undefined, terminalEvents()))).toBe('command');
  });
});

describe('rendering an SSH session', () => {
  it('draws the terminal as it looked, with each event placed where it happened', () => {
    const text = screenLines(ssh(), ssh().frames.length).map((l) => l.text);
    const at = (needle: string) => {
      const i = text.findIndex((l) => l.startsWith(needle));
      expect(i, needle).toBeGreaterThanOrEqual(0);
      return i;
    };
    // The typo fixed with backspace is drawn fixed; colours are gone.
    expect(text).toContain('web-1$ rm -rf /tmp /cache');
    expect(text.some((l) => l.includes('\u001b'))).toBe(false);
    // A detected command right under the line it was typed on.
    expect(at('── shell #1 ')).toBe(at('web-1$ ls') + 1);
    expect(at('── shell #2 ')).toBe(at('web-1$ rm -rf') + 1);
    // A request refused while the prompt waited comes before what was typed at that prompt.
    expect(at('── ssh request +0:02.000')).toBeLessThan(at('web-1$ rm -rf'));
    expect(at('── ssh request +0:02.000')).toBeGreaterThan(at('README.md  app.log'));
    // Everything else in time order, and the last prompt's `logout` after them.
    const order = ['── exec #3', '── exec #4', '── exec #5', '── exec #6', '── channel 5 ', '── sftp +0:15.100', 'web-1$ logout', '── session ended'].map(at);
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it('prints commands with decision, approval, exit status and output; shell lines as recorded, not enforced', () => {
    const text = formatText(ssh());
    expect(text).toContain('started     2025-01-15 09:30:00Z, ended 2025-01-15 09:30:20Z (client-closed) after 20.0s; 6 command(s), 3 file operation(s)');
    expect(text).toContain('terminal    channel 0 (shell, xterm-256color 100×30); other terminals: channel 5 (--channel N)');
    expect(text).toContain(
      [
        '── exec #3 +0:04.000 · 2025-01-15 09:30:04Z · channel 1',
        'cat /etc/hostname',
        '  decision  allow · rule reads · class read',
        '  outcome   exit 0 · 12.0ms · 6 B out, 0 B in',
        '  stdout    web-1',
      ].join('\n'),
    );
    expect(text).toContain(
      [
        '  approval  approved by bob (ar_exec1, waited 4.0s)',
        '  outcome   exit 1 · 4.2s · 48 B out, 0 B in',
        '  stderr    Job for nginx.service failed.',
        '            See journalctl -xe.',
      ].join('\n'),
    );
    expect(text).toContain('  approval  denied by carol: not during business hours (ar_exec2, waited 2.0s)\n  outcome   not run: refused by hoop');
    expect(text).toContain('  decision  deny · rule no-shutdown · class destructive · shutting hosts down is not allowed\n  outcome   not run: refused by hoop');
    expect(text).toContain('── shell #2 +0:03.011 · channel 0 · rm -rf /tmp /cache · recorded, not enforced (policy: deny · rule no-rm)');
    expect(text).toContain('── ssh request +0:02.000 · direct-tcpip 127.0.0.1:5432 · refused by rule no-forwarding: port forwarding is off');
    expect(text).toContain('── channel 0 +0:00.100 · shell · xterm-256color 100×30 · env LANG · allowed by rule shells');
    expect(text).toContain('── channel 6 +0:15.000 · subsystem sftp · no pty · allowed by rule sftp');
    // An exec channel is told with its command, not twice.
    expect(text).not.toContain('── channel 1 ');
    expect(text).toContain('── sftp +0:15.100 · write /tmp/report.csv · 12.1 KiB · ok');
    expect(text).toContain('── sftp +0:15.200 · rename /tmp/report.csv → /srv/report.csv · ok');
    expect(text).toContain('── sftp +0:15.300 · remove /etc/passwd · permission-denied');
    expect(text).toContain('── session ended +0:20.000 · client-closed · 6 command(s), 3 file operation(s) in 20.0s');
  });

  it("prints the other shell's screen with --channel", () => {
    const text = formatText(ssh(5));
    expect(text).toContain('terminal    channel 5 (shell, screen 80×24); other terminals: channel 0 (--channel N)');
    expect(text).toContain('second$ uptime\n up 3 days\n');
    expect(text).not.toContain('web-1$');
    // The prompt still waiting when the session ended, then the end.
    expect(text.split('\n').slice(-3)).toEqual(['── sftp +0:15.300 · remove /etc/passwd · permission-denied', 'second$ ', '── session ended +0:20.000 · client-closed · 6 command(s), 3 file operation(s) in 20.0s']);
  });

  it('prints pushes with each ref update, its decision and result; fetches with what they asked for', () => {
    const text = formatText(git());
    expect(text).toContain('started     2025-01-15 09:30:00Z, ended 2025-01-15 09:30:10Z (client-closed) after 10.0s; 3 git operation(s)');
    expect(text).toContain(
      [
        '── git fetch +0:01.000 · 2025-01-15 09:30:01Z · acme/api.git · channel 0',
        '  decision  allow · rule fetches · class git-fetch',
        '  wants     2 object(s)',
        '  outcome   exit 0 · 850.0ms · 300 B in, 50.8 KiB out',
      ].join('\n'),
    );
    expect(text).toContain(
      [
        '── git push +0:02.000 · 2025-01-15 09:30:02Z · acme/api.git · channel 1',
        '  decision  review · rule pushes-reviewed · class git-push',
        '  approval  approved by bob (ar_push, waited 5.0s)',
        '  ref       update refs/heads/main 1111111..2222222 · allow · rule pushes-reviewed · ok',
        '  ref       delete refs/heads/old (was 1111111) · deny · rule no-ref-delete · refused by hoop',
        '  outcome   exit 1 · 5.4s · 2.0 KiB in, 120 B out',
        '  message   hoop: refs/heads/old: deleting branches is not allowed',
      ].join('\n'),
    );
    expect(text).toContain(
      [
        '  decision  deny · rule no-infra-push · class git-push · infra is read-only',
        '  ref       create refs/heads/prod → 2222222 · deny · rule no-infra-push · refused',
        '  outcome   not run: refused by hoop',
      ].join('\n'),
    );
    expect(text).toContain('── session ended +0:10.000 · client-closed · 3 git operation(s) in 10.0s');
    const pushes = only(git().frames, 'git');
    expect(pushes.map((f) => f.operation)).toEqual(['fetch', 'push', 'push']);
    expect(pushes[1]!.approval).toMatchObject({ requestId: 'ar_push', status: 'approved' });
  });

  it('shows a full-screen program still running at the end, then the end', () => {
    const base = { sessionId: 's_vim', identity: sshEvents()[0]!.identity, connection: 'web-prod' };
    const events: AuditEvent[] = [
      { ...base, type: 'ssh.channel', time: T0, channel: 0, kind: 'shell', pty: { term: 'xterm', cols: 40, rows: 4 }, decision: { action: 'allow', rule: 'shells', class: 'shell' } },
      { ...base, type: 'terminal.output', time: T0 + 10, channel: 0, data: '$ vim notes\r\n\u001b[?1049h\u001b[H\u001b[2Jline 1\r\nline 2' },
      { ...base, type: 'session.end', time: T0 + 20, durationMs: 20, statements: 0, reason: 'connection-lost' },
    ];
    const text = screenLines(buildTimeline(undefined, events), 3).map((l) => l.text);
    expect(text).toEqual([
      '── channel 0 +0:00.000 · shell · xterm 40×4 · allowed by rule shells',
      '$ vim notes',
      'line 1',
      'line 2',
      '── session ended +0:00.020 · connection-lost · 0 command(s) in 20ms',
    ]);
  });

  it('renders forward incrementally exactly as from the start, and again after going back', () => {
    const t = ssh();
    const renderer = new ScreenRenderer(t);
    for (let k = 0; k <= t.frames.length; k++) expect(renderer.linesAt(k), `frame ${k}`).toEqual(screenLines(t, k));
    expect(renderer.linesAt(3)).toEqual(screenLines(t, 3));
  });
});

describe('--format json for SSH and git sessions', () => {
  it('is every recorded event behind a frame, as recorded, in timeline order', () => {
    const lines = formatJson(ssh())
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEvent);
    const shown = (e: SourceEvent) =>
      !['session.start', 'session.end', 'approval.requested', 'approval.decided'].includes(e.type) && !((e.type === 'terminal.output' || e.type === 'terminal.input') && e.channel !== 0);
    const expected = sshEvents()
      .filter(shown)
      .map((e) => recordedEvent(e))
      .sort((a, b) => a.time - b.time);
    expect(lines).toEqual(expected);
    expect(lines.some((e) => 'seq' in e)).toBe(false);
    expect(new Set(lines.map((e) => e.type))).toEqual(new Set(['ssh.request', 'ssh.channel', 'terminal.output', 'terminal.input', 'shell.command', 'ssh.exec', 'sftp.op']));
  });

  it("holds the other channel's terminal with --channel", () => {
    const types = formatJson(ssh(5))
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEvent)
      .filter((e) => e.type === 'terminal.output' || e.type === 'terminal.input');
    expect(types.map((e) => (e as { channel: number }).channel)).toEqual([5, 5, 5]);
  });

  it('holds git operations with their refs', () => {
    const events = formatJson(git())
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEvent);
    expect(events.map((e) => e.type)).toEqual(['git.fetch', 'git.push', 'git.push']);
    expect(events[1]).toEqual(recordedEvent(gitEvents().find((e) => e.type === 'git.push')!));
  });
});

describe('--format asciicast for a terminal session', () => {
  it('is a valid asciicast v2 file at the pty size: output as "o", keystrokes as "i", commands as markers', () => {
    const { header, events } = parseAsciicast(formatAsciicast(ssh()));
    expect(header).toMatchObject({ version: 2, width: 100, height: 30, timestamp: T0 / 1000, env: { TERM: 'xterm-256color' } });
    expect(header.title).toBe('hoop replay s_ssh: claude-agent on web-prod (channel 0)');
    // Times in seconds from the session start, never going back.
    const times = events.map((e) => e[0]);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(times[0]).toBe(0.2);
    expect(times.at(-1)).toBe(20);
    const output = events.filter((e) => e[1] === 'o');
    // Exactly the recorded bytes, in order: a player draws what the user saw.
    expect(output.map((e) => e[2]).join('')).toBe(
      only(ssh().frames, 'terminal')
        .filter((f) => f.stream === 'output')
        .map((f) => f.data)
        .join(''),
    );
    expect(output[0]).toEqual([0.2, 'o', 'Welcome to web-1\r\n\u001b[1;32mweb-1$\u001b[0m ']);
    expect(events.filter((e) => e[1] === 'i').map((e) => e[2])).toEqual(['l', 's', '\r', 'rm -rf /tmpx\u007f /cache\r']);
    expect(events.filter((e) => e[1] === 'm').map((e) => e[2])).toEqual([
      'shell #1: ls',
      'shell #2: rm -rf /tmp /cache',
      'exec #3: cat /etc/hostname',
      'exec #4: systemctl restart nginx',
      'exec #5: systemctl stop postgresql',
      'exec #6: shutdown -h now',
      'sftp write /tmp/report.csv',
      'sftp rename /tmp/report.csv',
      'sftp remove /etc/passwd',
    ]);
    // Nothing of hoop's own text is written into the terminal stream.
    expect(output.some((e) => e[2].includes('──'))).toBe(false);
  });

  it('uses the chosen channel, and --speed / --skip-idle', () => {
    const t = ssh(5);
    const opts = { speed: 2, skipIdleMs: 100 };
    const { header, events } = asciicast(t, opts);
    expect(header).toMatchObject({ width: 80, height: 24, env: { TERM: 'screen' } });
    const times = schedule(t, opts);
    const expected = t.frames.flatMap((f, i) => (f.kind === 'terminal' ? [Math.round(times[i]!) / 1000] : []));
    expect(events.filter((e) => e[1] !== 'm').map((e) => e[0])).toEqual(expected);
    // Every pause capped at 0.1 s and halved: the 20 s session lasts 0.05 s per frame at most.
    expect(events.at(-1)![0]).toBeLessThanOrEqual(t.frames.length * 0.05);
    expect(events.at(-1)![0]).toBeLessThan(20);
  });

  it('is 80×24 without a recorded pty', () => {
    expect(asciicast(buildTimeline(undefined, terminalEvents())).header).toMatchObject({ width: 80, height: 24, env: { TERM: 'xterm-256color' } });
  });

  it('keeps the text cast for an SSH session without a terminal (git)', () => {
    const { header, events } = parseAsciicast(formatAsciicast(git()));
    expect(events.every((e) => e[1] === 'o')).toBe(true);
    expect(events[0]![2]).toContain('session     s_git');
    expect(events.map((e) => e[2]).join('')).toContain('ref       delete refs/heads/old');
    expect(header.width).toBeGreaterThanOrEqual(80);
  });
});

describe('playing a terminal session', () => {
  it('→ and ← step through the commands; the status counts them', () => {
    const t = ssh();
    const p = createPlayback(t);
    expect(p.unit).toBe('step');
    expect(p.seekPoints).toHaveLength(9);
    let s = run(p, { type: 'toggle' }, { type: 'next' });
    expect(t.frames[s.shown - 1]).toMatchObject({ kind: 'shell.command', number: 1 });
    expect(currentStep(s, p)).toBe(1);
    s = playerStep(s, { type: 'next' }, p).state;
    expect(t.frames[s.shown - 1]).toMatchObject({ kind: 'shell.command', number: 2 });
    expect(screenLines(t, s.shown).map((l) => l.text)).toContain('web-1$ rm -rf /tmp /cache');
    s = playerStep(s, { type: 'prev' }, p).state;
    expect(currentStep(s, p)).toBe(1);
    // Going back re-renders from the start: the second command is gone from the screen.
    expect(screenLines(t, s.shown).map((l) => l.text)).not.toContain('web-1$ rm -rf /tmp /cache');
    expect(s.playing).toBe(false);
  });

  it('plays terminal output with the recorded gaps, scaled by --speed and capped by --skip-idle', () => {
    const t = buildTimeline(undefined, terminalEvents());
    expect(schedule(t)).toEqual([100, 1000, 1010, 5000, 5010, 6000]);
    expect(schedule(t, { speed: 2, skipIdleMs: 500 })).toEqual([50, 300, 305, 555, 560, 810]);
    const p = createPlayback(t, { speed: 2, skipIdleMs: 500 });
    let s = run(p, { type: 'tick', elapsedMs: 300 });
    expect(s.shown).toBe(2);
    expect(screenLines(t, s.shown).map((l) => l.text)).toEqual(['$ ']);
    s = playerStep(s, { type: 'tick', elapsedMs: 5 }, p).state;
    expect(screenLines(t, s.shown).map((l) => l.text)).toEqual(['$ ls', 'README.md  src', '$ ']);
    s = playerStep(s, { type: 'tick', elapsedMs: 1e6 }, p).state;
    expect(s).toEqual({ shown: 6, clockMs: 810, playing: false });
  });
});
