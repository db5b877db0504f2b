import { describe, expect, it } from 'vitest';
import { CommandPatternError, compileCommandPattern, matchCommand, matchWords } from '../../src/policy/shell/match.js';
import { parseCommandLine } from '../../src/policy/shell/words.js';

/** Splits a literal command the way the tests write it (no expansions). */
const argv = (line: string): string[] => {
  const [cmd, ...rest] = parseCommandLine(line);
  expect(rest.filter((c) => !c.wrappedBy)).toEqual([]);
  expect(cmd!.unknown).toEqual([]);
  return [...cmd!.argv];
};

describe('matchCommand', () => {
  // pattern, command, matches
  const cases: [string, string, boolean][] = [
    // command name: basename unless the pattern has a slash
    ['rm *', 'rm x', true],
    ['rm *', '/bin/rm x', true],
    ['rm *', './rm x', true],
    ['rm *', 'rmdir x', false],
    ['rm *', 'xrm x', false],
    ['/bin/rm *', '/bin/rm x', true],
    ['/bin/rm *', 'rm x', false],
    ['/usr/*/rm *', '/usr/local/rm x', true],
    ['mkfs* *', 'mkfs.ext4 /dev/sda1', true],
    ['mkfs* *', 'mkfs -t ext4 /dev/sda1', true],
    ['mkfs* *', '/sbin/mkfs.xfs /dev/sdb', true],
    ['mkfs* *', 'mkdir x', false],
    ['mkfs*', 'mkfs.ext4 /dev/sda1', false],
    ['mkfs*', 'mkfs.ext4', true],
    ['* --no-verify *', 'git commit --no-verify -m x', true],
    ['?? *', 'rm x', true],
    ['?? *', 'sudo x', false],
    // a final lone * is zero or more remaining arguments
    ['sudo *', 'sudo', true],
    ['sudo *', 'sudo rm -rf /', true],
    ['sudo *', 'sudo -u root -- ls', true],
    ['sudo *', '/usr/bin/sudo -i', true],
    ['sudo *', 'sudoedit /etc/hosts', false],
    ['reboot', 'reboot', true],
    ['reboot', 'reboot now', false],
    ['reboot', 'reboot -f', true],
    // short option clusters are split and order-insensitive
    ['rm -rf *', 'rm -rf x', true],
    ['rm -rf *', 'rm -fr x', true],
    ['rm -rf *', 'rm -r -f x', true],
    ['rm -rf *', 'rm -f x -r', true],
    ['rm -rf *', 'rm -vrf x', true],
    ['rm -rf *', 'rm -rf', true],
    ['rm -rf *', 'rm -r x', false],
    ['rm -rf *', 'rm -f x', false],
    ['rm -rf *', 'rm -R -f x', false],
    ['rm -rf *', 'rm x', false],
    ['rm -rf *', 'rm -- -rf', false],
    ['rm -rf *', 'rm --recursive --force x', false],
    ['rm -rf', 'rm -rf x', false],
    ['rm -rf', 'rm -rf', true],
    ['rm -r -f *', 'rm -rf x', true],
    // long options: exact, with a value, abbreviated; --name=value exactly; globs as written
    ['rm --recursive *', 'rm --recursive x', true],
    ['rm --recursive *', 'rm --rec x', true],
    ['rm --recursive *', 'rm --recursive=yes x', true],
    ['rm --recursive *', 'rm --recursively x', false],
    ['rm --recursive *', 'rm -r x', false],
    ['git push --force *', 'git push --force origin main', true],
    ['git push --force *', 'git push origin main --force', true],
    ['git push --force *', 'git push --force-with-lease origin', false],
    ['git push --force* *', 'git push --force-with-lease=origin/main origin', true],
    ['git push --force* *', 'git push --force', true],
    ['git push --force* *', 'git push -f', false],
    ['git push --force*', 'git push --force origin main', false],
    ['git push --force*', 'git push --force', true],
    ['curl --data=x *', 'curl --data=x http://h', true],
    ['curl --data=x *', 'curl --data=y http://h', false],
    ['ls -* *', 'ls -la /', true],
    ['ls -* *', 'ls /', false],
    // positional words in order, each a glob
    ['systemctl stop *', 'systemctl stop nginx', true],
    ['systemctl stop *', 'systemctl stop', true],
    ['systemctl stop *', 'systemctl --now stop nginx', true],
    ['systemctl stop *', 'systemctl status nginx', false],
    ['systemctl stop *', 'systemctl nginx stop', false],
    ['systemctl stop nginx', 'systemctl stop nginx', true],
    ['systemctl stop nginx', 'systemctl stop nginx redis', false],
    ['systemctl stop ngin?', 'systemctl stop nginx', true],
    ['systemctl st* *', 'systemctl start x', true],
    ['kubectl delete *', 'kubectl delete pod x -n prod', true],
    ['kubectl delete *', 'kubectl get pods', false],
    ['git status', 'git status', true],
    ['git status', 'git status -s', true],
    ['git status', 'git status foo', false],
    ['git * main', 'git push main', true],
    ['git * main', 'git push origin main', false],
    ['cp * /etc/*', 'cp a /etc/passwd', true],
    ['cp * /etc/*', 'cp a /tmp/b', false],
    // quoting in patterns: a quoted star is a star
    ["echo '*'", 'echo "*"', true],
    ["echo '*'", 'echo x', false],
    ['echo "a b"', "echo 'a b'", true],
    // -- in the command ends its options
    ['rm -- *', 'rm -- x', true],
    ['cat -n *', 'cat -- -n', false],
    ['dd *', 'dd if=/dev/zero of=/dev/sda', true],
  ];
  it.each(cases)('%j vs %j → %s', (pattern, command, expected) => {
    expect(matchCommand(pattern, argv(command))).toBe(expected);
  });

  it('compiles once per pattern', () => {
    expect(compileCommandPattern('rm -rf *')).toBe(compileCommandPattern('rm -rf *'));
  });

  it('names what is wrong with a pattern', () => {
    const bad: [string, RegExp][] = [
      ['', /needs at least the command name/],
      ['   ', /needs at least the command name/],
      ["''", /cannot be empty/],
      ['rm -rf $HOME', /cannot contain expansions/],
      ['rm $(x)', /cannot contain expansions/],
      ['rm; reboot', /one command of plain words; ";" is not allowed/],
      ['rm | x', /"\|" is not allowed/],
      ['rm > x', /">" is not allowed/],
      ['rm # x', /"#" is not allowed/],
      ["rm 'x", /unterminated single quote/],
    ];
    for (const [pattern, message] of bad) {
      expect(() => compileCommandPattern(pattern), pattern).toThrow(CommandPatternError);
      expect(() => compileCommandPattern(pattern), pattern).toThrow(message);
    }
  });
});

