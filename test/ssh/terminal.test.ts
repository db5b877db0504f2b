import { describe, expect, it } from 'vitest';
import { TerminalRecorder } from '../../src/protocols/ssh/terminal.js';

function recorder() {
  const events: { stream: string; data: string }[] = [];
  const lines: string[] = [];
  const t = new TerminalRecorder({
    record: (stream, data) => events.push({ stream, data }),
    mask: (text) => text.replace(/4111-1111-1111-1111/g, '[card]'),
    onLine: (line) => lines.push(line),
    flushMs: 1_000_000,
  });
  return { t, events, lines };
}

describe('terminal recording', () => {
  it('coalesces output, keeps input and output apart in order, and masks what it stores', () => {
    const { t, events } = recorder();
    t.output(Buffer.from('$ '));
    t.output(Buffer.from('card 4111-1111-'));
    t.output(Buffer.from('1111-1111\r\n'));
    t.input(Buffer.from('ls\r'));
    t.output(Buffer.from('a b\r\n'));
    t.close();
    expect(events).toEqual([
      { stream: 'output', data: '$ card [card]\r\n' },
      { stream: 'input', data: 'ls\r' },
      { stream: 'output', data: 'a b\r\n' },
    ]);
  });

  it('does not split a UTF-8 character across events', () => {
    const { t, events } = recorder();
    const euro = Buffer.from('€');
    t.output(euro.subarray(0, 1));
    t.output(euro.subarray(1));
    t.close();
    expect(events.map((e) => e.data).join('')).toBe('€');
  });

  it('records what is typed after a password prompt as stars, and not as a command', () => {
    const { t, events, lines } = recorder();
    t.input(Buffer.from('sudo id\r'));
    t.output(Buffer.from('[sudo] password for alice: '));
    for (const ch of 'hunter2') t.input(Buffer.from(ch));
    t.input(Buffer.from('\r'));
    t.output(Buffer.from('uid=0(root)\r\n'));
    t.input(Buffer.from('whoami\r'));
    t.close();
    const typed = events.filter((e) => e.stream === 'input').map((e) => e.data).join('');
    expect(typed).not.toContain('hunter2');
    expect(typed).toContain('*******\r');
    expect(lines).toEqual(['sudo id', 'whoami']);
  });

  it('follows line editing: backspace, Ctrl-U, Ctrl-W, and skips escape sequences', () => {
    const { t, lines } = recorder();
    t.input(Buffer.from('lss\x7f -l\r'));
    t.input(Buffer.from('rm -rf /\x15echo ok\r'));
    t.input(Buffer.from('cat notes\x17file\r'));
    t.input(Buffer.from('\x1b[Aup\r'));
    t.close();
    expect(lines).toEqual(['ls -l', 'echo ok', 'cat file', 'up']);
  });
});
