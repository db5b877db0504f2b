/**
 * Splits a command line into the simple commands a POSIX shell (bash, dash, zsh in their common
 * syntax) would run, so policy can decide on each of them. This is a cursor-based parser, not a
 * shell: it never expands anything. What it cannot know (a `$VAR`, a glob, a `$(…)`) stays as
 * written and is marked, and what it cannot analyse at all is a ShellParseError: the caller denies.
 *
 * The output over-approximates what runs: both branches of `a && b || c`, every command of an
 * `if`, a function's body, the inside of `$(…)`, wrapped commands (`sudo rm` gives `sudo rm` and
 * `rm`). A command listed that would not run only makes the decision stricter; a command that
 * would run and is not listed would be a hole, so the cases where the text alone cannot say what
 * runs are `dynamic` (the policy denies them):
 * - the command name is an expansion, a substitution, a glob or a brace pattern;
 * - `eval`, `source`, `.`, `let`, a shell without `-c` (it reads a script or its input), `sudo -s`
 *   or `su` without a command (a shell reading its input);
 * - arithmetic that reads variables (`$((x))`, `((x))`, `[[ $a -eq 1 ]]`, `${s:$n}`): bash
 *   evaluates a variable's content as an expression there, and `a[$(cmd)]` in it runs `cmd`.
 * Unsupported syntax (`case` is supported; `coproc`, extended globs and zsh glob qualifiers are
 * not) and unknown options of the wrappers below are parse errors.
 *
 * Wrappers whose arguments are a command are unwrapped: sudo, doas, pkexec, env, nohup, nice,
 * timeout, time, exec, command, builtin, xargs (its inner command gets more arguments at run time),
 * watch, stdbuf, ionice, setsid, chroot, busybox, `find -exec`, and the strings given to
 * `sh|bash|zsh|dash|ksh -c`, `su -c`, `watch` (without -x), `trap` and `alias` are parsed as
 * command lines. `ssh host cmd` is not: it runs elsewhere.
 */
import { ExitCode, UserError } from '../../errors.js';

/** Longer command lines are refused: parsing is synchronous and nobody types 64 KiB by hand. */
export const MAX_COMMAND_LINE_CHARS = 64 * 1024;
/** Nesting of substitutions, subshells-in-strings and `sh -c` levels past this is refused. */
export const MAX_SHELL_NESTING = 32;

export class ShellParseError extends UserError {
  /** Where in the analysed text (0-based) the problem is, when it has a place. */
  readonly offset: number | undefined;

  constructor(message: string, offset?: number) {
    super('HOOP_SHELL_PARSE', message, {
      exitCode: ExitCode.usage,
      hint: 'hoop only runs command lines it can analyse: write the command out literally, without eval or computed command names',
    });
    this.offset = offset;
  }
}

/** An argument whose value only exists when the command runs (`$x`, `*.log`, `$(…)`, xargs' `{}`). */
export interface UnknownWord {
  readonly index: number;
  /** It could expand to an option (or to `--`): it starts with an expansion, a glob or `-`, or splits into fields. */
  readonly mayBeOption: boolean;
}

export interface SimpleCommand {
  /** The words after quote removal; unknown words (see `unknown`) are kept as written, e.g. `$HOME/x`. */
  readonly argv: readonly string[];
  /** What runs cannot be known from the text: the policy must refuse it. */
  readonly dynamic: boolean;
  /** Why it is dynamic, for the person refused. */
  readonly dynamicReason?: string;
  /** The wrapper this command was found in (`sudo`, `sh`, `xargs`, …). */
  readonly wrappedBy?: string;
  /** Arguments (index ≥ 1) only known at run time; each may become zero or more words. */
  readonly unknown: readonly UnknownWord[];
  /** More arguments are appended at run time (the command run by xargs). */
  readonly moreArgs: boolean;
  /** The command re-joined for display, quoted so it reads as it would be typed. */
  readonly text: string;
}

/** A word of a command pattern: its literal value, and a matcher when it has unquoted `*` or `?`. */
export interface PatternWord {
  readonly value: string;
  readonly glob: RegExp | null;
  /** The word is a lone unquoted `*`. */
  readonly loneStar: boolean;
}

interface Word {
  /** After quote removal; expansions stay as written. */
  readonly value: string;
  /** As written. */
  readonly raw: string;
  readonly quoted: boolean;
  /** Contains a parameter expansion, a substitution or arithmetic. */
  readonly expands: boolean;
  /** An unquoted expansion: its result is split into several words. */
  readonly splits: boolean;
  /** An unquoted glob (`*`, `?`, `[…]`) or brace expansion (`{a,b}`, `{1..3}`). */
  readonly globs: boolean;
  /** A placeholder replaced at run time (find's and xargs' `{}`). */
  readonly runtime: boolean;
  /** Starts with an unquoted `~`: the home directory, only known on the host. */
  readonly tilde: boolean;
  /** The first character is written literally in the source. */
  readonly literalStart: boolean;
  /** Unquoted `*` or `?` (for patterns). */
  readonly wild: boolean;
  /** Regular-expression source: literal text escaped, unquoted `*` and `?` as wildcards. */
  readonly pattern: string;
  /** The unquoted literal text before the first quote or expansion (assignment detection). */
  readonly plainPrefix: string;
}

/** A fragment of the line for a message: messages are recorded, and a long line may hold secrets. */
const brief = (raw: string): string => (raw.length > 40 ? `${raw.slice(0, 39)}…` : raw);
const isUnknown = (w: Word): boolean => w.expands || w.globs || w.runtime || w.tilde;
/** A command name that is not literal. `~/bin/x` is: its basename is. */
const isUnknownName = (w: Word): boolean => w.expands || w.globs || w.runtime;
const mayBeOption = (w: Word): boolean => !w.literalStart || w.value.startsWith('-') || w.splits || w.runtime;

const METACHARS = new Set([' ', '\t', '\n', ';', '&', '|', '<', '>', '(', ')']);
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=/;
const REGEX_SPECIAL = /[.*+?^${}()|[\]\\/]/g;

class WordBuilder {
  value = '';
  pattern = '';
  quoted = false;
  expands = false;
  splits = false;
  globs = false;
  wild = false;
  tilde = false;
  literalStart: boolean | undefined;
  plainPrefix = '';
  hazard: string | undefined;
  private plainOpen = true;
  private bracketOpen = false;
  private braceAt = -1;

  literal(text: string, quoted: boolean): void {
    if (quoted) {
      this.quoted = true;
      this.plainOpen = false;
    }
    if (text === '') return;
    this.literalStart ??= true;
    this.value += text;
    this.pattern += text.replace(REGEX_SPECIAL, '\\$&');
    if (!quoted && this.plainOpen) this.plainPrefix += text;
  }

  /** An unquoted character that is not special on its own, with bracket and brace tracking. */
  unquoted(c: string): void {
    if (c === '[') this.bracketOpen = true;
    else if (c === ']' && this.bracketOpen) this.globs = true;
    else if (c === '{') this.braceAt = this.value.length;
    else if (c === '}' && this.braceAt >= 0) {
      const inside = this.value.slice(this.braceAt + 1);
      if (inside.includes(',') || inside.includes('..')) this.globs = true;
      this.braceAt = -1;
    }
    this.literal(c, false);
  }

