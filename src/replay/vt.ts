/**
 * A small virtual terminal for replaying recorded SSH output: enough of VT100/xterm to turn what a
 * shell (and readline, `clear`, `less`, `vim`) writes into the text a person saw. Colours and other
 * attributes are dropped; wide (CJK) characters count as one column.
 *
 * Unlike a real terminal it keeps what scrolled off the top, and `clear` starts a fresh screen
 * below the old content instead of wiping it: a replay is a record, so nothing shown is lost. The
 * alternate screen (full-screen programs) is a separate fixed-size buffer, discarded when the
 * program leaves it, as a terminal does.
 *
 * Output arrives in arbitrary chunks, so the parser keeps its state between `write` calls: an
 * escape sequence split across two chunks is the same as one in a single chunk.
 */

export interface TerminalSize {
  readonly cols: number;
  readonly rows: number;
}

/** Lines kept above the screen; older ones are dropped (and counted) so a huge session stays bounded. */
export const MAX_HISTORY_LINES = 50_000;
/** A control sequence with more parameter bytes than this is malformed: it is skipped, not applied. */
export const MAX_CSI_LENGTH = 64;
/** Cursor movement and repeat counts are capped, so `ESC[99999999L` cannot allocate a huge screen. */
const MAX_COUNT = 10_000;

type State = 'ground' | 'escape' | 'charset' | 'csi' | 'osc' | 'osc-esc' | 'string' | 'string-esc';

class ScreenBuffer {
  /** Rows of cells, each cell one character (plus any combining marks). */
  lines: string[][] = [];
  /** Index in `lines` of the screen's first row. */
  top = 0;
  row = 0;
  /** 0..cols; `cols` means "pending wrap": the next character goes to the next line. */
  col = 0;
  scrollTop = 0;
  scrollBottom: number;
  saved: { row: number; col: number } = { row: 0, col: 0 };

  constructor(
    readonly size: TerminalSize,
    /** The main buffer keeps what scrolls off; the alternate buffer is exactly one screen. */
    readonly keepsHistory: boolean,
  ) {
    this.scrollBottom = size.rows - 1;
    if (!keepsHistory) for (let i = 0; i < size.rows; i++) this.lines.push([]);
  }

  line(row: number): string[] {
    const i = this.top + row;
    while (this.lines.length <= i) this.lines.push([]);
    return this.lines[i]!;
  }

  setLine(row: number, cells: string[]): void {
    this.line(row);
    this.lines[this.top + row] = cells;
  }

  /** Moves rows [from, to] of the screen up by n, blank rows entering at the bottom. */
  scrollUp(from: number, to: number, n: number): void {
    n = Math.min(n, to - from + 1);
    if (this.keepsHistory && from === 0 && to === this.size.rows - 1) {
      // The whole screen scrolls: the top rows become history.
      this.line(to);
      this.top += n;
      this.line(to);
      return;
    }
    this.line(to);
    this.lines.splice(this.top + from, n);
    this.lines.splice(this.top + to - n + 1, 0, ...Array.from({ length: n }, () => []));
  }

  /** Moves rows [from, to] of the screen down by n, blank rows entering at the top. */
  scrollDown(from: number, to: number, n: number): void {
    n = Math.min(n, to - from + 1);
    this.line(to);
    this.lines.splice(this.top + to - n + 1, n);
    this.lines.splice(this.top + from, 0, ...Array.from({ length: n }, () => []));
  }
}

export class VirtualTerminal {
  private readonly main: ScreenBuffer;
  private alt: ScreenBuffer | null = null;
  private state: State = 'ground';
  private csi = '';
  private csiTooLong = false;
  /** Lines dropped from the top of the history (see MAX_HISTORY_LINES). */
  private dropped = 0;

  constructor(readonly size: TerminalSize) {
    if (!(size.cols > 0 && size.rows > 0)) throw new RangeError(`terminal size must be positive, not ${size.cols}x${size.rows}`);
    this.main = new ScreenBuffer(size, true);
  }

  private get buf(): ScreenBuffer {
    return this.alt ?? this.main;
  }

  get inAlternateScreen(): boolean {
    return this.alt !== null;
  }

  /** Lines of history dropped to stay within MAX_HISTORY_LINES. */
  get droppedLines(): number {
    return this.dropped;
  }