describe('matchWords: arguments only known at run time', () => {
  // pattern, command line (first parsed command that is not a substitution), result
  const cases: [string, string, 'yes' | 'maybe' | 'no'][] = [
    ['rm -rf *', 'rm -rf "$DIR"', 'yes'],
    ['rm -rf *', 'rm -rf $DIR/*', 'yes'],
    ['rm -rf *', 'rm $FLAGS x', 'maybe'],
    ['rm -rf *', 'rm "$F" x', 'maybe'],
    ['rm -rf *', 'rm "/tmp/$X"', 'no'],
    ['rm -rf *', 'rm /tmp/$X', 'maybe'], // unquoted: X='a -rf' splits into an option
    ['rm -rf *', 'rm ./*.log', 'no'],
    ['rm -rf *', 'rm *.log', 'maybe'],
    ['rm -rf *', 'rm -- $X', 'no'],
    ['rm -rf *', 'rm -r $X', 'maybe'],
    ['rm -rf *', 'rm -r $X -f', 'maybe'],
    ['rm -rf *', 'rm -rf ~', 'yes'],
    ['rm -rf *', 'rm ~', 'no'],
    ['rm -i *', 'rm $X -i foo', 'maybe'],
    ['rm -i *', 'rm -i foo $X', 'yes'],
    ['systemctl stop *', 'systemctl $VERB nginx', 'maybe'],
    ['systemctl stop *', 'systemctl stop $UNIT', 'yes'],
    ['systemctl stop nginx', 'systemctl stop $UNIT', 'maybe'],
    ['systemctl stop nginx', 'systemctl stop nginx $X', 'maybe'],
    ['systemctl stop nginx', 'systemctl status $UNIT', 'no'],
    ['cat', 'cat $F', 'maybe'],
    ['cat *', 'cat $F', 'yes'],
    ['echo a', 'echo /x/$(pwd)', 'maybe'],
    // the word after an option may be that option's value
    ['git push --force* *', 'git -C /repo push --force origin', 'maybe'],
    ['systemctl stop *', 'systemctl -H host stop nginx', 'maybe'],
    ['kubectl delete *', 'kubectl -n prod delete pod x', 'maybe'],
    ['kubectl get *', 'kubectl get pods -n prod', 'yes'],
    ['systemctl status nginx', 'systemctl --no-pager status nginx', 'maybe'],
    ['systemctl status nginx', 'systemctl status --no-pager=1 nginx', 'yes'],
  ];
  it.each(cases)('%j vs %j → %s', (pattern, line, expected) => {
    const cmd = parseCommandLine(line).at(-1)!;
    expect(matchWords(compileCommandPattern(pattern), cmd)).toBe(expected);
  });

  it('xargs input may be anything, so the inner command may match', () => {
    const [, rm] = parseCommandLine('xargs rm');
    expect(matchWords(compileCommandPattern('rm -rf *'), rm!)).toBe('maybe');
    expect(matchWords(compileCommandPattern('rm *'), rm!)).toBe('yes');
    expect(matchWords(compileCommandPattern('rm'), rm!)).toBe('maybe');
    expect(matchWords(compileCommandPattern('ls *'), rm!)).toBe('no');
    const [, del] = parseCommandLine('xargs -0 rm --');
    expect(matchWords(compileCommandPattern('rm -rf *'), del!)).toBe('no');
  });

  it('agrees with matchCommand when every word is literal: yes and no are certain either way', () => {
    const lines = ['rm -rf x', 'git push --force origin', 'git -C d push -f', 'systemctl stop nginx', 'systemctl --now stop x', 'ls', 'kubectl -n x delete pod y'];
    const patterns = ['rm -rf *', 'git push --force* *', 'git push *', 'systemctl stop *', 'systemctl stop x', 'ls', '* *', 'kubectl delete *', 'kubectl x delete *'];
    let maybes = 0;
    for (const line of lines) {
      const cmd = parseCommandLine(line)[0]!;
      for (const pattern of patterns) {
        const r = matchWords(compileCommandPattern(pattern), cmd);
        if (r === 'maybe') maybes++;
        else expect(matchCommand(pattern, cmd.argv), `${pattern} / ${line}`).toBe(r === 'yes');
      }
    }
    expect(maybes).toBeGreaterThan(0);
  });
});
