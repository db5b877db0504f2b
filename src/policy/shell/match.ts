/**
 * Command patterns: a policy names commands the way one types them, `rm -rf *`, `sudo *`,
 * `systemctl stop *`, `git push --force* *`. A pattern is split into words by the shell lexer
 * (quotes work: `'*'` is a literal star), then:
 *
 * - The first word matches the command name. Without a `/` it matches the basename, so `rm`
 *   matches `rm`, `/bin/rm` and `./rm`; with a `/` it matches the whole name. `*` and `?` glob.
 * - Option words (starting with `-`, before a `--` word) are a set the command must contain, in
 *   any order, with any other options beside them:
 *   - a short cluster is split into letters, each of which must appear in the command's short
 *     options: `-rf` matches `-rf`, `-fr`, `-r -f`, `-f x -r`, `-vrf`;
 *   - a long option `--force` matches `--force`, `--force=…`, and the abbreviations GNU getopt
 *     accepts (`--forc`, `--f`); `--name=value` matches exactly;
 *   - an option word with `*` or `?` is a glob over each option word as written: `--force*`
 *     matches `--force`, `--force-with-lease`, `--force-with-lease=origin/main`.
 * - The other words are positional: they match the command's non-option arguments one to one,
 *   in order, each a glob. A lone `*` as the last word matches any number of remaining
 *   arguments (none included); without it the command must have exactly as many positional
 *   arguments as the pattern (`git status` matches `git status` and `git status -s`, not
 *   `git status foo`).
 * - In the command, words starting with `-` are options until a `--` word; the rest are
 *   positional. Which options take a value is not known, so the word right after an option
 *   (`-C dir`, `-n prod`) may be that value or a positional argument: the pattern matches for
 *   sure only when it matches either way (`git -C dir push --force x` is a `maybe` for
 *   `git push --force* *`). Short clusters are split into letters whether or not a value is
 *   attached (`-n5` counts as `n` and `5`).
 *
 * Arguments only known at run time (`$dir`, `*.log`, `$(…)`, xargs' input) are each treated as
 * any number of words of any content (an option only if it may start with `-`): `matchWords`
 * answers `yes` when the pattern matches whatever they turn out to be, `maybe` when it matches
 * for some values, `no` when it matches for none.
 */
import { type SimpleCommand, type UnknownWord, ShellParseError, splitPatternWords } from './words.js';

export class CommandPatternError extends ShellParseError {}

type WordTest = (word: string) => boolean;

type OptionRequirement =
  | { readonly kind: 'letter'; readonly letter: string }
  | { readonly kind: 'long'; readonly name: string }
  | { readonly kind: 'exact'; readonly text: string }
  | { readonly kind: 'glob'; readonly re: RegExp };

export interface CompiledCommandPattern {
  readonly source: string;
  readonly command: WordTest;
  readonly byBasename: boolean;
  readonly options: readonly OptionRequirement[];
  readonly positionals: readonly WordTest[];
  /** The pattern ends with a lone `*`. */
  readonly rest: boolean;
}

export type MatchResult = 'yes' | 'maybe' | 'no';

/** The command-line words `matchWords` needs: a SimpleCommand has them all. */
export type MatchableCommand = Pick<SimpleCommand, 'argv'> & Partial<Pick<SimpleCommand, 'unknown' | 'moreArgs'>>;

const cache = new Map<string, CompiledCommandPattern>();
/** Patterns come from policy files: a few hundred at most. Past this the cache stops growing. */
const MAX_CACHED_PATTERNS = 4096;

const isOptionWord = (w: string): boolean => w.length > 1 && w.startsWith('-');

/** @throws CommandPatternError naming what is wrong with the pattern. */
export function compileCommandPattern(pattern: string): CompiledCommandPattern {
  const cached = cache.get(pattern);
  if (cached) return cached;
  let words;
  try {
    words = splitPatternWords(pattern);
  } catch (err) {
    throw new CommandPatternError((err as Error).message);
  }
  const [head, ...rest] = words;
  if (!head) throw new CommandPatternError('a command pattern needs at least the command name');
  if (head.value === '') throw new CommandPatternError('the command name of a pattern cannot be empty');
  const test = (w: { value: string; glob: RegExp | null }): WordTest => (w.glob ? (s) => w.glob!.test(s) : (s) => s === w.value);
  const options: OptionRequirement[] = [];
  const positionals: WordTest[] = [];
  let restStar = false;
  let optionsOpen = true;
  rest.forEach((w, i) => {
    if (w.loneStar && i === rest.length - 1) {
      restStar = true;
      return;
    }
    if (optionsOpen && w.value === '--' && !w.glob) {
      optionsOpen = false;
      return;
    }
    if (optionsOpen && isOptionWord(w.value)) {
      if (w.glob) options.push({ kind: 'glob', re: w.glob });
      else if (w.value.startsWith('--')) {
        if (w.value.includes('=')) options.push({ kind: 'exact', text: w.value });
        else options.push({ kind: 'long', name: w.value.slice(2) });
      } else for (const letter of new Set(w.value.slice(1))) options.push({ kind: 'letter', letter });
      return;
    }
    positionals.push(test(w));
  });
  const compiled: CompiledCommandPattern = { source: pattern, command: test(head), byBasename: !head.value.includes('/'), options, positionals, rest: restStar };
  if (cache.size < MAX_CACHED_PATTERNS) cache.set(pattern, compiled);
  return compiled;
}

