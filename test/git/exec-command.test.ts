import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  buildGitExecCommand,
  GitExecCommandError,
  MAX_EXEC_COMMAND_CHARS,
  parseGitExecCommand,
  shellQuote,
} from '../../src/protocols/git/exec-command.js';

/** What a real POSIX shell makes of `command`'s words. */
function shellArgv(command: string): string[] {
  const out = execFileSync('sh', ['-c', `set -- ${command}; for a in "$@"; do printf '%s\\0' "$a"; done`]);
  return out.toString('utf8').split('\0').slice(0, -1);
}

describe('git exec command', () => {
  it('parses what git sends over ssh', () => {
    expect(parseGitExecCommand("git-upload-pack '/srv/repo.git'")).toEqual({ service: 'git-upload-pack', path: '/srv/repo.git' });
    expect(parseGitExecCommand("git-receive-pack 'repo.git'")).toEqual({ service: 'git-receive-pack', path: 'repo.git' });
    expect(parseGitExecCommand("git-upload-archive '~/r.git'")).toEqual({ service: 'git-upload-archive', path: '~/r.git' });
    expect(parseGitExecCommand("git upload-pack '/a b.git'")).toEqual({ service: 'git-upload-pack', path: '/a b.git' });
    expect(parseGitExecCommand('git-upload-pack /plain/repo.git')).toEqual({ service: 'git-upload-pack', path: '/plain/repo.git' });
    expect(parseGitExecCommand("git-receive-pack 'it'\\''s'\\!'.git'")).toEqual({ service: 'git-receive-pack', path: "it's!.git" });
  });

  it('refuses anything that is not a git service with one path', () => {
    const bad = [
      '',
      'ls -la',
      'bash',
      "git-upload-pack '/a' '/b'",
      'git-upload-pack',
      "git-upload-pack '/a'; rm -rf /",
      "git-upload-pack '/a' && id",
      'git-upload-pack $(id)',
      'git-upload-pack `id`',
      'git-upload-pack "/a"',
      "git-upload-pack '/a",
      "git-upload-pack '/a\nb'",
      "git-upload-pack '--upload-pack=x'",
      "git-shell -c 'x'",
      "git config '/a'",
      'git-upload-pack /a*',
      'x'.repeat(MAX_EXEC_COMMAND_CHARS + 1),
    ];
    for (const command of bad) {
      expect(() => parseGitExecCommand(command), command).toThrow(GitExecCommandError);
    }
    const err = (() => {
      try {
        parseGitExecCommand('ls');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toMatchObject({ code: 'HOOP_GIT_EXEC_COMMAND' });
  });

  it('quotes like git and the real shell reads back the same path', () => {
    const paths = ['/srv/repo.git', "it's a \"repo\"!.git", '/a b/$HOME/`id`/;|&*?.git', "''''", '!!', 'ünï/ço.git', '\\back\\slash'];
    for (const path of paths) {
      const command = buildGitExecCommand('git-receive-pack', path);
      expect(shellArgv(command)).toEqual(['git-receive-pack', path]);
      expect(parseGitExecCommand(command)).toEqual({ service: 'git-receive-pack', path });
    }
    expect(shellQuote("a'b!c")).toBe("'a'\\''b'\\!'c'");
    expect(() => buildGitExecCommand('git-receive-pack', 'a\nb')).toThrow(GitExecCommandError);
    expect(() => buildGitExecCommand('git-receive-pack', '')).toThrow(GitExecCommandError);
  });
});
