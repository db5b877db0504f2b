import type { Identity } from '../auth/identity.js';
import { type AccessClass, type Decision, type Policy, decide, strictestDecision } from './policy.js';
import { type SimpleCommand, ShellParseError, parseCommandLine } from './shell/words.js';

/** Rule name of the refusal of command lines hoop cannot analyse, or whose commands only exist at run time. */
export const UNANALYSABLE_COMMAND_RULE = 'hoop:unanalysable-command';
/** Rule name for a command line with no command in it, and for a push with no ref updates. */
export const EMPTY_RULE = 'hoop:empty';
/** Rule name of the refusal of a ref update whose ref name or object id git would not accept. */
export const INVALID_REF_RULE = 'hoop:invalid-ref';

export interface CommandVerdict {
  /** The simple command as displayed. */
  readonly command: string;
  readonly wrappedBy?: string;
  readonly decision: Decision;
}

export type CommandDecision = Decision & {
  /** Each simple command of the line, re-joined for display. */
  readonly commands: readonly string[];
  /** The simple command the decisive rule matched. */
  readonly matched?: string;
  /** Each simple command's own decision, in order. */
  readonly perCommand: readonly CommandVerdict[];
};

export interface RefUpdate {
  readonly ref: string;
  readonly oldId: string;
  readonly newId: string;
}

export interface RefUpdateVerdict extends RefUpdate {
  readonly decision: Decision;
}

const ZERO_ID = /^0+$/;
const OBJECT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** Why git would refuse this ref name (git check-ref-format, for refs under refs/), or undefined. */
export function invalidRefName(ref: string): string | undefined {
  if (!ref.startsWith('refs/')) return 'it does not start with refs/';
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(ref)) return 'it contains a space, a control character or one of ~ ^ : ? * [ \\';
  if (ref.includes('..') || ref.includes('//') || ref.includes('@{')) return 'it contains "..", "//" or "@{"';
  if (ref.endsWith('/') || ref.endsWith('.')) return 'it ends with "/" or "."';
  if (ref.split('/').some((part) => part.startsWith('.') || part.endsWith('.lock'))) return 'a component starts with "." or ends with ".lock"';
  return undefined;
}

/**
 * The policy as one SSH or git session sees it: identity and connection are fixed, so a decision
 * depends on the request alone.
 */
export class AccessPolicy {
  constructor(
    private readonly policy: Policy,
    private readonly identity: Identity,
    private readonly connection: string,
  ) {}

  /**
   * An `ssh host CMD` exec. Each simple command of the line is decided as class `exec` with its
   * words; the line gets the most severe decision (deny > review > allow; among equals the first
   * simple command's, with reviews combined into the strictest). Fails closed: a line that cannot
   * be parsed, or that runs something only known at run time, is denied.
   */
  exec(commandLine: string): CommandDecision {
    let parsed: SimpleCommand[];
    try {
      parsed = parseCommandLine(commandLine);
    } catch (err) {
      const why = err instanceof ShellParseError ? err.message : 'the parser failed';
      return {
        action: 'deny',
        rule: UNANALYSABLE_COMMAND_RULE,
        class: 'exec',
        reason: `hoop cannot analyse this command line, so it is refused: ${why}`,
        commands: [],
        perCommand: [],
      };
    }
    if (parsed.length === 0) {
      return { action: 'deny', rule: EMPTY_RULE, class: 'exec', reason: 'the command line has no command to run', commands: [], perCommand: [] };
    }
    const commands = parsed.map((c) => c.text);
    const dynamic = parsed.find((c) => c.dynamic);
    if (dynamic) {
      return {
        action: 'deny',
        rule: UNANALYSABLE_COMMAND_RULE,
        class: 'exec',
        // The reason is recorded and shown: it names the construct, not the whole line (which may hold secrets).
        reason: `hoop cannot check this command line before it runs: ${dynamic.dynamicReason ?? 'what it runs is only known at run time'}. Write the command out literally`,
        commands,
        matched: dynamic.text,
        perCommand: [],
      };
    }
    const perCommand: CommandVerdict[] = parsed.map((c) => ({
      command: c.text,
      ...(c.wrappedBy !== undefined ? { wrappedBy: c.wrappedBy } : {}),
      decision: decide(this.policy, this.identity, this.connection, { class: 'exec', argv: c.argv, unknown: c.unknown, moreArgs: c.moreArgs }),
    }));
    const combined = strictestDecision(perCommand.map((v) => v.decision))!;
    const decisive = perCommand.find((v) => v.decision.action === combined.action && v.decision.rule === combined.rule);
    return { ...combined, commands, ...(decisive ? { matched: decisive.command } : {}), perCommand };
  }

  /** A request decided by its class alone: shell, sftp, port-forward, remote-forward, agent-forward, x11, git-fetch. */
  request(cls: AccessClass): Decision {
    return decide(this.policy, this.identity, this.connection, cls);
  }

  /**
   * A push: each update is decided as `ref-delete` when its new id is all zeros, else `git-push`,
   * with its ref. The push gets the most severe decision; reviews combine into the strictest (the
   * most approvals, every rule's approver groups, the shortest timeout). A push without updates
   * changes nothing and is allowed.
   */
  refUpdates(updates: readonly RefUpdate[]): { decision: Decision; perRef: readonly RefUpdateVerdict[] } {
    if (updates.length === 0) return { decision: { action: 'allow', rule: EMPTY_RULE, class: 'git-push' }, perRef: [] };
    const perRef = updates.map((u): RefUpdateVerdict => {
      const cls = ZERO_ID.test(u.newId) ? 'ref-delete' : 'git-push';
      const badName = invalidRefName(u.ref);
      const badId = [u.oldId, u.newId].find((id) => !OBJECT_ID.test(id));
      if (badName !== undefined || badId !== undefined) {
        const reason = badName !== undefined ? `"${u.ref}" is not a valid ref name: ${badName}` : `"${badId}" is not an object id`;
        return { ...u, decision: { action: 'deny', rule: INVALID_REF_RULE, class: cls, reason } };
      }
      return { ...u, decision: decide(this.policy, this.identity, this.connection, { class: cls, ref: u.ref }) };
    });
    return { decision: strictestDecision(perRef.map((p) => p.decision))!, perRef };
  }
}
