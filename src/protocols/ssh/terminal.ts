import { StringDecoder } from 'node:string_decoder';

/** How long output may wait to be coalesced with what follows it into one recorded event. */
export const TERMINAL_FLUSH_MS = 50;
/** Largest text one terminal event holds; more is split. */
export const TERMINAL_MAX_EVENT_CHARS = 32 * 1024;
/** Output kept to recognise a password prompt before input arrives. */
const PROMPT_TAIL_CHARS = 256;
/** Longest typed line tracked for command detection; a longer one is recorded truncated. */
const MAX_LINE_CHARS = 4096;

/** `Password:`, `[sudo] password for alice:`, `Enter passphrase for key …:`, `PIN:`… at the end of the output. */
const SECRET_PROMPT = /(password|passphrase|passcode|\bpin\b|secret|token)[^\n]{0,80}[:?]\s*$/i;
/** CSI and OSC escape sequences, and single-character escapes: not part of what a prompt says. */
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-_]/g;

export interface TerminalRecorderOptions {
  /** Stores one coalesced piece of terminal traffic (already masked). */
  readonly record: (stream: 'output' | 'input', data: string, time: number) => void;
  /** Masks text before it is recorded. */
  readonly mask: (text: string) => string;
  /** A line typed and submitted with Enter (best effort: editing keys are applied, history and completion are not). */
  readonly onLine?: (line: string) => void;
  readonly flushMs?: number;
}

/**
 * Records a terminal's output and input as timestamped events, coalescing bursts so a busy
 * terminal costs a few events a second, never one per chunk. Two things are kept out of the
 * record: what masking finds, and what is typed after a password prompt (recorded as `*`), since
 * the terminal's echo state cannot be seen from here.
 */
export class TerminalRecorder {
  private readonly decoders = { output: new StringDecoder('utf8'), input: new StringDecoder('utf8') };
  private pendingStream: 'output' | 'input' | null = null;
  private pending = '';
  private pendingTime = 0;
  private timer: NodeJS.Timeout | null = null;
  private outputTail = '';
  private secretInput = false;
  private line = '';
  private inEscape = false;
  private closed = false;

  constructor(private readonly opts: TerminalRecorderOptions) {}

  output(chunk: Buffer): void {
    const text = this.decoders.output.write(chunk);
    if (!text) return;
    this.outputTail = (this.outputTail + text).slice(-PROMPT_TAIL_CHARS);
    this.append('output', text);
  }

  input(chunk: Buffer): void {
    const text = this.decoders.input.write(chunk);
    if (!text) return;
    if (!this.secretInput && this.line === '' && SECRET_PROMPT.test(this.outputTail.replace(ANSI, ''))) this.secretInput = true;
    let recorded = '';
    for (const ch of text) {
      recorded += this.secretInput && ch !== '\r' && ch !== '\n' ? '*' : ch;
      this.track(ch);
    }
    this.append('input', recorded);
  }

  /** Follows the typed line through editing keys; Enter submits it. */
  private track(ch: string): void {
    if (this.inEscape) {
      // An escape sequence ends with a letter or `~`; arrow keys and the like cannot be followed.
      if (/[A-Za-z~]/.test(ch)) this.inEscape = false;
      return;
    }
    switch (ch) {
      case '\r':
      case '\n': {
        const line = this.line.trim();
        const secret = this.secretInput;
        this.line = '';
        this.secretInput = false;
        this.outputTail = '';
        if (line && !secret) this.opts.onLine?.(line);
        return;
      }
      case '\x7f':
      case '\b':
        this.line = this.line.slice(0, -1);
        return;
      case '\x15': // Ctrl-U
      case '\x03': // Ctrl-C
        this.line = '';
        this.secretInput = false;
        return;
      case '\x17': // Ctrl-W: delete the word before the cursor
        this.line = this.line.replace(/\S+\s*$/, '');
        return;
      case '\x1b':
        this.inEscape = true;
        return;
      default:
        if (ch >= ' ' && this.line.length < MAX_LINE_CHARS) this.line += ch;
    }
  }

  private append(stream: 'output' | 'input', text: string): void {
    if (this.closed) return;
    if (this.pendingStream !== stream) this.flush();
    if (this.pending === '') this.pendingTime = Date.now();
    this.pendingStream = stream;
    this.pending += text;
    if (this.pending.length >= TERMINAL_MAX_EVENT_CHARS) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.opts.flushMs ?? TERMINAL_FLUSH_MS);
  }

  /** Records what is pending now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const stream = this.pendingStream;
    const text = this.pending;
    this.pending = '';
    if (!stream || !text) return;
    this.opts.record(stream, this.opts.mask(text), this.pendingTime);
  }

  close(): void {
    if (this.closed) return;
    for (const stream of ['output', 'input'] as const) {
      const rest = this.decoders[stream].end();
      if (rest) this.append(stream, stream === 'input' && this.secretInput ? '*'.repeat(rest.length) : rest);
    }
    this.flush();
    this.closed = true;
  }
}
