import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_COMMAND_LINE_CHARS, MAX_SHELL_NESTING, ShellParseError, type SimpleCommand, parseCommandLine } from '../../src/policy/shell/words.js';
import { tempDir } from '../support/hoop.js';

/** Each simple command as `argv joined by " | "`, wrapped ones prefixed with `wrapper> `, dynamic ones with `!`. */
function summary(line: string): string[] {
  return parseCommandLine(line).map((c) => `${c.dynamic ? '!' : ''}${c.wrappedBy ? `${c.wrappedBy}> ` : ''}${c.argv.join(' | ')}`);
}

describe('parseCommandLine: simple commands', () => {
  const cases: [string, string[]][] = [
    ['ls', ['ls']],
    ['ls -la /tmp', ['ls | -la | /tmp']],
    ['  ls\t-l  ', ['ls | -l']],
    ["echo 'a b' \"c d\" e\\ f", ['echo | a b | c d | e f']],
    ["echo 'it''s' \"x\"y'z'", ['echo | its | xyz']],
    ['echo "a \\" b \\\\ c \\$HOME \\x"', ['echo | a " b \\ c $HOME \\x']],
    ["echo '\\n' \\n", ['echo | \\n | n']],
    ['r\\m -rf x', ['rm | -rf | x']],
    ["r''m -rf x", ['rm | -rf | x']],
    ['"rm" -rf x', ['rm | -rf | x']],
    ["$'\\x72\\155' -rf /", ['rm | -rf | /']],
    ["echo $'a\\tb\\'c'", ['echo | a\tb\'c']],
    ["echo $'ab\\0cd'", ['echo | ab']],
    ['echo $"hello"', ['echo | hello']],
    ['a; b && c || d | e & f', ['a', 'b', 'c', 'd', 'e', 'f']],
    ['a |& b', ['a', 'b']],
    ['a\nb\n\nc', ['a', 'b', 'c']],
    ['(a; b) && { c; d; }', ['a', 'b', 'c', 'd']],
    ['( ( a ) )', ['a']],
    ['{ a; { b; }; }', ['a', 'b']],
    ['echo }', ['echo | }']],
    ['echo {', ['echo | {']],
    ['echo a # rm -rf /', ['echo | a']],
    ['# only a comment', []],
    ['echo a#b', ['echo | a#b']],
    ['echo x \\\n  y', ['echo | x | y']],
    ['ls > out 2>&1 < in >> log &> all 3<> rw', ['ls']],
    ['cat <<< "here string" > /dev/null', ['cat']],
    ['2>/dev/null rm -rf x', ['rm | -rf | x']],
    ['ls 2> err', ['ls']],
    ['ls 2 > err', ['ls | 2']],
    ['exec {fd}> file', ['exec']],
    ['FOO=1 BAR="x y" cmd arg', ['cmd | arg']],
    ['FOO=1', []],
    ['A+=x B[1]=y cmd', ['cmd']],
    ['arr=(a "b c" $(inner)) cmd', ['inner', 'cmd']],
    ['cmd FOO=1', ['cmd | FOO=1']],
    ['"FOO"=1 cmd', ['FOO=1 | cmd']],
    ['echo $(a $(b) c)', ['b', 'a | $(b) | c', 'echo | $(a $(b) c)']],
    ['echo `a \\`b\\``', ['b', 'a | `b`', 'echo | `a \\`b\\``']],
    ['echo "$(a "q")"', ['a | q', 'echo | $(a "q")']],
    ['x=$(rm -rf /)', ['rm | -rf | /']],
    ['ls > $(evil)', ['evil', 'ls']],
    ['diff <(a) >(b)', ['a', 'b', 'diff | <(a) | >(b)']],
    ['echo ${x:-$(a)}', ['a', 'echo | ${x:-$(a)}']],
    ['echo ${x:-"}"}', ['echo | ${x:-"}"}']],
    ['echo $((1 + 2)) $[3*4]', ['echo | $((1 + 2)) | $[3*4]']],
    ['echo $(( $(a) ))', ['a', '!$(( $(a) ))', 'echo | $(( $(a) ))']],
    ['if a; then b; elif c; then d; else e; fi', ['a', 'b', 'c', 'd', 'e']],
    ['while a; do b; done; until c; do d; done', ['a', 'b', 'c', 'd']],
    ['! a', ['a']],
    ['time { a; b; } 2>&1', ['a', 'b']],
    ['time -p ( a ) | b', ['a', 'b']],
    ['time ! a', ['a']],
    ['for i in 1 2 $(a); do b "$i"; done', ['a', 'b | $i']],
    ['for i\ndo b; done', ['b']],
    ['for ((;;)); do b; done', ['b']],
    ['select x in a b; do c; done', ['c']],
    ['case $(a) in x|y) b;; (z) c ;& *) d;;& esac; e', ['a', 'b', 'c', 'd', 'e']],
    ['case x in\n  a)\n    b\n    ;;\nesac', ['b']],
    ['case x in a) b;; esac', ['b']],
    ['case x in a) b; esac', ['b']],
    ['f() { a; }; f', ['a', 'f']],
    ['function g { a; }', ['a']],
    ['function h() { a; }', ['a']],
    ['[[ -f /x && $(a) == y ]] && b', ['a', 'b']],
    ['[[ $x =~ ^(a|b)$ ]]', []],
    ['cat <<EOF\nrm -rf /\n$(a)\nEOF\nb', ['cat', 'a', 'b']],
    ["cat <<'EOF'\n$(a)\nEOF", ['cat']],
    ['cat <<"EOF"\n$(a)\nEOF', ['cat']],
    ['cat <<\\EOF\n$(a)\nEOF', ['cat']],
    ['cat <<-EOF\n\t$(a)\n\tEOF\nb', ['cat', 'a', 'b']],
    ['cat <<A <<B\nx\nA\ny\nB\nc', ['cat', 'c']],
    ['cat <<EOF; b\nbody\nEOF', ['cat', 'b']],
    ['echo $(cat <<EOF\nx\nEOF\n)', ['cat', 'echo | $(cat <<EOF\nx\nEOF\n)']],
    ['echo ~ ~/x', ['echo | ~ | ~/x']],
    ['echo a=b --c=d', ['echo | a=b | --c=d']],
  ];
  it.each(cases)('%j', (line, expected) => {
    expect(summary(line)).toEqual(expected);
  });
});