  wildcard(c: '*' | '?'): void {
    this.literalStart ??= false;
    this.globs = true;
    this.wild = true;
    this.value += c;
    this.pattern += c === '*' ? '[\\s\\S]*' : '[\\s\\S]';
    this.plainOpen = false;
  }

  expansion(raw: string, inDoubleQuotes: boolean): void {
    this.literalStart ??= false;
    this.expands = true;
    if (!inDoubleQuotes) this.splits = true;
    else this.quoted = true;
    this.value += raw;
    this.pattern += raw.replace(REGEX_SPECIAL, '\\$&');
    this.plainOpen = false;
  }

  build(raw: string): Word {
    return {
      value: this.value,
      raw,
      quoted: this.quoted,
      expands: this.expands,
      splits: this.splits,
      globs: this.globs,
      runtime: false,
      tilde: this.tilde,
      literalStart: this.literalStart ?? true,
      wild: this.wild,
      pattern: this.pattern,
      plainPrefix: this.plainPrefix,
    };
  }
}

interface PendingHeredoc {
  readonly delimiter: string;
  readonly stripTabs: boolean;
  readonly expands: boolean;
  readonly offset: number;
}

type Frame = { readonly kind: '(' | '{' | 'case'; readonly offset: number };

class RawCommand {
  readonly words: Word[] = [];
  assignments = 0;
  redirections = 0;
  isEmpty(): boolean {
    return this.words.length === 0 && this.assignments === 0 && this.redirections === 0;
  }
}

const SKIPPED_KEYWORDS = new Set(['!', 'if', 'then', 'elif', 'else', 'fi', 'do', 'done', 'while', 'until']);
const REDIRECTION_OPERATORS = ['&>>', '&>', '<<<', '<<-', '<<', '<>', '<&', '<', '>>', '>&', '>|', '>'];
const POSIX_SHELLS = new Set(['sh', 'bash', 'rbash', 'dash', 'zsh', 'ksh', 'ksh93', 'mksh', 'pdksh', 'ash', 'yash', 'posh']);
/** Shells with their own syntax: a `-c` string for them is not POSIX shell, so it cannot be read here. */
const OTHER_SHELLS = new Set(['fish', 'csh', 'tcsh', 'nu', 'xonsh', 'pwsh', 'elvish', 'rc', 'es']);

class ShellParser {
  private pos = 0;
  private readonly heredocs: PendingHeredoc[] = [];

  constructor(
    private readonly text: string,
    private readonly out: SimpleCommand[],
    private depth: number,
    /** Where this text came from, for messages: '' at top level, else e.g. `the sh -c string`. */
    private readonly where: string,
  ) {}

  parseAll(): void {
    this.parseList(false);
    const pending = this.heredocs[0];
    if (pending) this.fail(`here-document "${pending.delimiter}" has no body (it starts on the line after the command)`, pending.offset);
  }

  /** Words of a command pattern: plain words and globs, nothing the shell would run or expand. */
  patternWords(): PatternWord[] {
    const words: PatternWord[] = [];
    for (;;) {
      this.skipBlanks();
      const c = this.text[this.pos];
      if (c === undefined) return words;
      if (METACHARS.has(c) || c === '#') this.fail(`a command pattern is one command of plain words; "${c}" is not allowed (quote it to mean the character)`, this.pos);
      const start = this.pos;
      const w = this.readWord();
      if (w.expands) this.fail(`a command pattern cannot contain expansions or substitutions (${w.raw}); quote $ to mean the character`, start);
      words.push({ value: w.value, glob: w.wild ? new RegExp(`^(?:${w.pattern})$`) : null, loneStar: w.raw === '*' });
    }
  }

  private fail(message: string, offset: number): never {
    const near = this.text.slice(offset, offset + 24).replace(/\n/g, '\\n');
    throw new ShellParseError(`${message}, at character ${offset + 1}${this.where ? ` of ${this.where}` : ''} (near \`${near}\`)`, offset);
  }

  private enter(offset: number): void {
    if (++this.depth > MAX_SHELL_NESTING) this.fail(`nested more than ${MAX_SHELL_NESTING} levels deep`, offset);
  }

  private leave(): void {
    this.depth--;
  }

  /** Spaces, tabs and line continuations. */
  private skipBlanks(): void {
    for (;;) {
      const c = this.text[this.pos];
      if (c === ' ' || c === '\t') this.pos++;
      else if (c === '\\' && this.text[this.pos + 1] === '\n') this.pos += 2;
      else return;
    }
  }

  private skipComment(): void {
    const nl = this.text.indexOf('\n', this.pos);
    this.pos = nl === -1 ? this.text.length : nl;
  }

  private atWord(word: string): boolean {
    if (!this.text.startsWith(word, this.pos)) return false;
    const after = this.text[this.pos + word.length];
    return after === undefined || METACHARS.has(after);
  }

  /** Consumes a newline; here-document bodies start right after it. */
  private newline(): void {
    this.pos++;
    if (this.heredocs.length > 0) this.readHeredocBodies();
  }

