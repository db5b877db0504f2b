import { describe, expect, it } from 'vitest';
import { MAX_CSI_LENGTH, MAX_HISTORY_LINES, VirtualTerminal } from '../../src/replay/vt.js';

const ESC = '\u001b';

function screen(data: string, size = { cols: 20, rows: 5 }): VirtualTerminal {
  const vt = new VirtualTerminal(size);
  vt.write(data);
  return vt;
}

const lines = (data: string, size?: { cols: number; rows: number }): string[] => screen(data, size).mainLines();

/** What a bash session with readline and a coloured prompt writes: every split of it must draw the same. */
const SESSION = [
  `${ESC}]0;user@web-1: ~${ESC}\\`, // window title (OSC … ST)
  `${ESC}[1;32mweb-1$${ESC}[0m `,
  'lx',
  '\b\u001b[K', // backspace, erase to the end of the line
  's -l',
  '\r\n',
  'total 8\r\n-rw-r--r-- 1 u u 42 README.md\r\n',
  `${ESC}]0;user@web-1: ~\u0007`, // window title (OSC … BEL)
  `${ESC}[1;32mweb-1$${ESC}[0m `,
  'caf\u00e9 e\u0301', // precomposed é, then e + combining acute
].join('');

describe('the virtual terminal', () => {
  it('draws text, line ends, colours dropped, the prompt line kept with its trailing space', () => {
    expect(lines(`${ESC}[32m$${ESC}[0m ls\r\nREADME.md  src\r\n$ `)).toEqual(['$ ls', 'README.md  src', '$ ']);
  });

  it('applies line editing: backspace and erase, carriage return overwrite, insert and delete characters', () => {
    expect(lines('rm -rf /tmpx\b\u001b[K /cache')).toEqual(['rm -rf /tmp /cache']);
    expect(lines('loading... 10%\rloading... 100%')).toEqual(['loading... 100%']);
    expect(lines(`abcdef\r${ESC}[2C${ESC}[2P`)).toEqual(['abef']);
    expect(lines(`abef\r${ESC}[2C${ESC}[2@cd`)).toEqual(['abcdef']);
    expect(lines(`abcdef\r${ESC}[3X`)).toEqual(['   def']);
    expect(lines(`abcdef${ESC}[3D${ESC}[1K`)).toEqual(['    ef']);
    expect(lines(`abcdef${ESC}[2K`)).toEqual([]);
  });

  it('wraps at the terminal width, only when the next character comes (pending wrap)', () => {
    expect(lines('0123456789ABC', { cols: 10, rows: 5 })).toEqual(['0123456789', 'ABC']);
    // Exactly full, then CR LF: no blank line in between.
    expect(lines('0123456789\r\nnext', { cols: 10, rows: 5 })).toEqual(['0123456789', 'next']);
  });

  it('keeps what scrolls off the top, and `clear` starts a fresh screen below it', () => {
    const vt = screen(['one', 'two', 'three', 'four', 'five', 'six', 'seven'].join('\r\n'), { cols: 20, rows: 3 });
    expect(vt.mainLines()).toEqual(['one', 'two', 'three', 'four', 'five', 'six', 'seven']);
    vt.write(`${ESC}[H${ESC}[2J$ top`);
    expect(vt.mainLines()).toEqual(['one', 'two', 'three', 'four', 'five', 'six', 'seven', '$ top']);
    // Cursor addressing is relative to the new screen.
    vt.write(`${ESC}[3;1Hbottom${ESC}[1;3HTOP`);
    expect(vt.mainLines()).toEqual(['one', 'two', 'three', 'four', 'five', 'six', 'seven', '$ TOP', '', 'bottom']);
  });

  it('shows a full-screen program on the alternate screen and drops it when the program leaves', () => {
    const vt = screen(`$ vim notes${ESC}[?1049h${ESC}[H${ESC}[2Jline 1\r\nline 2${ESC}[5;1H"notes" 2L`, { cols: 20, rows: 5 });
    expect(vt.inAlternateScreen).toBe(true);
    expect(vt.alternateLines()).toEqual(['line 1', 'line 2', '', '', '"notes" 2L']);
    expect(vt.mainLines()).toEqual(['$ vim notes']);
    vt.write(`${ESC}[?1049l\r\n$ `);
    expect(vt.inAlternateScreen).toBe(false);
    expect(vt.alternateLines()).toBeNull();
    expect(vt.mainLines()).toEqual(['$ vim notes', '$ ']);
  });

  it('scrolls only inside a scroll region, and inserts and deletes lines there', () => {
    const vt = screen(`${ESC}[2;4r${ESC}[1;1Hheader${ESC}[2;1Ha\r\nb\r\nc\r\nd${ESC}[5;1Hfooter`, { cols: 20, rows: 5 });
    expect(vt.mainLines()).toEqual(['header', 'b', 'c', 'd', 'footer']);
    vt.write(`${ESC}[2;1H${ESC}[L`);
    expect(vt.mainLines()).toEqual(['header', '', 'b', 'c', 'footer']);
    vt.write(`${ESC}[M${ESC}[M`);
    expect(vt.mainLines()).toEqual(['header', 'c', '', '', 'footer']);
  });

  it('keeps combining marks with their character', () => {
    expect(lines('caf\u00e9 e\u0301!')).toEqual(['caf\u00e9 e\u0301!']);
  });

  it('draws the same screen however the output is split into chunks', () => {
    const size = { cols: 40, rows: 5 };
    const whole = screen(SESSION, size).mainLines();
    expect(whole).toEqual(['web-1$ ls -l', 'total 8', '-rw-r--r-- 1 u u 42 README.md', 'web-1$ caf\u00e9 e\u0301']);
    const chars = [...SESSION];
    for (let cut = 1; cut < chars.length; cut++) {
      const vt = new VirtualTerminal(size);
      vt.write(chars.slice(0, cut).join(''));
      vt.write(chars.slice(cut).join(''));
      expect(vt.mainLines(), `split at ${cut}`).toEqual(whole);
    }
    // And one character at a time.
    const vt = new VirtualTerminal(size);
    for (const ch of chars) vt.write(ch);
    expect(vt.mainLines()).toEqual(whole);
  });

  it('skips an over-long control sequence instead of applying it, and never allocates from a huge count', () => {
    const long = `${ESC}[${'1;'.repeat(MAX_CSI_LENGTH)}2J`;
    expect(lines(`keep${long}!`)).toEqual(['keep!']);
    const vt = screen(`${ESC}[99999999Lx${ESC}[99999999;99999999Hy`, { cols: 10, rows: 3 });
    expect(vt.mainLines()).toEqual(['x', '', '         y']);
  });

  it('skips OSC, DCS and unknown escapes without drawing them', () => {
    expect(lines(`a${ESC}]8;;http://x\u0007b${ESC}]8;;\u0007${ESC}Pq#0;2;0;0;0${ESC}\\c${ESC}(Bd${ESC}=e`)).toEqual(['abcde']);
  });

  it('bounds its history: the oldest lines are dropped and counted', () => {
    const vt = new VirtualTerminal({ cols: 10, rows: 4 });
    const total = MAX_HISTORY_LINES + 100;
    vt.write(Array.from({ length: total }, (_, i) => String(i)).join('\r\n'));
    expect(vt.droppedLines).toBeGreaterThan(0);
    const kept = vt.mainLines();
    expect(kept.length + vt.droppedLines).toBe(total);
    expect(kept.at(-1)).toBe(String(total - 1));
    expect(kept[0]).toBe(String(vt.droppedLines));
  });

  it('says where a note goes: below a typed line, above a waiting prompt', () => {
    const vt = screen('out\r\n$ ls');
    expect(vt.notePosition(true)).toBe(2);
    expect(vt.notePosition(false)).toBe(1);
    vt.write('\r\n');
    expect(vt.notePosition(true)).toBe(2);
  });

  it('refuses a size that is not positive', () => {
    expect(() => new VirtualTerminal({ cols: 0, rows: 24 })).toThrow(RangeError);
  });
});