  write(data: string): void {
    for (const ch of data) this.feed(ch);
    this.trimHistory();
  }

  /** The main buffer's text: history and screen, trailing empty lines left out. */
  mainLines(): string[] {
    const lines = this.main.lines.map((cells) => cells.join(''));
    while (lines.length > 0 && lines.at(-1) === '') lines.pop();
    return lines;
  }

  /** The alternate screen's rows while a full-screen program shows it, trailing empty rows left out; else null. */
  alternateLines(): string[] | null {
    if (!this.alt) return null;
    const lines = this.alt.lines.map((cells) => cells.join(''));
    while (lines.length > 0 && lines.at(-1) === '') lines.pop();
    return lines;
  }

  /**
   * Where a note about something that happened now belongs among `mainLines()` (counting dropped
   * lines, so the position stays right as history is trimmed). A line being typed (`after`) gets
   * its note below it once it holds text; anything else goes above the cursor's line, which may
   * still be drawn (a prompt waiting for input), so what is typed there later comes after the note.
   */
  notePosition(after: boolean): number {
    const b = this.main;
    const index = b.top + b.row;
    const hasText = (b.lines[index]?.length ?? 0) > 0;
    return this.dropped + index + (after && hasText ? 1 : 0);
  }

  private feed(ch: string): void {
    const code = ch.codePointAt(0)!;
    switch (this.state) {
      case 'ground':
        if (code === 0x1b) this.state = 'escape';
        else if (code < 0x20 || code === 0x7f) this.control(code);
        else if (code >= 0x80 && code < 0xa0) return; // C1 controls are not used in UTF-8 streams
        else this.print(ch);
        return;
      case 'escape':
        this.escape(ch, code);
        return;
      case 'charset':
        // ESC ( B and the like: the designated character set is ignored.
        this.state = 'ground';
        return;
      case 'csi':
        if (code === 0x1b) {
          this.state = 'escape';
          return;
        }
        if (code === 0x18 || code === 0x1a) {
          this.state = 'ground';
          return;
        }
        if (code < 0x20) {
          // C0 controls inside a sequence act at once (VT100 behaviour).
          this.control(code);
          return;
        }
        if (code >= 0x40 && code <= 0x7e) {
          this.state = 'ground';
          if (!this.csiTooLong) this.dispatchCsi(this.csi, ch);
          return;
        }
        if (this.csi.length >= MAX_CSI_LENGTH) this.csiTooLong = true;
        else this.csi += ch;
        return;
      case 'osc':
        if (code === 0x07) this.state = 'ground';
        else if (code === 0x1b) this.state = 'osc-esc';
        return;
      case 'osc-esc':
        // ESC \ ends it; any other ESC x also ends it and starts over as an escape.
        this.state = 'ground';
        if (ch !== '\\') this.escape(ch, code);
        return;
      case 'string':
        if (code === 0x1b) this.state = 'string-esc';
        return;
      case 'string-esc':
        this.state = ch === '\\' ? 'ground' : 'string';
        return;
    }
  }

  private escape(ch: string, code: number): void {
    this.state = 'ground';
    switch (ch) {
      case '[':
        this.state = 'csi';
        this.csi = '';
        this.csiTooLong = false;
        return;
      case ']':
        this.state = 'osc';
        return;
      case 'P':
      case 'X':
      case '^':
      case '_':
        this.state = 'string'; // DCS, SOS, PM, APC: skipped up to ST
        return;
      case '(':
      case ')':
      case '*':
      case '+':
      case '-':
      case '.':
      case '/':
      case '#':
      case '%':
        this.state = 'charset';
        return;
      case '7':
        this.saveCursor();
        return;
      case '8':
        this.restoreCursor();
        return;
      case 'D':
        this.lineFeed();
        return;
      case 'E':
        this.buf.col = 0;
        this.lineFeed();
        return;
      case 'M':
        this.reverseIndex();
        return;
      case 'c':
        this.reset();
        return;
      default:
        if (code === 0x1b) this.state = 'escape';
        return; // ESC = / ESC > (keypad modes) and unknown escapes do not change the text
    }
  }