describe('parseCommandLine: wrappers', () => {
  const cases: [string, string[]][] = [
    ['sudo rm -rf /', ['sudo | rm | -rf | /', 'sudo> rm | -rf | /']],
    ['sudo -u root -E -- rm x', ['sudo | -u | root | -E | -- | rm | x', 'sudo> rm | x']],
    ['sudo -uroot -nH FOO=1 rm x', ['sudo | -uroot | -nH | FOO=1 | rm | x', 'sudo> rm | x']],
    ['sudo --user=root --preserve-env=A,B rm', ['sudo | --user=root | --preserve-env=A,B | rm', 'sudo> rm']],
    ['sudo -e /etc/hosts', ['sudo | -e | /etc/hosts']],
    ['sudo -l', ['sudo | -l']],
    ['sudo -s', ['!sudo | -s']],
    ['sudo -i whoami', ['sudo | -i | whoami', 'sudo> whoami']],
    ['doas -u bob rm x', ['doas | -u | bob | rm | x', 'doas> rm | x']],
    ['env -i A=1 B=2 rm x', ['env | -i | A=1 | B=2 | rm | x', 'env> rm | x']],
    ['env - -u HOME rm', ['env | - | -u | HOME | rm', 'env> rm']],
    ['env', ['env']],
    ['nohup rm x', ['nohup | rm | x', 'nohup> rm | x']],
    ['nice -n 5 rm x', ['nice | -n | 5 | rm | x', 'nice> rm | x']],
    ['nice -10 rm x', ['nice | -10 | rm | x', 'nice> rm | x']],
    ['timeout -s KILL 10s rm x', ['timeout | -s | KILL | 10s | rm | x', 'timeout> rm | x']],
    ['timeout --preserve-status 5 rm', ['timeout | --preserve-status | 5 | rm', 'timeout> rm']],
    ['time -p rm x', ['time | -p | rm | x', 'time> rm | x']],
    ['time', ['time']],
    ['exec -a name rm x', ['exec | -a | name | rm | x', 'exec> rm | x']],
    ['command -p rm x', ['command | -p | rm | x', 'command> rm | x']],
    ['builtin cd /', ['builtin | cd | /', 'builtin> cd | /']],
    ['stdbuf -oL rm x', ['stdbuf | -oL | rm | x', 'stdbuf> rm | x']],
    ['ionice -c 3 rm x', ['ionice | -c | 3 | rm | x', 'ionice> rm | x']],
    ['ionice -p 123', ['ionice | -p | 123']],
    ['setsid -f rm x', ['setsid | -f | rm | x', 'setsid> rm | x']],
    ['chroot /srv rm x', ['chroot | /srv | rm | x', 'chroot> rm | x']],
    ['chroot /srv', ['!chroot | /srv']],
    ['busybox rm x', ['busybox | rm | x', 'busybox> rm | x']],
    ['pkexec --user root rm x', ['pkexec | --user | root | rm | x', 'pkexec> rm | x']],
    ['xargs -0 -n 1 rm -f', ['xargs | -0 | -n | 1 | rm | -f', 'xargs> rm | -f']],
    ['xargs', ['xargs']],
    ['watch -n 1 "ls; rm x"', ['watch | -n | 1 | ls; rm x', 'watch> ls', 'watch> rm | x']],
    ['watch -x rm x', ['watch | -x | rm | x', 'watch> rm | x']],
    ['find . -name x -exec rm -f {} \\; -print', ['find | . | -name | x | -exec | rm | -f | {} | ; | -print', 'find> rm | -f | {}']],
    ['find . -execdir rm {} +', ['find | . | -execdir | rm | {} | +', 'find> rm | {}']],
    ["sh -c 'rm -rf /; reboot'", ['sh | -c | rm -rf /; reboot', 'sh> rm | -rf | /', 'sh> reboot']],
    ['bash -ec "sudo rm x" name arg', ['bash | -ec | sudo rm x | name | arg', 'bash> sudo | rm | x', 'sudo> rm | x']],
    ["bash -o pipefail -c 'a | b'", ['bash | -o | pipefail | -c | a | b', 'bash> a', 'bash> b']],
    ["zsh -c 'a'", ['zsh | -c | a', 'zsh> a']],
    ["dash -c 'a'", ['dash | -c | a', 'dash> a']],
    ["/bin/sh -c 'a'", ['/bin/sh | -c | a', 'sh> a']],
    ["su -c 'rm x' root", ['su | -c | rm x | root', 'su> rm | x']],
    ["su - root -c 'rm x'", ['su | - | root | -c | rm x', 'su> rm | x']],
    ['su', ['!su']],
    ["sudo sh -c 'a; sudo b'", ['sudo | sh | -c | a; sudo b', 'sudo> sh | -c | a; sudo b', 'sh> a', 'sh> sudo | b', 'sudo> b']],
    ["trap 'rm -rf /tmp/x' EXIT", ['trap | rm -rf /tmp/x | EXIT', 'trap> rm | -rf | /tmp/x']],
    ['trap - EXIT', ['trap | - | EXIT']],
    ["alias ll='ls -l' x='rm -rf /'", ['alias | ll=ls -l | x=rm -rf /', 'alias> ls | -l', 'alias> rm | -rf | /']],
    ['ssh host rm -rf /', ['ssh | host | rm | -rf | /']],
    ['bash --version', ['bash | --version']],
  ];
  it.each(cases)('%j', (line, expected) => {
    expect(summary(line)).toEqual(expected);
  });

  it('marks arguments only known at run time, and whether they can be options', () => {
    const cmd = parseCommandLine('rm -rf "$DIR" /x/$Y ./*.log *.log x{a,b} {} ~ "$(pwd)"/x').at(-1);
    expect(cmd!.unknown).toEqual([
      { index: 2, mayBeOption: true },
      { index: 3, mayBeOption: true }, // unquoted: split into fields
      { index: 4, mayBeOption: false },
      { index: 5, mayBeOption: true },
      { index: 6, mayBeOption: false },
      { index: 8, mayBeOption: false }, // ~ is the home directory
      { index: 9, mayBeOption: true },
    ]);
    expect(cmd!.text).toBe(`rm -rf "$DIR" /x/$Y ./*.log *.log x{a,b} '{}' ~ "$(pwd)"/x`);
  });

  it('gives xargs and find -exec … + commands more arguments at run time', () => {
    const xargs = parseCommandLine('xargs -I{} sudo cp {} /dst');
    expect(xargs.map((c) => [c.argv[0], c.moreArgs])).toEqual([
      ['xargs', false],
      ['sudo', true],
      ['cp', true],
    ]);
    expect(xargs[1]!.unknown).toEqual([{ index: 2, mayBeOption: true }]);
    expect(parseCommandLine('find . -exec rm {} +')[1]!.moreArgs).toBe(true);
    expect(parseCommandLine('find . -exec rm {} \\;')[1]!.moreArgs).toBe(false);
  });

  it('re-joins each command for display', () => {
    expect(parseCommandLine("echo 'a b' \"it's\" '' x").map((c) => c.text)).toEqual([`echo 'a b' 'it'\\''s' '' x`]);
  });
});