  /**
   * A list of commands up to the end of the text, or (closer) up to the `)` that ends a `$(` or
   * `<(` whose opening the caller consumed. Compound commands are flattened: their inner commands
   * are listed like any other, keywords are skipped.
   */
  private parseList(closer: boolean): void {
    const open = this.pos;
    this.enter(open);
    const frames: Frame[] = [];
    let cmd = new RawCommand();
    let expectCasePattern = false;
    const finish = (): void => {
      if (cmd.words.length > 0) this.emit(cmd.words, undefined, false);
      cmd = new RawCommand();
    };
    for (;;) {
      this.skipBlanks();
      if (expectCasePattern) {
        expectCasePattern = false;
        this.readCasePattern(frames);
        continue;
      }
      const c = this.text[this.pos];
      if (c === undefined) break;
      const next = this.text[this.pos + 1];
      if (c === '#') {
        this.skipComment();
        continue;
      }
      if (c === '\n') {
        finish();
        this.newline();
        continue;
      }
      if (c === ';') {
        finish();
        if (next === ';' || next === '&') {
          if (frames.at(-1)?.kind !== 'case') this.fail(`unexpected "${c}${next}" outside a case statement`, this.pos);
          this.pos += next === ';' && this.text[this.pos + 2] === '&' ? 3 : 2;
          expectCasePattern = true;
          continue;
        }
        this.pos++;
        continue;
      }
      if (c === '&') {
        if (next === '>') {
          this.readRedirection(cmd);
          continue;
        }
        finish();
        this.pos += next === '&' ? 2 : 1;
        continue;
      }
      if (c === '|') {
        finish();
        this.pos += next === '|' || next === '&' ? 2 : 1;
        continue;
      }
      if (c === '<' || c === '>') {
        if (next === '(') cmd.words.push(this.readProcessSubstitution());
        else this.readRedirection(cmd);
        continue;
      }
      if (c === '(') {
        if (cmd.isEmpty()) {
          if (next === '(') {
            const start = this.pos;
            this.pos += 2;
            this.readArithmetic(start, '((');
            continue;
          }
          frames.push({ kind: '(', offset: this.pos });
          this.pos++;
          continue;
        }
        // `name () { …; }` defines a function: its body is listed where it is written.
        if (cmd.words.length === 1 && cmd.assignments === 0 && cmd.redirections === 0 && this.skipEmptyParens()) {
          cmd = new RawCommand();
          continue;
        }
        this.fail('unexpected "(" (extended globs, zsh glob qualifiers and process substitution inside a word are not supported)', this.pos);
      }
      if (c === ')') {
        finish();
        const top = frames.at(-1);
        if (top?.kind === '(') {
          frames.pop();
          this.pos++;
          continue;
        }
        if (!top && closer) {
          this.pos++;
          this.leave();
          return;
        }
        this.fail('unexpected ")"', this.pos);
      }
      const start = this.pos;
      const word = this.readWord();
      const after = this.text[this.pos];
      if ((after === '<' || after === '>') && !word.quoted && !word.expands && /^(\d+|\{[A-Za-z_][A-Za-z0-9_]*\})$/.test(word.value)) {
        this.readRedirection(cmd);
        continue;
      }
      if (cmd.isEmpty() && !word.quoted && !word.expands) {
        const v = word.value;
        if (SKIPPED_KEYWORDS.has(v)) continue;
        if (v === '{') {
          frames.push({ kind: '{', offset: start });
          continue;
        }
        if (v === '}') {
          if (frames.at(-1)?.kind !== '{') this.fail('unexpected "}"', start);
          frames.pop();
          continue;
        }
        if (v === 'esac') {
          if (frames.at(-1)?.kind !== 'case') this.fail('unexpected "esac"', start);
          frames.pop();
          continue;
        }
        if (v === 'for' || v === 'select') {
          this.readForHeader();
          continue;
        }
        if (v === 'case') {
          this.readCaseHeader();
          frames.push({ kind: 'case', offset: start });
          expectCasePattern = true;
          continue;
        }
        if (v === 'function') {
          this.readFunctionHeader();
          continue;
        }
        if (v === '[[') {
          this.readConditional(start);
          continue;
        }
        if (v === 'coproc') this.fail('coproc is not supported', start);
        // bash's `time` keyword before a compound command; before a simple one it is the wrapper.
        if (v === 'time' && this.timesCompound()) continue;
      }
      if (cmd.words.length === 0 && ASSIGNMENT.test(word.plainPrefix)) {
        if (this.text[this.pos] === '(' && word.value.endsWith('=')) this.readArrayElements();
        cmd.assignments++;
        continue;
      }
      // `declare -a a=(1 2)`: an array assignment as an argument.
      if (this.text[this.pos] === '(' && ASSIGNMENT.test(word.plainPrefix) && word.value.endsWith('=')) this.readArrayElements();
      cmd.words.push(word);
    }
    finish();
    if (closer) this.fail('unterminated $( or <(: no closing ")"', open - 2);
    const unclosed = frames.at(-1);
    if (unclosed) this.fail(`unterminated "${unclosed.kind}"`, unclosed.offset);
    this.leave();
  }

  /** After `time`: is a `{ …; }`, `( … )` or `!` next (with `-p` between, perhaps)? Consumes the `-p` if so. */
  private timesCompound(): boolean {
    const save = this.pos;
    this.skipBlanks();
    if (this.atWord('-p')) {
      this.pos += 2;
      this.skipBlanks();
    }
    if (this.text[this.pos] === '(' || this.atWord('{') || this.atWord('!')) return true;
    this.pos = save;
    return false;
  }

  private skipEmptyParens(): boolean {
    let p = this.pos + 1;
    while (this.text[p] === ' ' || this.text[p] === '\t') p++;
    if (this.text[p] !== ')') return false;
    this.pos = p + 1;
    return true;
  }