function satisfies(req: OptionRequirement, option: string): boolean {
  switch (req.kind) {
    case 'letter':
      return !option.startsWith('--') && option.includes(req.letter, 1);
    case 'long': {
      if (!option.startsWith('--') || option.length < 3) return false;
      const eq = option.indexOf('=');
      const name = eq === -1 ? option.slice(2) : option.slice(2, eq);
      return req.name.startsWith(name);
    }
    case 'exact':
      return option === req.text;
    case 'glob':
      return req.re.test(option);
  }
}

type Item =
  /** A positional argument. */
  | { readonly kind: 'P'; readonly value: string }
  /** Certainly an option. */
  | { readonly kind: 'O'; readonly value: string }
  /** An option unless an earlier unknown word turned out to be `--`: then positional. */
  | { readonly kind: 'E'; readonly value: string }
  /** Right after an option: that option's value, or a positional argument. */
  | { readonly kind: 'V'; readonly value: string }
  /** Zero or more words of any content. */
  | { readonly kind: 'U'; readonly mayBeOption: boolean };

function items(cmd: MatchableCommand, optionValues: boolean): Item[] {
  const unknown = new Map<number, UnknownWord>((cmd.unknown ?? []).map((u) => [u.index, u]));
  const out: Item[] = [];
  let optionsOpen = true;
  let uncertain = false;
  let afterOption = false;
  for (let i = 1; i < cmd.argv.length; i++) {
    const v = cmd.argv[i]!;
    const u = unknown.get(i);
    const previousWasOption = afterOption;
    afterOption = false;
    if (u) {
      const mayBeOption = u.mayBeOption && optionsOpen;
      out.push({ kind: 'U', mayBeOption });
      if (mayBeOption) uncertain = true;
      continue;
    }
    if (!optionsOpen) out.push({ kind: 'P', value: v });
    else if (v === '--') {
      if (uncertain) out.push({ kind: 'E', value: v });
      optionsOpen = false;
    } else if (isOptionWord(v)) {
      out.push({ kind: uncertain ? 'E' : 'O', value: v });
      afterOption = !v.includes('=');
    } else out.push({ kind: previousWasOption && optionValues ? 'V' : 'P', value: v });
  }
  if (cmd.moreArgs) out.push({ kind: 'U', mayBeOption: optionsOpen });
  return out;
}

function basename(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' ? path : trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** Whether the pattern matches the command, for every, some or no value of its unknown words. */
export function matchWords(pattern: CompiledCommandPattern, cmd: MatchableCommand): MatchResult {
  const name = cmd.argv[0];
  if (name === undefined) return 'no';
  if (!pattern.command(pattern.byBasename ? basename(name) : name)) return 'no';
  const seq = items(cmd, true);
  return definitely(pattern, seq) ? 'yes' : possibly(pattern, seq) ? 'maybe' : 'no';
}

function definitely(p: CompiledCommandPattern, seq: readonly Item[]): boolean {
  const options = seq.filter((x) => x.kind === 'O').map((x) => x.value);
  if (!p.options.every((r) => options.some((o) => satisfies(r, o)))) return false;
  const firstUnsure = seq.findIndex((x) => x.kind === 'U' || x.kind === 'E' || x.kind === 'V');
  const sure = (firstUnsure === -1 ? seq : seq.slice(0, firstUnsure)).filter((x) => x.kind === 'P').map((x) => x.value);
  if (firstUnsure !== -1 && !p.rest) return false;
  if (p.rest ? sure.length < p.positionals.length : sure.length !== p.positionals.length) return false;
  return p.positionals.every((t, j) => t(sure[j]!));
}

function possibly(p: CompiledCommandPattern, seq: readonly Item[]): boolean {
  const anyOption = seq.some((x) => x.kind === 'U' && x.mayBeOption);
  if (!anyOption) {
    const options = seq.filter((x) => x.kind === 'O' || x.kind === 'E').map((x) => x.value);
    if (!p.options.every((r) => options.some((o) => satisfies(r, o)))) return false;
  }
  // Can the positional words line up with the pattern's? Each unknown word may be any number of
  // words, an uncertain option may be positional or not. States: pattern words matched so far.
  const m = p.positionals.length;
  let states = new Set<number>([0]);
  for (const x of seq) {
    if (x.kind === 'O') continue;
    const next = new Set<number>();
    for (const j of states) {
      if (x.kind === 'U') {
        for (let k = j; k <= m; k++) next.add(k);
        continue;
      }
      if (j < m && p.positionals[j]!(x.value)) next.add(j + 1);
      if (j === m && p.rest) next.add(m);
      if (x.kind === 'E' || x.kind === 'V') next.add(j);
    }
    if (next.size === 0) return false;
    states = next;
  }
  return states.has(m);
}

/**
 * Whether `argv` (all words literal) matches `pattern`, reading every option as a flag: the word
 * after an option is positional. The policy uses `matchWords`, which also considers that it may be
 * the option's value.
 */
export function matchCommand(pattern: string | CompiledCommandPattern, argv: readonly string[]): boolean {
  const p = typeof pattern === 'string' ? compileCommandPattern(pattern) : pattern;
  const name = argv[0];
  if (name === undefined || !p.command(p.byBasename ? basename(name) : name)) return false;
  return definitely(p, items({ argv }, false));
}