describe('parseCommandLine: what cannot be known is dynamic', () => {
  const cases: [string, RegExp][] = [
    ['$CMD -rf /', /command name \(\$CMD\) is only known when it runs/],
    ['"$CMD" x', /only known when it runs/],
    ['$(which rm) -rf /', /only known when it runs/],
    ['`which rm` x', /only known when it runs/],
    ['/bin/r? -rf /', /a pattern the shell expands/],
    ['{rm,-rf,/}', /a pattern the shell expands/],
    ['r[m] x', /a pattern the shell expands/],
    ['eval "rm -rf /"', /eval runs text/],
    ['source ./x.sh', /source runs a file/],
    ['. ./x.sh', /\. runs a file/],
    ['bash', /reads commands from its input/],
    ['bash -s', /reads commands from its input/],
    ['sh script.sh', /runs the script script.sh/],
    ['sudo bash', /reads commands from its input/],
    ['bash -c "$X"', /only known when it runs/],
    ['bash -c -- "$X"', /command string given to bash is only known/],
    ['bash -c', /no command string/],
    ['sudo $OPTS rm', /sudo is given \$OPTS/],
    ['su root', /opens a shell/],
    ['su -c "$X"', /command string given to su/],
    ['fish -c "rm x"', /not use POSIX shell syntax/],
    ['echo $((x + 1))', /arithmetic on variables/],
    ['echo $[x]', /arithmetic on variables/],
    ['((x++))', /arithmetic on variables/],
    ['for ((i=0; i<3; i++)); do a; done', /arithmetic on variables/],
    ['[[ $a -eq 1 ]]', /arithmetic comparison/],
    ['echo ${s:$n}', /substring offset/],
    ['echo ${a[$i]}', /array subscript/],
    ['echo ${(e)x}', /zsh parameter flags/],
    ['let x=1', /let evaluates arithmetic/],
    ['declare -i x=1', /declare -i/],
    ['enable -f ./x.so x', /enable -f/],
    ['hash -p /tmp/x ls', /hash -p/],
    ['watch "rm $X"', /watch runs its arguments through sh -c/],
    ['x=$((y))', /arithmetic on variables/],
    ['cat <<EOF\n$((x))\nEOF', /arithmetic on variables/],
  ];
  it.each(cases)('%j', (line, reason) => {
    const dynamic = parseCommandLine(line).filter((c) => c.dynamic);
    expect(dynamic.length, JSON.stringify(parseCommandLine(line))).toBeGreaterThan(0);
    expect(dynamic.map((c) => c.dynamicReason).join('\n')).toMatch(reason);
  });

  it('does not mark plain expansions in arguments, or literal arithmetic, as dynamic', () => {
    for (const line of ['echo $HOME', 'rm -rf "$DIR"', 'echo $((1+2)) $((0x1f)) $((16#ff))', 'echo ${x:-default} ${#x} ${a[@]}', 'for f in *; do echo "$f"; done']) {
      expect(parseCommandLine(line).filter((c) => c.dynamic), line).toEqual([]);
    }
  });
});