  private control(code: number): void {
    const b = this.buf;
    switch (code) {
      case 0x08: // BS
        b.col = Math.max(0, Math.min(b.col, this.size.cols - 1) - 1);
        return;
      case 0x09: // HT: next tab stop, every 8 columns
        b.col = Math.min(this.size.cols - 1, (Math.floor(Math.min(b.col, this.size.cols - 1) / 8) + 1) * 8);
        return;
      case 0x0a:
      case 0x0b:
      case 0x0c:
        this.lineFeed();
        return;
      case 0x0d:
        b.col = 0;
        return;
      default:
        return; // BEL, SO/SI, NUL…
    }
  }

  private print(ch: string): void {
    const b = this.buf;
    if (ch.codePointAt(0)! >= 0x300 && /^\p{M}$/u.test(ch)) {
      // A combining mark joins the character before it.
      const line = b.line(b.row);
      const at = Math.min(b.col, this.size.cols) - 1;
      if (at >= 0 && line[at] !== undefined) line[at] += ch;
      return;
    }
    if (b.col >= this.size.cols) {
      b.col = 0;
      this.lineFeed();
    }
    const line = b.line(b.row);
    while (line.length < b.col) line.push(' ');
    line[b.col] = ch;
    b.col++;
  }

  private lineFeed(): void {
    const b = this.buf;
    if (b.row === b.scrollBottom) b.scrollUp(b.scrollTop, b.scrollBottom, 1);
    else if (b.row < this.size.rows - 1) b.row++;
  }

  private reverseIndex(): void {
    const b = this.buf;
    if (b.row === b.scrollTop) b.scrollDown(b.scrollTop, b.scrollBottom, 1);
    else if (b.row > 0) b.row--;
  }

  private saveCursor(): void {
    const b = this.buf;
    b.saved = { row: b.row, col: Math.min(b.col, this.size.cols - 1) };
  }

  private restoreCursor(): void {
    const b = this.buf;
    b.row = Math.min(b.saved.row, this.size.rows - 1);
    b.col = Math.min(b.saved.col, this.size.cols - 1);
  }

  private reset(): void {
    this.alt = null;
    this.clearScreen();
    const b = this.main;
    b.row = 0;
    b.col = 0;
    b.scrollTop = 0;
    b.scrollBottom = this.size.rows - 1;
  }

  /** ED 2 on the main buffer: the screen starts afresh below what was shown, which stays as history. */
  private clearScreen(): void {
    const b = this.buf;
    if (!b.keepsHistory) {
      for (let r = 0; r < this.size.rows; r++) b.setLine(r, []);
      return;
    }
    let end = b.lines.length;
    while (end > 0 && b.lines[end - 1]!.length === 0) end--;
    b.lines.length = end;
    b.top = Math.max(b.top, end);
  }

  private trimHistory(): void {
    const excess = this.main.top - MAX_HISTORY_LINES;
    if (excess <= 0) return;
    this.main.lines.splice(0, excess);
    this.main.top -= excess;
    this.dropped += excess;
  }