  private readWord(): Word {
    const start = this.pos;
    const w = new WordBuilder();
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined || METACHARS.has(c)) break;
      if (c === '\\') {
        const n = this.text[this.pos + 1];
        if (n === '\n') this.pos += 2;
        else if (n === undefined) {
          w.literal('\\', true);
          this.pos++;
        } else {
          w.literal(n, true);
          this.pos += 2;
        }
      } else if (c === "'") this.readSingleQuoted(w);
      else if (c === '"') this.readDoubleQuoted(w);
      else if (c === '`') this.readBackquotes(w, false);
      else if (c === '$') this.readDollar(w, false);
      else if (c === '*' || c === '?') {
        w.wildcard(c);
        this.pos++;
      } else {
        if (c === '~' && this.pos === start) w.tilde = true;
        w.unquoted(c);
        this.pos++;
      }
    }
    if (w.hazard) this.hazard(w.hazard, this.text.slice(start, this.pos));
    return w.build(this.text.slice(start, this.pos));
  }

  private readSingleQuoted(w: WordBuilder): void {
    const close = this.text.indexOf("'", this.pos + 1);
    if (close === -1) this.fail('unterminated single quote', this.pos);
    w.literal(this.text.slice(this.pos + 1, close), true);
    this.pos = close + 1;
  }

  private readDoubleQuoted(w: WordBuilder): void {
    const open = this.pos;
    this.pos++;
    w.literal('', true);
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined) this.fail('unterminated double quote', open);
      if (c === '"') {
        this.pos++;
        return;
      }
      if (c === '\\') {
        const n = this.text[this.pos + 1];
        if (n === '\n') this.pos += 2;
        else if (n === '$' || n === '`' || n === '"' || n === '\\') {
          w.literal(n, true);
          this.pos += 2;
        } else {
          w.literal('\\', true);
          this.pos++;
        }
      } else if (c === '$') this.readDollar(w, true);
      else if (c === '`') this.readBackquotes(w, true);
      else {
        w.literal(c, true);
        this.pos++;
      }
    }
  }

  /** `` `…` ``: the text between the backquotes, unescaped, is a command line of its own. */
  private readBackquotes(w: WordBuilder, inDoubleQuotes: boolean): void {
    const open = this.pos;
    this.pos++;
    let inner = '';
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined) this.fail('unterminated backquote', open);
      if (c === '`') {
        this.pos++;
        break;
      }
      const n = this.text[this.pos + 1];
      if (c === '\\' && n !== undefined && (n === '$' || n === '`' || n === '\\' || (inDoubleQuotes && n === '"'))) {
        inner += n;
        this.pos += 2;
      } else {
        inner += c;
        this.pos++;
      }
    }
    this.parseNested(inner, 'a `…` substitution', open);
    w.expansion(this.text.slice(open, this.pos), inDoubleQuotes);
  }

  private parseNested(text: string, where: string, offset: number): void {
    this.enter(offset);
    new ShellParser(text, this.out, this.depth, this.where ? `${where} in ${this.where}` : where).parseAll();
    this.leave();
  }

  private readDollar(w: WordBuilder, inDoubleQuotes: boolean): void {
    const start = this.pos;
    const n = this.text[this.pos + 1];
    if (n === '(') {
      if (this.text[this.pos + 2] === '(') {
        this.pos += 3;
        if (this.readArithmetic(start, '$((')) w.hazard ??= 'arithmetic on variables';
      } else {
        this.pos += 2;
        this.parseList(true);
      }
      w.expansion(this.text.slice(start, this.pos), inDoubleQuotes);
      return;
    }
    if (n === '[') {
      // `$[…]`: bash's old arithmetic expansion.
      this.pos += 2;
      if (this.readBracketArithmetic(start)) w.hazard ??= 'arithmetic on variables';
      w.expansion(this.text.slice(start, this.pos), inDoubleQuotes);
      return;
    }
    if (n === '{') {
      this.pos += 2;
      const hazard = this.readBraceParameter(start);
      if (hazard) w.hazard ??= hazard;
      w.expansion(this.text.slice(start, this.pos), inDoubleQuotes);
      return;
    }
    if (n === "'" && !inDoubleQuotes) {
      const { value, end } = decodeAnsiC(this.text, this.pos + 2, (m, at) => this.fail(m, at));
      this.pos = end;
      w.literal(value, true);
      return;
    }
    if (n === '"' && !inDoubleQuotes) {
      this.pos++;
      this.readDoubleQuoted(w);
      return;
    }
    if (n !== undefined && '=~^+'.includes(n) && this.text[this.pos + 2] === '{') {
      // zsh `$=`, `$~`, `$^`, `$+` before `${…}`
      this.pos += 3;
      const hazard = this.readBraceParameter(start);
      if (hazard) w.hazard ??= hazard;
      w.expansion(this.text.slice(start, this.pos), inDoubleQuotes);
      return;
    }
    const name = /^(?:[=~^+](?=[A-Za-z_]))?(?:[A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])/.exec(this.text.slice(this.pos + 1, this.pos + 256));
    if (name) {
      this.pos += 1 + name[0].length;
      w.expansion(this.text.slice(start, this.pos), inDoubleQuotes);
      return;
    }
    w.literal('$', inDoubleQuotes);
    this.pos++;
  }

  /**
   * `${…}` after its opening. Nested quotes, expansions and substitutions are followed; the first
   * `}` outside them closes it. Returns a hazard when the expansion evaluates text as code.
   */
  private readBraceParameter(open: number): string | undefined {
    this.enter(open);
    const bodyStart = this.pos;
    const sink = new WordBuilder();
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined) this.fail('unterminated ${', open);
      if (c === '}') break;
      if (c === '\\') this.pos += 2;
      else if (c === "'") this.readSingleQuoted(sink);
      else if (c === '"') this.readDoubleQuoted(sink);
      else if (c === '`') this.readBackquotes(sink, true);
      else if (c === '$') this.readDollar(sink, true);
      else this.pos++;
    }
    const body = this.text.slice(bodyStart, this.pos);
    this.pos++;
    this.leave();
    if (sink.hazard) return sink.hazard;
    // zsh parameter flags (`${(e)x}` evaluates the value), substring offsets and array
    // subscripts (arithmetic: `a[$(cmd)]` in a variable's value runs cmd).
    if (body.startsWith('(')) return 'zsh parameter flags';
    const m = /^[#!]?[A-Za-z_][A-Za-z0-9_]*(.)?(.)?/.exec(body);
    if (m?.[1] === ':' && m[2] !== undefined && !'-=?+'.includes(m[2])) return 'a substring offset is arithmetic on variables';
    if (m?.[1] === '[' && !/^[#!]?[A-Za-z_][A-Za-z0-9_]*\[[@*]\]/.test(body) && /[A-Za-z_$]/.test(body.slice(body.indexOf('[') + 1, body.indexOf(']')))) {
      return 'an array subscript is arithmetic on variables';
    }
    return undefined;
  }

  /**
   * Arithmetic after `((` or `$((`, up to the matching `))`. Substitutions inside are commands.
   * Returns true when it reads a variable: bash evaluates the value as an expression, recursively.
   */
  private readArithmetic(open: number, what: string): boolean {
    this.enter(open);
    const sink = new WordBuilder();
    const bodyStart = this.pos;
    let paren = 0;
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined) this.fail(`unterminated ${what}`, open);
      if (c === '(') paren++;
      else if (c === ')') {
        if (paren === 0) {
          if (this.text[this.pos + 1] !== ')') this.fail(`unbalanced ")" in ${what}`, this.pos);
          break;
        }
        paren--;
      }
      if (c === '$') this.readDollar(sink, true);
      else if (c === '`') this.readBackquotes(sink, true);
      else if (c === '"') this.readDoubleQuoted(sink);
      else if (c === "'") this.readSingleQuoted(sink);
      else if (c === '\\') this.pos += 2;
      else this.pos++;
    }
    const body = this.text.slice(bodyStart, this.pos);
    this.pos += 2;
    this.leave();
    const readsVariables = /[A-Za-z_$`]/.test(body.replace(/\b0[xX][0-9A-Fa-f]+\b|\b\d+#[0-9A-Za-z@_]+\b/g, ''));
    if (what === '((' && readsVariables) this.hazard('arithmetic on variables', this.text.slice(open, this.pos));
    return readsVariables;
  }

  private readBracketArithmetic(open: number): boolean {
    this.enter(open);
    const sink = new WordBuilder();
    const bodyStart = this.pos;
    let depth = 0;
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined) this.fail('unterminated $[', open);
      if (c === '[') depth++;
      else if (c === ']') {
        if (depth === 0) break;
        depth--;
      }
      if (c === '$') this.readDollar(sink, true);
      else if (c === '`') this.readBackquotes(sink, true);
      else this.pos++;
    }
    const body = this.text.slice(bodyStart, this.pos);
    this.pos++;
    this.leave();
    return /[A-Za-z_$`]/.test(body);
  }

  /** Something that makes the whole line unknowable, found outside a command's name. */
  private hazard(reason: string, raw: string): void {
    this.out.push({ argv: [raw], dynamic: true, dynamicReason: `${brief(raw)} uses ${reason}: bash evaluates a variable's value as code there`, unknown: [], moreArgs: false, text: raw });
  }

  private readProcessSubstitution(): Word {
    const start = this.pos;
    this.pos += 2;
    this.parseList(true);
    const raw = this.text.slice(start, this.pos);
    return { value: raw, raw, quoted: false, expands: true, splits: false, globs: false, runtime: false, tilde: false, literalStart: false, wild: false, pattern: '', plainPrefix: '' };
  }

  private readRedirection(cmd: RawCommand): void {
    const start = this.pos;
    const op = REDIRECTION_OPERATORS.find((o) => this.text.startsWith(o, this.pos))!;
    this.pos += op.length;
    this.skipBlanks();
    const c = this.text[this.pos];
    cmd.redirections++;
    if ((c === '<' || c === '>') && this.text[this.pos + 1] === '(') {
      this.readProcessSubstitution();
      return;
    }
    if (c === undefined || METACHARS.has(c)) this.fail(`redirection "${op}" has no target`, start);
    const target = this.readWord();
    if (op === '<<' || op === '<<-') this.heredocs.push({ delimiter: target.value, stripTabs: op === '<<-', expands: !target.quoted, offset: start });
  }

  /** Bodies of the here-documents opened on the line just ended. Unquoted ones expand `$(…)`. */
  private readHeredocBodies(): void {
    for (const doc of this.heredocs.splice(0)) {
      const bodyStart = this.pos;
      let body: string | undefined;
      while (body === undefined) {
        if (this.pos >= this.text.length) this.fail(`here-document "${doc.delimiter}" has no terminating "${doc.delimiter}" line`, doc.offset);
        const nl = this.text.indexOf('\n', this.pos);
        const lineEnd = nl === -1 ? this.text.length : nl;
        const line = this.text.slice(this.pos, lineEnd);
        if ((doc.stripTabs ? line.replace(/^\t+/, '') : line) === doc.delimiter) body = this.text.slice(bodyStart, this.pos);
        this.pos = nl === -1 ? this.text.length : nl + 1;
      }
      if (doc.expands && /[$`]/.test(body)) {
        this.enter(bodyStart);
        new ShellParser(body, this.out, this.depth, 'a here-document').scanExpansions();
        this.leave();
      }
    }
  }

  /** Text where only `$…` and `` `…` `` mean something (a here-document body). */
  private scanExpansions(): void {
    const sink = new WordBuilder();
    while (this.pos < this.text.length) {
      const c = this.text[this.pos];
      if (c === '\\') this.pos += 2;
      else if (c === '$') this.readDollar(sink, true);
      else if (c === '`') this.readBackquotes(sink, true);
      else this.pos++;
    }
    if (sink.hazard) this.hazard(sink.hazard, 'a here-document');
  }

  private readArrayElements(): void {
    const open = this.pos;
    this.pos++;
    for (;;) {
      this.skipBlanks();
      const c = this.text[this.pos];
      if (c === undefined) this.fail('unterminated array assignment', open);
      if (c === ')') {
        this.pos++;
        return;
      }
      if (c === '\n') this.newline();
      else if (c === '#') this.skipComment();
      else if (METACHARS.has(c)) this.fail(`unexpected "${c}" in an array assignment`, this.pos);
      else this.readWord();
    }
  }

  /** `for NAME [in WORDS]`, `select …`, `for ((…))`: none of it runs, but substitutions in it do. */
  private readForHeader(): void {
    this.skipBlanks();
    if (this.text.startsWith('((', this.pos)) {
      const start = this.pos;
      this.pos += 2;
      this.readArithmetic(start, '((');
      return;
    }
    const c = this.text[this.pos];
    if (c === undefined || METACHARS.has(c)) this.fail('"for" needs a variable name', this.pos);
    this.readWord();
    for (;;) {
      this.skipBlanks();
      const d = this.text[this.pos];
      if (d === undefined || d === ';' || d === '\n' || d === '&' || this.atWord('do')) return;
      if (METACHARS.has(d)) this.fail(`unexpected "${d}" in a for statement`, this.pos);
      this.readWord();
    }
  }

  private readCaseHeader(): void {
    this.skipBlanks();
    const c = this.text[this.pos];
    if (c === undefined || METACHARS.has(c)) this.fail('"case" needs a word', this.pos);
    this.readWord();
    this.skipBlanksAndNewlines();
    if (!this.atWord('in')) this.fail('expected "in" after the case word', this.pos);
    this.pos += 2;
  }

  private skipBlanksAndNewlines(): void {
    for (;;) {
      this.skipBlanks();
      const c = this.text[this.pos];
      if (c === '\n') this.newline();
      else if (c === '#') this.skipComment();
      else return;
    }
  }

  /** `[(] PATTERN [| PATTERN]… )` or the closing `esac`. The patterns are data. */
  private readCasePattern(frames: Frame[]): void {
    this.skipBlanksAndNewlines();
    if (this.pos >= this.text.length) this.fail('unterminated case statement', frames.at(-1)!.offset);
    if (this.atWord('esac')) {
      this.pos += 4;
      frames.pop();
      return;
    }
    if (this.text[this.pos] === '(') this.pos++;
    for (;;) {
      this.skipBlanks();
      const c = this.text[this.pos];
      if (c === undefined || METACHARS.has(c)) this.fail('expected a case pattern', this.pos);
      this.readWord();
      this.skipBlanks();
      const d = this.text[this.pos];
      if (d === '|') {
        this.pos++;
        continue;
      }
      if (d === ')') {
        this.pos++;
        return;
      }
      this.fail('expected ")" after a case pattern', this.pos);
    }
  }

  private readFunctionHeader(): void {
    this.skipBlanks();
    const c = this.text[this.pos];
    if (c === undefined || METACHARS.has(c)) this.fail('"function" needs a name', this.pos);
    this.readWord();
    this.skipBlanks();
    if (this.text[this.pos] === '(' && !this.skipEmptyParens()) this.fail('expected "()" after the function name', this.pos);
  }

  /** `[[ … ]]`: an expression, not a command; `(`, `<`, `|` are its operators. */
  private readConditional(open: number): void {
    for (;;) {
      this.skipBlanks();
      const c = this.text[this.pos];
      if (c === undefined) this.fail('unterminated "[["', open);
      const n = this.text[this.pos + 1];
      if (c === '\n') this.newline();
      else if ((c === '&' && n === '&') || (c === '|' && n === '|')) this.pos += 2;
      else if (c === '(' || c === ')' || c === '<' || c === '>' || c === '|') this.pos++;
      else if (METACHARS.has(c)) this.fail(`unexpected "${c}" in [[ ]]`, this.pos);
      else {
        const w = this.readWord();
        if (!w.quoted && w.value === ']]') return;
        if (!w.quoted && /^-(eq|ne|lt|le|gt|ge)$/.test(w.value)) this.hazard('an arithmetic comparison', this.text.slice(open, this.pos));
      }
    }
  }

  /** Lists one simple command, then what it wraps. */
  private emit(words: readonly Word[], wrappedBy: string | undefined, moreArgs: boolean): void {
    const head = words[0];
    if (!head) return;
    const unknown: UnknownWord[] = [];
    words.forEach((w, i) => {
      if (i > 0 && isUnknown(w)) unknown.push({ index: i, mayBeOption: mayBeOption(w) });
    });
    let dynamicReason: string | undefined;
    let unwrapped: Unwrapped | undefined;
    if (isUnknownName(head)) {
      dynamicReason = head.expands ? `its command name (${brief(head.raw)}) is only known when it runs` : `its command name (${brief(head.raw)}) is a pattern the shell expands`;
    } else {
      unwrapped = unwrap(basename(head.value), words);
      dynamicReason = unwrapped.dynamic;
    }
    this.out.push({
      argv: words.map((w) => w.value),
      dynamic: dynamicReason !== undefined,
      ...(dynamicReason !== undefined ? { dynamicReason } : {}),
      ...(wrappedBy !== undefined ? { wrappedBy } : {}),
      unknown,
      moreArgs,
      text: display(words),
    });
    if (!unwrapped || unwrapped.inner.length === 0) return;
    const wrapper = basename(head.value);
    // `sudo sudo sudo …`: each level lists the rest of the line again, so the depth is capped too.
    this.enter(0);
    for (const inner of unwrapped.inner) {
      if ('script' in inner) {
        const first = this.out.length;
        this.parseNested(inner.script, `the ${wrapper} command string`, 0);
        for (let i = first; i < this.out.length; i++) {
          const c = this.out[i]!;
          if (c.wrappedBy === undefined) this.out[i] = { ...c, wrappedBy: wrapper };
        }
      } else this.emit(inner.words, wrapper, moreArgs || inner.moreArgs === true);
    }
    this.leave();
  }
}

function basename(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' ? path : trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

function display(words: readonly Word[]): string {
  return words.map((w) => (isUnknown(w) ? w.raw : quoteForDisplay(w.value))).join(' ');
}

/** A word as one would type it: bare when it is plain, else single-quoted. */
export function quoteForDisplay(value: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** `$'…'` from after the opening quote: bash's ANSI-C escapes. A NUL ends the string, as in bash. */
function decodeAnsiC(text: string, from: number, fail: (message: string, at: number) => never): { value: string; end: number } {
  let out = '';
  let truncated = false;
  let i = from;
  const add = (s: string): void => {
    if (truncated) return;
    const nul = s.indexOf('\0');
    if (nul >= 0) {
      out += s.slice(0, nul);
      truncated = true;
    } else out += s;
  };
  const digits = (re: RegExp, max: number): string => {
    let d = '';
    while (d.length < max && i < text.length && re.test(text[i]!)) d += text[i++];
    return d;
  };
  for (;;) {
    const c = text[i];
    if (c === undefined) fail("unterminated $'", from - 2);
    if (c === "'") return { value: out, end: i + 1 };
    if (c !== '\\') {
      add(c);
      i++;
      continue;
    }
    const n = text[i + 1];
    if (n === undefined) fail("unterminated $'", from - 2);
    i += 2;
    const simple: Record<string, string> = { a: '\x07', b: '\b', e: '\x1b', E: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', "'": "'", '"': '"', '?': '?' };
    if (simple[n] !== undefined) add(simple[n]);
    else if (n === 'x' || n === 'u' || n === 'U') {
      const hex = digits(/[0-9A-Fa-f]/, n === 'x' ? 2 : n === 'u' ? 4 : 8);
      if (hex === '') add(`\\${n}`);
      else {
        const code = Number.parseInt(hex, 16);
        if (code > 0x10ffff) fail(`$'\\${n}${hex}' is not a character`, i);
        add(String.fromCodePoint(code));
      }
    } else if (n === 'c') {
      const ch = text[i];
      if (ch === undefined) fail("unterminated $'", from - 2);
      add(String.fromCharCode(ch.charCodeAt(0) & 0x1f));
      i++;
    } else if (/[0-7]/.test(n)) {
      i--;
      add(String.fromCharCode(Number.parseInt(digits(/[0-7]/, 3), 8) & 0xff));
    } else add(`\\${n}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Wrappers: commands whose arguments are another command.

type Inner = { readonly words: readonly Word[]; readonly moreArgs?: boolean } | { readonly script: string };

interface Unwrapped {
  readonly inner: readonly Inner[];
  /** Set when what it runs cannot be known. */
  readonly dynamic?: string;
}

interface Grammar {
  /** Short options without a value. */
  readonly flags?: string;
  /** Short options with a value, attached (`-uroot`) or in the next word. */
  readonly valued?: string;
  /** Short options whose value can only be attached (`-i{}`). */
  readonly attached?: string;
  /** Long options without a value (a value after `=` is accepted). */
  readonly long?: readonly string[];
  /** Long options with a value (`--user=x` or `--user x`). */
  readonly longValued?: readonly string[];
}

interface OptionValue {
  readonly value: string;
  readonly known: boolean;
}

type Scan = { readonly index: number; readonly seen: ReadonlyMap<string, OptionValue | true> } | { readonly unknowable: Word };

/**
 * The options of a wrapper, up to the first word that is not one. An option the grammar does not
 * know is a parse error: whether it takes a value decides where the wrapped command starts.
 */
function scanOptions(cmd: string, words: readonly Word[], from: number, g: Grammar): Scan {
  const seen = new Map<string, OptionValue | true>();
  const valueAt = (i: number, option: string): OptionValue => {
    const w = words[i];
    if (!w) throw new ShellParseError(`${cmd}: option ${option} needs a value`);
    return { value: w.value, known: !isUnknown(w) };
  };
  let i = from;
  while (i < words.length) {
    const w = words[i]!;
    if (isUnknown(w)) {
      if (mayBeOption(w)) return { unknowable: w };
      break;
    }
    const v = w.value;
    if (v === '--') {
      i++;
      break;
    }
    if (v.startsWith('--')) {
      const eq = v.indexOf('=');
      const name = eq === -1 ? v.slice(2) : v.slice(2, eq);
      if (g.longValued?.includes(name)) {
        if (eq === -1) {
          seen.set(name, valueAt(i + 1, v));
          i += 2;
        } else {
          seen.set(name, { value: v.slice(eq + 1), known: true });
          i++;
        }
        continue;
      }
      if (g.long?.includes(name)) {
        seen.set(name, eq === -1 ? true : { value: v.slice(eq + 1), known: true });
        i++;
        continue;
      }
      throw new ShellParseError(`${cmd}: unknown option ${v}, so hoop cannot tell which command it runs`);
    }
    if (v.startsWith('-') && v.length > 1) {
      let step = 1;
      for (let k = 1; k < v.length; k++) {
        const ch = v[k]!;
        if (g.valued?.includes(ch)) {
          const rest = v.slice(k + 1);
          if (rest) seen.set(ch, { value: rest, known: true });
          else {
            seen.set(ch, valueAt(i + 1, `-${ch}`));
            step = 2;
          }
          break;
        }
        if (g.attached?.includes(ch)) {
          const rest = v.slice(k + 1);
          seen.set(ch, rest ? { value: rest, known: true } : true);
          break;
        }
        if (g.flags?.includes(ch)) {
          seen.set(ch, true);
          continue;
        }
        throw new ShellParseError(`${cmd}: unknown option -${ch}, so hoop cannot tell which command it runs`);
      }
      i += step;
      continue;
    }
    break;
  }
  return { index: i, seen };
}

const NONE: Unwrapped = { inner: [] };
const unknowableOptions = (cmd: string, w: Word): Unwrapped => ({ inner: [], dynamic: `${cmd} is given ${brief(w.raw)}, only known when it runs, where hoop needs to find the command it runs` });
const shellReadingInput = (cmd: string): Unwrapped => ({ inner: [], dynamic: `${cmd} opens a shell that reads commands from its input, which hoop cannot see` });

function skipAssignments(words: readonly Word[], from: number): number {
  let i = from;
  while (i < words.length && ASSIGNMENT.test(words[i]!.plainPrefix)) i++;
  return i;
}

/** A wrapper with options, then the command. */
function simpleWrapper(cmd: string, words: readonly Word[], g: Grammar, opts: { assignments?: boolean; more?: boolean } = {}): Unwrapped {
  const scan = scanOptions(cmd, words, 1, g);
  if ('unknowable' in scan) return unknowableOptions(cmd, scan.unknowable);
  const start = opts.assignments ? skipAssignments(words, scan.index) : scan.index;
  return start < words.length ? { inner: [{ words: words.slice(start), ...(opts.more ? { moreArgs: true } : {}) }] } : NONE;
}

function scriptOf(cmd: string, w: OptionValue | true | undefined): Unwrapped | undefined {
  if (w === undefined || w === true) return undefined;
  if (!w.known) return { inner: [], dynamic: `the command string given to ${cmd} is only known when it runs` };
  return { inner: [{ script: w.value }] };
}

const SUDO: Grammar = {
  flags: 'AbEeHhiKklnPSsVv',
  valued: 'CDgpRrTtUu',
  long: ['askpass', 'background', 'preserve-env', 'edit', 'help', 'set-home', 'login', 'remove-timestamp', 'reset-timestamp', 'list', 'non-interactive', 'preserve-groups', 'stdin', 'shell', 'version', 'validate', 'bell'],
  longValued: ['close-from', 'chdir', 'group', 'host', 'prompt', 'chroot', 'role', 'type', 'command-timeout', 'other-user', 'user'],
};

function unwrapSudo(words: readonly Word[]): Unwrapped {
  const scan = scanOptions('sudo', words, 1, SUDO);
  if ('unknowable' in scan) return unknowableOptions('sudo', scan.unknowable);
  const { seen } = scan;
  if (seen.has('e') || seen.has('edit')) return NONE;
  const start = skipAssignments(words, scan.index);
  if (start < words.length) return { inner: [{ words: words.slice(start) }] };
  if (seen.has('s') || seen.has('i') || seen.has('shell') || seen.has('login')) return shellReadingInput('sudo');
  return NONE;
}

function unwrapEnv(words: readonly Word[]): Unwrapped {
  let from = 1;
  while (words[from]?.value === '-' && !isUnknown(words[from]!)) from++;
  const scan = scanOptions('env', words, from, {
    flags: 'i0v',
    valued: 'uCS',
    long: ['ignore-environment', 'null', 'debug', 'list-signal-handling', 'block-signal', 'default-signal', 'ignore-signal'],
    longValued: ['unset', 'chdir', 'split-string'],
  });
  if ('unknowable' in scan) return unknowableOptions('env', scan.unknowable);
  if (scan.seen.has('S') || scan.seen.has('split-string')) throw new ShellParseError('env -S (split a string into a command) is not supported');
  const start = skipAssignments(words, scan.index);
  return start < words.length ? { inner: [{ words: words.slice(start) }] } : NONE;
}

function unwrapNice(words: readonly Word[]): Unwrapped {
  // `nice -10 cmd`: the obsolete form of -n 10.
  const numeric = words[1] && !isUnknown(words[1]) && /^-\d+$/.test(words[1].value) ? 1 : 0;
  return simpleWrapper('nice', [words[0]!, ...words.slice(1 + numeric)], { valued: 'n', longValued: ['adjustment'] });
}

function unwrapTimeout(words: readonly Word[]): Unwrapped {
  const scan = scanOptions('timeout', words, 1, { flags: 'v', valued: 'sk', long: ['preserve-status', 'foreground', 'verbose'], longValued: ['signal', 'kill-after'] });
  if ('unknowable' in scan) return unknowableOptions('timeout', scan.unknowable);
  const start = scan.index + 1; // after the duration
  return start < words.length ? { inner: [{ words: words.slice(start) }] } : NONE;
}

function unwrapXargs(words: readonly Word[]): Unwrapped {
  const scan = scanOptions('xargs', words, 1, {
    flags: '0prtxo',
    valued: 'adEILnPs',
    attached: 'eil',
    long: ['null', 'interactive', 'no-run-if-empty', 'verbose', 'exit', 'open-tty', 'show-limits', 'eof', 'replace', 'max-lines'],
    longValued: ['arg-file', 'delimiter', 'max-args', 'max-procs', 'max-chars', 'process-slot-var'],
  });
  if ('unknowable' in scan) return unknowableOptions('xargs', scan.unknowable);
  if (scan.index >= words.length) return NONE;
  const replaceOption = scan.seen.get('I') ?? scan.seen.get('i') ?? scan.seen.get('replace');
  const replace = replaceOption === undefined ? undefined : replaceOption === true ? '{}' : replaceOption.value;
  const inner = words.slice(scan.index).map((w) => (replace && w.value.includes(replace) ? asRuntime(w) : w));
  return { inner: [{ words: inner, moreArgs: true }] };
}

function asRuntime(w: Word): Word {
  return { ...w, runtime: true, literalStart: false };
}

function unwrapWatch(words: readonly Word[]): Unwrapped {
  const scan = scanOptions('watch', words, 1, {
    flags: 'bcCdegprtwx',
    valued: 'nq',
    long: ['beep', 'color', 'no-color', 'differences', 'errexit', 'chgexit', 'precise', 'no-rerun', 'no-title', 'no-wrap', 'exec'],
    longValued: ['interval', 'equexit'],
  });
  if ('unknowable' in scan) return unknowableOptions('watch', scan.unknowable);
  const rest = words.slice(scan.index);
  if (rest.length === 0) return NONE;
  if (scan.seen.has('x') || scan.seen.has('exec')) return { inner: [{ words: rest }] };
  // Without -x, watch joins its arguments and gives them to `sh -c`.
  if (rest.some(isUnknown)) return { inner: [], dynamic: 'watch runs its arguments through sh -c, and some are only known when it runs' };
  return { inner: [{ script: rest.map((w) => w.value).join(' ') }] };
}

function unwrapIonice(words: readonly Word[]): Unwrapped {
  const scan = scanOptions('ionice', words, 1, { flags: 't', valued: 'cnpPu', long: ['ignore'], longValued: ['class', 'classdata', 'pid', 'pgid', 'uid'] });
  if ('unknowable' in scan) return unknowableOptions('ionice', scan.unknowable);
  if (['p', 'P', 'u', 'pid', 'pgid', 'uid'].some((o) => scan.seen.has(o))) return NONE; // applies to running processes
  return scan.index < words.length ? { inner: [{ words: words.slice(scan.index) }] } : NONE;
}

function unwrapChroot(words: readonly Word[]): Unwrapped {
  const scan = scanOptions('chroot', words, 1, { long: ['skip-chdir'], longValued: ['userspec', 'groups'] });
  if ('unknowable' in scan) return unknowableOptions('chroot', scan.unknowable);
  const start = scan.index + 1; // after the new root
  if (scan.index >= words.length) return NONE;
  return start < words.length ? { inner: [{ words: words.slice(start) }] } : shellReadingInput('chroot');
}

function unwrapSu(words: readonly Word[]): Unwrapped {
  const grammar: Grammar = {
    flags: 'lmpfP',
    valued: 'cCsgGw',
    long: ['login', 'preserve-environment', 'pty', 'fast'],
    longValued: ['command', 'session-command', 'shell', 'group', 'supp-group', 'whitelist-environment'],
  };
  // util-linux su takes options before and after the user name.
  const seen = new Map<string, OptionValue | true>();
  const operands: Word[] = [];
  let i = 1;
  while (i < words.length) {
    if (words[i]!.value === '-' && !isUnknown(words[i]!)) {
      i++;
      continue;
    }
    const scan = scanOptions('su', words, i, grammar);
    if ('unknowable' in scan) return unknowableOptions('su', scan.unknowable);
    for (const [k, v] of scan.seen) seen.set(k, v);
    if (scan.index >= words.length) break;
    operands.push(words[scan.index]!);
    i = scan.index + 1;
  }
  const script = scriptOf('su', seen.get('c') ?? seen.get('C') ?? seen.get('command') ?? seen.get('session-command'));
  if (script) return script;
  if (operands.length > 1) return { inner: [], dynamic: 'su passes its arguments to a shell as a script, which hoop cannot see' };
  return shellReadingInput('su');
}

function unwrapShell(name: string, words: readonly Word[]): Unwrapped {
  let command = false;
  let informational = false;
  let i = 1;
  while (i < words.length) {
    const w = words[i]!;
    if (isUnknown(w)) {
      if (mayBeOption(w)) return unknowableOptions(name, w);
      break;
    }
    const v = w.value;
    if (v === '--' || v === '-') {
      i++;
      break;
    }
    if (v.startsWith('--')) {
      const long = v.slice(2);
      if (long === 'version' || long === 'help') informational = true;
      i += long === 'rcfile' || long === 'init-file' || long === 'emulate' ? 2 : 1;
      continue;
    }
    if ((v.startsWith('-') || v.startsWith('+')) && v.length > 1) {
      let values = 0;
      for (const ch of v.slice(1)) {
        if (ch === 'c') command = true;
        else if (ch === 'o' || ch === 'O') values++;
      }
      i += 1 + values;
      continue;
    }
    break;
  }
  if (command) {
    const script = words[i];
    if (!script) return { inner: [], dynamic: `${name} -c has no command string` };
    return scriptOf(name, { value: script.value, known: !isUnknown(script) })!;
  }
  if (informational) return NONE;
  if (i < words.length) return { inner: [], dynamic: `${name} runs the script ${brief(words[i]!.raw)}, which hoop cannot see` };
  return { inner: [], dynamic: `${name} reads commands from its input, which hoop cannot see` };
}

function unwrapFind(words: readonly Word[]): Unwrapped {
  const inner: Inner[] = [];
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!;
    if (isUnknown(w) || !['-exec', '-execdir', '-ok', '-okdir'].includes(w.value)) continue;
    let end = i + 1;
    while (end < words.length && !(words[end]!.value === ';' || (words[end]!.value === '+' && !isUnknown(words[end]!)))) end++;
    if (end >= words.length) throw new ShellParseError(`find ${w.value} has no terminating ";" or "+"`);
    const cmd = words.slice(i + 1, end).map((x) => (x.value.includes('{}') ? asRuntime(x) : x));
    if (cmd.length > 0) inner.push({ words: cmd, moreArgs: words[end]!.value === '+' });
    i = end;
  }
  return { inner };
}

function unwrapTrap(words: readonly Word[]): Unwrapped {
  let i = 1;
  if (words[i]?.value === '--') i++;
  const action = words[i];
  if (!action || words.length - i < 2 || (!isUnknown(action) && /^-|^$/.test(action.value))) return NONE;
  return scriptOf('trap', { value: action.value, known: !isUnknown(action) })!;
}

function unwrapAlias(words: readonly Word[]): Unwrapped {
  const inner: Inner[] = [];
  for (const w of words.slice(1)) {
    const eq = w.value.indexOf('=');
    if (eq <= 0) continue;
    if (isUnknown(w)) return { inner: [], dynamic: `the alias ${brief(w.raw)} is only known when it runs` };
    inner.push({ script: w.value.slice(eq + 1) });
  }
  return { inner };
}

const hasFlag = (words: readonly Word[], letter: string): boolean => words.slice(1).some((w) => !isUnknown(w) && /^-[A-Za-z]+$/.test(w.value) && w.value.includes(letter));

const WRAPPERS: Readonly<Record<string, (words: readonly Word[]) => Unwrapped>> = {
  sudo: unwrapSudo,
  sudoedit: () => NONE,
  doas: (words) => {
    const scan = scanOptions('doas', words, 1, { flags: 'Lns', valued: 'Cu' });
    if ('unknowable' in scan) return unknowableOptions('doas', scan.unknowable);
    if (scan.seen.has('C')) return NONE;
    if (scan.index < words.length) return { inner: [{ words: words.slice(scan.index) }] };
    return scan.seen.has('s') ? shellReadingInput('doas') : NONE;
  },
  pkexec: (words) => {
    const r = simpleWrapper('pkexec', words, { long: ['disable-internal-agent', 'keep-cwd', 'help', 'version'], longValued: ['user'] });
    return r.inner.length === 0 && !r.dynamic && !words.some((w) => w.value === '--help' || w.value === '--version') ? shellReadingInput('pkexec') : r;
  },
  env: unwrapEnv,
  nohup: (words) => simpleWrapper('nohup', words, {}),
  nice: unwrapNice,
  timeout: unwrapTimeout,
  time: (words) => simpleWrapper('time', words, { flags: 'pvaq', valued: 'fo', long: ['portability', 'verbose', 'append', 'quiet'], longValued: ['format', 'output'] }),
  exec: (words) => simpleWrapper('exec', words, { flags: 'cl', valued: 'a' }),
  command: (words) => simpleWrapper('command', words, { flags: 'pvV' }),
  builtin: (words) => simpleWrapper('builtin', words, {}),
  xargs: unwrapXargs,
  watch: unwrapWatch,
  stdbuf: (words) => simpleWrapper('stdbuf', words, { valued: 'ioe', longValued: ['input', 'output', 'error'] }),
  ionice: unwrapIonice,
  setsid: (words) => simpleWrapper('setsid', words, { flags: 'cfw', long: ['ctty', 'fork', 'wait'] }),
  chroot: unwrapChroot,
  busybox: (words) => (words.length > 1 ? { inner: [{ words: words.slice(1) }] } : NONE),
  su: unwrapSu,
  find: unwrapFind,
  trap: unwrapTrap,
  alias: unwrapAlias,
  eval: () => ({ inner: [], dynamic: 'eval runs text that is only known when it runs' }),
  source: () => ({ inner: [], dynamic: 'source runs a file hoop cannot see' }),
  '.': () => ({ inner: [], dynamic: '. runs a file hoop cannot see' }),
  let: () => ({ inner: [], dynamic: 'let evaluates arithmetic, where a variable’s value can run commands' }),
  declare: (words) => (hasFlag(words, 'i') ? { inner: [], dynamic: 'declare -i evaluates assignments as arithmetic, where a value can run commands' } : NONE),
  typeset: (words) => (hasFlag(words, 'i') ? { inner: [], dynamic: 'typeset -i evaluates assignments as arithmetic, where a value can run commands' } : NONE),
  local: (words) => (hasFlag(words, 'i') ? { inner: [], dynamic: 'local -i evaluates assignments as arithmetic, where a value can run commands' } : NONE),
  enable: (words) => (hasFlag(words, 'f') ? { inner: [], dynamic: 'enable -f loads code from a file hoop cannot see' } : NONE),
  hash: (words) => (hasFlag(words, 'p') ? { inner: [], dynamic: 'hash -p makes a command name run another program' } : NONE),
};

function unwrap(name: string, words: readonly Word[]): Unwrapped {
  if (POSIX_SHELLS.has(name)) return unwrapShell(name, words);
  if (OTHER_SHELLS.has(name)) return { inner: [], dynamic: `${name} does not use POSIX shell syntax, which is all hoop reads` };
  const handler = Object.hasOwn(WRAPPERS, name) ? WRAPPERS[name] : undefined;
  return handler ? handler(words) : NONE;
}

/**
 * Every simple command the line would run, wrappers before what they wrap, substitutions before
 * the command whose words they are part of.
 * @throws ShellParseError when the line cannot be analysed (unterminated quote, unbalanced
 * parentheses, unsupported syntax, an unknown wrapper option, more than MAX_COMMAND_LINE_CHARS).
 */
export function parseCommandLine(text: string): SimpleCommand[] {
  if (text.length > MAX_COMMAND_LINE_CHARS) throw new ShellParseError(`the command line is ${text.length} characters, more than the ${MAX_COMMAND_LINE_CHARS} hoop analyses`);
  const nul = text.indexOf('\0');
  if (nul >= 0) throw new ShellParseError(`the command line contains a NUL character at character ${nul + 1}`, nul);
  const out: SimpleCommand[] = [];
  new ShellParser(text, out, 0, '').parseAll();
  return out;
}

/** The words of a command pattern, split like a command line; only plain words and globs. */
export function splitPatternWords(text: string): PatternWord[] {
  if (text.length > MAX_COMMAND_LINE_CHARS) throw new ShellParseError('the command pattern is too long');
  if (text.includes('\0')) throw new ShellParseError('the command pattern contains a NUL character');
  return new ShellParser(text, [], 0, 'the pattern').patternWords();
}