describe('parseCommandLine: refuses what it cannot analyse', () => {
  const cases: [string, RegExp][] = [
    ["echo 'abc", /unterminated single quote, at character 6/],
    ['echo "abc', /unterminated double quote, at character 6/],
    ['echo `abc', /unterminated backquote/],
    ['echo $(abc', /unterminated \$\( or <\(/],
    ['echo ${abc', /unterminated \$\{/],
    ['echo $((1+2)', /unterminated \$\(\(|unbalanced/],
    ["echo $'abc", /unterminated \$'/],
    ['(a; b', /unterminated "\("/],
    ['a; b)', /unexpected "\)"/],
    ['{ a; b', /unterminated "\{"/],
    ['a; }', /unexpected "\}"/],
    ['echo (x)', /unexpected "\("/],
    ['ls *(e:x:)', /unexpected "\("/],
    ['ls !(x)', /unexpected "\("/],
    ['ls >', /redirection ">" has no target/],
    ['cat <<EOF\nabc', /here-document "EOF" has no terminating "EOF" line/],
    ['cat <<EOF', /here-document "EOF" has no body/],
    ['case x in a) b;;', /unterminated case/],
    ['a ;; b', /outside a case statement/],
    ['coproc x', /coproc is not supported/],
    ['[[ -f x', /unterminated "\[\["/],
    ['sudo --frobnicate rm', /sudo: unknown option --frobnicate/],
    ['sudo -Z rm', /sudo: unknown option -Z/],
    ['env -S "rm x"', /env -S/],
    ['find . -exec rm {}', /find -exec has no terminating/],
    ["sh -c 'echo \"x'", /unterminated double quote.*of the sh command string/],
    ['echo $(echo "x)', /unterminated double quote/],
    ['a\0b', /NUL character/],
  ];
  it.each(cases)('%j', (line, message) => {
    let caught: unknown;
    try {
      parseCommandLine(line);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ShellParseError);
    expect((caught as ShellParseError).code).toBe('HOOP_SHELL_PARSE');
    expect((caught as Error).message).toMatch(message);
  });

  it('refuses input longer than the cap, and nesting deeper than the cap', () => {
    expect(() => parseCommandLine('x'.repeat(MAX_COMMAND_LINE_CHARS))).not.toThrow();
    expect(() => parseCommandLine('x'.repeat(MAX_COMMAND_LINE_CHARS + 1))).toThrow(/more than the 65536/);
    const nested = (n: number): string => `${'$('.repeat(n)}a${')'.repeat(n)}`;
    expect(() => parseCommandLine(nested(MAX_SHELL_NESTING - 1))).not.toThrow();
    expect(() => parseCommandLine(nested(MAX_SHELL_NESTING + 1))).toThrow(/nested more than 32 levels/);
    // A command string is one more level: what passes on its own is too deep inside sh -c.
    expect(() => parseCommandLine(`sh -c '${nested(MAX_SHELL_NESTING - 1)}'`)).toThrow(/nested more than 32 levels/);
    expect(() => parseCommandLine(`${'sudo '.repeat(MAX_SHELL_NESTING + 1)}ls`)).toThrow(/nested more than 32 levels/);
    expect(() => parseCommandLine(`${'sudo '.repeat(12_000)}ls`)).toThrow(/nested more than 32 levels/);
    expect(parseCommandLine(`${'sudo '.repeat(MAX_SHELL_NESTING - 2)}ls`)).toHaveLength(MAX_SHELL_NESTING - 1);
    // Deep ( … ) and { …; } nesting does not recurse, and is not limited.
    expect(summary(`${'( '.repeat(5000)}a${' )'.repeat(5000)}`)).toEqual(['a']);
  });

  it('malformed lines it refuses are syntax errors for bash too', () => {
    for (const line of ["echo 'abc", 'echo "abc', 'echo $(abc', '(a; b', 'a; b)', '{ a; b', 'echo (x)', 'ls >', 'a ;; b', 'case x in a) b;;', '[[ -f x']) {
      const r = spawnSync('bash', ['-n', '-c', line], { encoding: 'utf8' });
      expect(r.status, line).not.toBe(0);
    }
  });
});

/**
 * The parser against real shells: every command name used is a recorder on a private PATH that
 * writes its argv to a file and prints nothing. What the shell ran must be what the parser listed.
 */
describe('parseCommandLine agrees with bash and dash', () => {
  const dir = tempDir('shell-words');
  const bin = join(dir, 'bin');
  const log = join(dir, 'log');
  mkdirSync(bin);
  mkdirSync(log);
  const recorder = join(dir, 'record');
  writeFileSync(recorder, `#!/bin/sh\nprintf '%s\\0' "$0" "$@" > "$HOOP_REC_DIR/$$"\n`);
  chmodSync(recorder, 0o755);
  for (const name of ['alpha', 'beta', 'gamma', 'delta', 'cat', 'xargs', 'sudo']) symlinkSync(recorder, join(bin, name));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function runIn(shell: string, line: string): string[][] {
    for (const f of readdirSync(log)) rmSync(join(log, f));
    // The exit status is not the point (`! alpha` fails); what ran is.
    const r = spawnSync(`/usr/bin/${shell}`, ['-c', line], { env: { PATH: bin, HOOP_REC_DIR: log, LC_ALL: 'C.UTF-8' }, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    expect(r.stderr).toBe('');
    return readdirSync(log).map((f) => {
      const [argv0, ...args] = readFileSync(join(log, f), 'utf8').split('\0').slice(0, -1);
      return [argv0!.slice(argv0!.lastIndexOf('/') + 1), ...args];
    });
  }

  /** A parsed command covers a run when its known words are equal and each unknown word stands for zero or more words. */
  function covers(cmd: SimpleCommand, run: readonly string[]): boolean {
    const unknown = new Set(cmd.unknown.map((u) => u.index));
    const step = (i: number, j: number): boolean => {
      if (i === cmd.argv.length) return j === run.length;
      if (unknown.has(i)) {
        for (let k = j; k <= run.length; k++) if (step(i + 1, k)) return true;
        return false;
      }
      const want = i === 0 ? cmd.argv[0]!.slice(cmd.argv[0]!.lastIndexOf('/') + 1) : cmd.argv[i];
      return j < run.length && run[j] === want && step(i + 1, j + 1);
    };
    return step(0, 0);
  }

  const lines = [
    'alpha a b',
    "alpha 'x  y' \"z\\\"w\" e\\ f ''",
    'alpha "a\\$b\\`c\\\\d" \'$x\' \\$y',
    'alpha; beta && gamma | delta',
    '(alpha; (beta)) && { gamma; delta; }',
    'alpha $(beta) "$(gamma x)"',
    'alpha `beta` "`gamma q`"',
    'alpha > out 2>&1 < /dev/null; beta 2> err 3<> rw >> appended',
    'A=1 B="x y" alpha c=d',
    'alpha x \\\n y # beta',
    'if alpha; then beta; else gamma; fi',
    'while false; do beta; done; alpha',
    'for i in 1; do alpha "$i"; done',
    'case x in x) alpha;; y) beta;; esac',
    'cat <<EOF\n$(alpha inside)\nEOF\nbeta',
    "cat <<'EOF'\n$(alpha inside)\nEOF",
    'f() { alpha "$@"; }; f x',
    'alpha x{a,b}y',
    'alpha ~/x',
    'sudo -u root alpha x',
    'alpha | xargs -0 beta',
    '! alpha',
    'alpha $( (beta) )',
    'alpha "$(beta "$(gamma)")"',
    'alpha && beta || gamma',
    'for i in a b; do alpha; done',
    'alpha 2>/dev/null',
    'x=$(alpha) beta',
    'alpha <<< "$(beta)"',
  ];

  for (const shell of ['bash', 'dash']) {
    it.each(shell === 'dash' ? lines.filter((l) => !l.includes('<<<')) : lines)(`${shell}: %j`, (line) => {
      const parsed = parseCommandLine(line).filter((c) => !c.wrappedBy && !c.dynamic);
      const runs = runIn(shell, line);
      for (const run of runs) expect(parsed.some((c) => covers(c, run)), `${shell} ran ${JSON.stringify(run)}; parsed ${JSON.stringify(parsed.map((c) => c.argv))}`).toBe(true);
      // Everything listed ran, except what a condition skipped.
      if (!/while false|\|\| gamma|else|case/.test(line)) {
        const names = new Set(runs.map((r) => r[0]));
        for (const c of parsed) expect(names.has(c.argv[0]!.slice(c.argv[0]!.lastIndexOf('/') + 1)) || c.argv[0] === 'f', `${c.argv.join(' ')} did not run`).toBe(true);
      }
    });
  }

  it("bash: $'…' decodes as bash does", () => {
    const line = "alpha $'\\x61\\t\\101\\u00e9\\cA\\e' $'a\\'b'";
    expect(runIn('bash', line)).toEqual([parseCommandLine(line)[0]!.argv]);
  });
});
