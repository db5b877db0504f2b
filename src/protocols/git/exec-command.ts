import { HoopError } from '../../errors.js';

/** The programs a git client runs over SSH, by their dashed names. */
export const GIT_SERVICES = ['git-upload-pack', 'git-receive-pack', 'git-upload-archive'] as const;
export type GitService = (typeof GIT_SERVICES)[number];

/** Longer exec requests are not git's (its paths are short); refused before parsing. */
export const MAX_EXEC_COMMAND_CHARS = 8192;

export interface GitExecCommand {
  readonly service: GitService;
  /** The repository path as the client wrote it, unquoted ("/srv/repo.git", "repo.git", "~/x.git"). */
  readonly path: string;
}

/** An SSH exec request on a git connection that is not one of git's own commands. */
export class GitExecCommandError extends HoopError {
  constructor(message: string) {
    super('HOOP_GIT_EXEC_COMMAND', message, {
      hint: 'A git connection serves git clone, fetch, pull, push and archive only (git-upload-pack, git-receive-pack, git-upload-archive).',
    });
  }
}

/** Characters a bare (unquoted) word may hold without the shell giving them a meaning. */
const PLAIN = /[A-Za-z0-9._/@+:,=%-]/;

/**
 * Splits a command line into words the way a POSIX shell would for the quoting git uses:
 * 'single quoted' runs (no escapes inside), backslash-escaped characters outside quotes, and bare
 * characters from a conservative set. Anything else (double quotes, $, ;, |, globs, newlines…) is
 * refused rather than interpreted.
 */
function shellWords(command: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (c === ' ' || c === '\t') {
      if (word !== null) words.push(word);
      word = null;
      continue;
    }
    if (c === "'") {
      const end = command.indexOf("'", i + 1);
      if (end < 0) throw new GitExecCommandError('unterminated single quote in the command');
      word = (word ?? '') + command.slice(i + 1, end);
      i = end;
      continue;
    }
    if (c === '\\') {
      const next = command[i + 1];
      if (next === undefined || next === '\n') throw new GitExecCommandError('dangling backslash in the command');
      word = (word ?? '') + next;
      i++;
      continue;
    }
    if (!PLAIN.test(c)) throw new GitExecCommandError(`unsupported character ${JSON.stringify(c)} in the command`);
    word = (word ?? '') + c;
  }
  if (word !== null) words.push(word);
  return words;
}

function isService(name: string): name is GitService {
  return (GIT_SERVICES as readonly string[]).includes(name);
}

/**
 * Parses the exec request git sends over SSH: `git-upload-pack '/path/repo.git'`,
 * `git-receive-pack 'repo.git'`, `git upload-pack '…'`, `git-upload-archive '…'`.
 * Anything else is a GitExecCommandError: a git connection runs no other program.
 */
export function parseGitExecCommand(command: string): GitExecCommand {
  if (command.length > MAX_EXEC_COMMAND_CHARS) throw new GitExecCommandError(`the command is longer than ${MAX_EXEC_COMMAND_CHARS} characters`);
  const words = shellWords(command);
  let service: string | undefined;
  let args: string[];
  if (words[0] === 'git' && words.length >= 2) {
    service = `git-${words[1]}`;
    args = words.slice(2);
  } else {
    service = words[0];
    args = words.slice(1);
  }
  if (service === undefined || !isService(service)) {
    throw new GitExecCommandError(`not a git command: ${JSON.stringify(command.slice(0, 200))}`);
  }
  if (args.length !== 1) throw new GitExecCommandError(`${service} takes exactly one repository path, got ${args.length}`);
  const path = args[0]!;
  checkPath(path);
  return { service, path };
}

function checkPath(path: string): void {
  if (path.length === 0) throw new GitExecCommandError('empty repository path');
  if (/[\x00-\x1f\x7f]/.test(path)) throw new GitExecCommandError('control character in the repository path');
  if (path.startsWith('-')) throw new GitExecCommandError('a repository path may not start with "-"');
}

/**
 * Quotes a word for a POSIX shell the way git does (quote.c, sq_quote_buf): inside single quotes,
 * with ' written as '\'' and ! as '\!' (so csh-like shells do not expand history either).
 */
export function shellQuote(word: string): string {
  return `'${word.replace(/['!]/g, (c) => `'\\${c}'`)}'`;
}

/**
 * The command line to run on the backend for `service` on `path`: the gateway maps whatever path
 * the client named onto the connection's configured repository.
 */
export function buildGitExecCommand(service: GitService, path: string): string {
  if (!isService(service)) throw new GitExecCommandError(`not a git service: ${JSON.stringify(service)}`);
  checkPath(path);
  return `${service} ${shellQuote(path)}`;
}