  private dispatchCsi(body: string, final: string): void {
    // Layout: CSI [private marker <=>?] [params 0-9 ;:] [intermediates SP-/] final @-~
    const m = /^([<=>?]?)([0-9;:]*)([ -/]*)$/.exec(body);
    if (!m) return; // malformed: skipped
    const [, marker, paramText, intermediates] = m as unknown as [string, string, string, string];
    if (intermediates !== '') return; // e.g. DECSCUSR (cursor style): no effect on the text
    const params = paramText === '' ? [] : paramText.split(';').map((p) => (p === '' ? 0 : Math.min(MAX_COUNT, Number.parseInt(p.split(':')[0]!, 10) || 0)));
    const p = (i: number, fallback: number): number => (params[i] === undefined || params[i] === 0 ? fallback : params[i]!);
    const n = p(0, 1);
    const b = this.buf;
    const { cols, rows } = this.size;
    const clampRow = (r: number): number => Math.max(0, Math.min(rows - 1, r));
    const clampCol = (c: number): number => Math.max(0, Math.min(cols - 1, c));
    if (marker === '?') {
      if (final === 'h' || final === 'l') for (const mode of params) this.privateMode(mode, final === 'h');
      return;
    }
    if (marker !== '') return;
    switch (final) {
      case 'A':
        b.row = Math.max(b.row >= b.scrollTop ? b.scrollTop : 0, b.row - n);
        b.col = Math.min(b.col, cols - 1);
        return;
      case 'B':
      case 'e':
        b.row = Math.min(b.row <= b.scrollBottom ? b.scrollBottom : rows - 1, b.row + n);
        b.col = Math.min(b.col, cols - 1);
        return;
      case 'C':
      case 'a':
        b.col = clampCol(Math.min(b.col, cols - 1) + n);
        return;
      case 'D':
        b.col = clampCol(Math.min(b.col, cols - 1) - n);
        return;
      case 'E':
        b.row = clampRow(b.row + n);
        b.col = 0;
        return;
      case 'F':
        b.row = clampRow(b.row - n);
        b.col = 0;
        return;
      case 'G':
      case '`':
        b.col = clampCol(n - 1);
        return;
      case 'd':
        b.row = clampRow(n - 1);
        b.col = Math.min(b.col, cols - 1);
        return;
      case 'H':
      case 'f':
        b.row = clampRow(p(0, 1) - 1);
        b.col = clampCol(p(1, 1) - 1);
        return;
      case 'J':
        this.eraseDisplay(params[0] ?? 0);
        return;
      case 'K':
        this.eraseLine(params[0] ?? 0);
        return;
      case '@': {
        const line = b.line(b.row);
        const at = Math.min(b.col, cols - 1);
        if (at < line.length) {
          line.splice(at, 0, ...Array.from({ length: Math.min(n, cols) }, () => ' '));
          line.length = Math.min(line.length, cols);
        }
        return;
      }
      case 'P': {
        const line = b.line(b.row);
        line.splice(Math.min(b.col, cols - 1), n);
        return;
      }
      case 'X': {
        const line = b.line(b.row);
        const at = Math.min(b.col, cols - 1);
        for (let i = at; i < Math.min(line.length, at + n); i++) line[i] = ' ';
        return;
      }
      case 'L':
        if (b.row >= b.scrollTop && b.row <= b.scrollBottom) b.scrollDown(b.row, b.scrollBottom, n);
        return;
      case 'M':
        if (b.row >= b.scrollTop && b.row <= b.scrollBottom) b.scrollUp(b.row, b.scrollBottom, n);
        return;
      case 'S':
        b.scrollUp(b.scrollTop, b.scrollBottom, n);
        return;
      case 'T':
        b.scrollDown(b.scrollTop, b.scrollBottom, n);
        return;
      case 'r': {
        const top = p(0, 1) - 1;
        const bottom = p(1, rows) - 1;
        if (top < bottom && bottom < rows) {
          b.scrollTop = top;
          b.scrollBottom = bottom;
        } else {
          b.scrollTop = 0;
          b.scrollBottom = rows - 1;
        }
        b.row = 0;
        b.col = 0;
        return;
      }
      case 's':
        this.saveCursor();
        return;
      case 'u':
        this.restoreCursor();
        return;
      default:
        return; // SGR (m), device status reports, modes…: no effect on the text
    }
  }

  private privateMode(mode: number, on: boolean): void {
    if (mode !== 1049 && mode !== 1047 && mode !== 47) return;
    if (on && !this.alt) {
      if (mode === 1049) this.saveCursor();
      this.alt = new ScreenBuffer(this.size, false);
    } else if (!on && this.alt) {
      this.alt = null;
      if (mode === 1049) this.restoreCursor();
    }
  }

  private eraseDisplay(how: number): void {
    const b = this.buf;
    const { rows, cols } = this.size;
    switch (how) {
      case 0: {
        b.line(b.row).length = Math.min(b.line(b.row).length, Math.min(b.col, cols));
        for (let r = b.row + 1; r < rows; r++) if (b.top + r < b.lines.length) b.setLine(r, []);
        return;
      }
      case 1: {
        for (let r = 0; r < b.row; r++) b.setLine(r, []);
        const line = b.line(b.row);
        for (let c = 0; c <= Math.min(b.col, cols - 1) && c < line.length; c++) line[c] = ' ';
        return;
      }
      case 2:
        this.clearScreen();
        return;
      default:
        return; // 3: erase the scrollback, which a replay keeps on purpose
    }
  }

  private eraseLine(how: number): void {
    const b = this.buf;
    const line = b.line(b.row);
    const at = Math.min(b.col, this.size.cols);
    if (how === 0) line.length = Math.min(line.length, at);
    else if (how === 1) for (let c = 0; c <= Math.min(at, this.size.cols - 1) && c < line.length; c++) line[c] = ' ';
    else if (how === 2) line.length = 0;
  }
}
