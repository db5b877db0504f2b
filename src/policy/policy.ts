import { z } from 'zod';
import { type MatchResult, compileCommandPattern, matchWords } from './shell/match.js';
import type { UnknownWord } from './shell/words.js';
import type { StatementClass } from './sql/classify.js';

export const STATEMENT_CLASSES = ['read', 'write', 'ddl', 'destructive', 'privilege', 'admin', 'procedural', 'transaction', 'session'] as const satisfies readonly StatementClass[];
/**
 * SSH accesses: `exec` (`ssh host CMD`), `shell` (interactive), `sftp`, `port-forward`
 * (direct-tcpip: `ssh -L`), `remote-forward` (tcpip-forward: `ssh -R`), `agent-forward`, `x11`.
 */
export const SSH_CLASSES = ['exec', 'shell', 'sftp', 'port-forward', 'remote-forward', 'agent-forward', 'x11'] as const;
/** git over a git connection: clone and fetch, a push's ref updates, and deletions of refs. */
export const GIT_CLASSES = ['git-fetch', 'git-push', 'ref-delete'] as const;
export type SshClass = (typeof SSH_CLASSES)[number];
export type GitClass = (typeof GIT_CLASSES)[number];
export type AccessClass = StatementClass | SshClass | GitClass;
export const ACCESS_CLASSES = [...STATEMENT_CLASSES, ...SSH_CLASSES, ...GIT_CLASSES] as const satisfies readonly AccessClass[];

const isStatementClass = (cls: AccessClass): cls is StatementClass => (STATEMENT_CLASSES as readonly string[]).includes(cls);

/** `90s`, `10m`, `2h`, `1d` → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a duration like 30s, 10m, 2h or 1d`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

const duration = z.string().refine((s) => {
  try {
    parseDuration(s);
    return true;
  } catch {
    return false;
  }
}, 'expected a duration like 30s, 10m, 2h or 1d');

const ruleSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, 'rule names use letters, digits, "_", ".", ":" and "-"'),
    match: z
      .object({
        /** Any of these groups (glob). */
        groups: z.array(z.string().min(1)).optional(),
        /** Any of these identity names (glob), e.g. `ci-*`. */
        identities: z.array(z.string().min(1)).optional(),
        /** Any of these connections (glob), e.g. `pg-*`. */
        connections: z.array(z.string().min(1)).optional(),
        /** Any of these statement or access classes. */
        classes: z.array(z.enum(ACCESS_CLASSES)).optional(),
        /** Command patterns (see shell/match.ts): the rule only matches commands run with `exec`, and only those matching one. */
        commands: z.array(z.string().min(1)).min(1).optional(),
        /** Globs over full ref names (`refs/heads/main`, `refs/tags/*`): the rule only matches pushes' ref updates to those. */
        refs: z.array(z.string().min(1)).min(1).optional(),
      })
      .strict()
      .default({}),
    action: z.enum(['allow', 'deny', 'review']),
    /** Shown to the client on deny. */
    reason: z.string().min(1).optional(),
    review: z
      .object({
        /** Groups whose members may approve. */
        approvers: z.array(z.string().min(1)).min(1),
        /** Distinct approvers needed. */
        approvals: z.number().int().min(1).max(10).default(1),
        /** How long a request waits before it expires. */
        timeout: duration.default('10m'),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((rule, ctx) => {
    if (rule.action === 'review' && !rule.review) ctx.addIssue({ code: 'custom', path: ['review'], message: 'a review rule needs review: { approvers: [...] }' });
    if (rule.action !== 'review' && rule.review) ctx.addIssue({ code: 'custom', path: ['review'], message: `review: only applies to action: review, not ${rule.action}` });
    const { commands, refs, classes } = rule.match;
    commands?.forEach((pattern, i) => {
      try {
        compileCommandPattern(pattern);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['match', 'commands', i], message: `rule "${rule.name}": command pattern "${pattern}" is invalid: ${(err as Error).message}` });
      }
    });
    refs?.forEach((pattern, i) => {
      if (!pattern.startsWith('refs/') && !pattern.startsWith('*')) {
        ctx.addIssue({ code: 'custom', path: ['match', 'refs', i], message: `rule "${rule.name}": ref pattern "${pattern}" must name full refs, like refs/heads/${pattern}` });
      }
    });
    if (commands && refs) ctx.addIssue({ code: 'custom', path: ['match'], message: `rule "${rule.name}" has both commands: and refs:, so it can never match (commands are exec checks, refs are pushes)` });
    if (commands && classes && !classes.includes('exec')) {
      ctx.addIssue({ code: 'custom', path: ['match', 'classes'], message: `rule "${rule.name}" has commands:, which only apply to the exec class, but its classes do not include exec` });
    }
    if (refs && classes && !classes.includes('git-push') && !classes.includes('ref-delete')) {
      ctx.addIssue({ code: 'custom', path: ['match', 'classes'], message: `rule "${rule.name}" has refs:, which only apply to git-push and ref-delete, but its classes include neither` });
    }
  });

export const policySchema = z
  .object({
    rules: z.array(ruleSchema).min(1),
  })
  .strict()
  .superRefine((p, ctx) => {
    const seen = new Set<string>();
    p.rules.forEach((r, i) => {
      if (seen.has(r.name)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'name'], message: `rule name "${r.name}" is used twice` });
      seen.add(r.name);
    });
  });

export type PolicyRule = z.infer<typeof ruleSchema>;
export type Policy = z.infer<typeof policySchema>;

/** Commands the default policy holds for a human: privilege, deletion, shutdown, disks, clusters. */
export const DEFAULT_RISKY_COMMANDS = [
  'sudo *',
  'su *',
  'doas *',
  'rm -rf *',
  'rm -Rf *',
  'rm -r --force *',
  'rm -R --force *',
  'rm --recursive -f *',
  'rm --recursive --force *',
  'shutdown *',
  'reboot *',
  'poweroff *',
  'halt *',
  'systemctl stop *',
  'systemctl restart *',
  'kubectl delete *',
  'dd *',
  'mkfs* *',
] as const;

/**
 * What ships when a gateway configures no policy: reads go through, changes wait for a human,
 * and server administration is refused outright. Over SSH, commands and shells go through except
 * risky commands, which wait for a human; forwarding is refused (no rule allows it). Over git,
 * fetches go through, pushes to the main and release branches wait for a human, and deleting
 * branches or tags is refused.
 */
export const DEFAULT_POLICY: Policy = policySchema.parse({
  rules: [
    { name: 'default:reads', match: { classes: ['read', 'session', 'transaction'] }, action: 'allow' },
    { name: 'default:writes-reviewed', match: { classes: ['write'] }, action: 'review', review: { approvers: ['approvers'], approvals: 1, timeout: '10m' } },
    {
      name: 'default:schema-reviewed',
      match: { classes: ['ddl', 'destructive', 'procedural', 'privilege'] },
      action: 'review',
      review: { approvers: ['approvers'], approvals: 1, timeout: '10m' },
    },
    { name: 'default:no-admin', match: { classes: ['admin'] }, action: 'deny', reason: 'server administration is not allowed through hoop' },
    {
      name: 'default:risky-commands-reviewed',
      match: { classes: ['exec'], commands: [...DEFAULT_RISKY_COMMANDS] },
      action: 'review',
      review: { approvers: ['approvers'], approvals: 1, timeout: '10m' },
    },
    { name: 'default:ssh', match: { classes: ['exec', 'shell', 'sftp'] }, action: 'allow' },
    { name: 'default:git-fetch', match: { classes: ['git-fetch'] }, action: 'allow' },
    { name: 'default:no-ref-delete', match: { classes: ['ref-delete'] }, action: 'deny', reason: 'deleting branches and tags is not allowed through hoop' },
    {
      name: 'default:protected-branches-reviewed',
      match: { classes: ['git-push'], refs: ['refs/heads/main', 'refs/heads/master', 'refs/heads/release/*'] },
      action: 'review',
      review: { approvers: ['approvers'], approvals: 1, timeout: '10m' },
    },
    { name: 'default:git-push', match: { classes: ['git-push'] }, action: 'allow' },
  ],
});

/** Name of the implicit last rule: nothing matched, so the answer is no. */
export const NO_MATCHING_RULE = 'hoop:no-matching-rule';

export interface PolicySubject {
  readonly name: string;
  readonly groups: readonly string[];
}

/** An explicit decision, with the rule that made it: recorded whatever the outcome. */
export type Decision =
  | { readonly action: 'allow'; readonly rule: string; readonly class: AccessClass }
  | { readonly action: 'deny'; readonly rule: string; readonly class: AccessClass; readonly reason: string }
  | {
      readonly action: 'review';
      readonly rule: string;
      readonly class: AccessClass;
      readonly approvers: readonly string[];
      readonly approvals: number;
      readonly timeoutMs: number;
    };

/** What is being decided: a class alone, or an exec's simple command, or a push's ref update. */
export interface AccessTarget {
  readonly class: AccessClass;
  /** exec: the simple command's words (see SimpleCommand). Rules with `commands:` need it. */
  readonly argv?: readonly string[];
  /** exec: which of `argv` are only known at run time. */
  readonly unknown?: readonly UnknownWord[];
  /** exec: more arguments are appended at run time (xargs). */
  readonly moreArgs?: boolean;
  /** git-push, ref-delete: the full ref name. Rules with `refs:` need it. */
  readonly ref?: string;
}

const globCache = new Map<string, RegExp>();

/** `*` matches any run of characters, `?` one; everything else is literal. */
export function globMatch(pattern: string, value: string): boolean {
  let re = globCache.get(pattern);
  if (!re) {
    re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    globCache.set(pattern, re);
  }
  return re.test(value);
}

function matches(rule: PolicyRule, subject: PolicySubject, connection: string, target: AccessTarget): MatchResult {
  const m = rule.match;
  if (m.classes && !m.classes.includes(target.class)) return 'no';
  if (m.connections && !m.connections.some((p) => globMatch(p, connection))) return 'no';
  if (m.identities && !m.identities.some((p) => globMatch(p, subject.name))) return 'no';
  if (m.groups && !m.groups.some((p) => subject.groups.some((g) => globMatch(p, g)))) return 'no';
  if (m.refs) {
    const ref = target.ref;
    if (ref === undefined || !m.refs.some((p) => globMatch(p, ref))) return 'no';
  }
  if (m.commands) {
    const argv = target.argv;
    if (target.class !== 'exec' || !argv) return 'no';
    const command = { argv, unknown: target.unknown, moreArgs: target.moreArgs };
    let best: MatchResult = 'no';
    for (const pattern of m.commands) {
      const r = matchWords(compileCommandPattern(pattern), command);
      if (r === 'yes') return 'yes';
      if (r === 'maybe') best = 'maybe';
    }
    return best;
  }
  return 'yes';
}

/** How a class reads in a sentence: "<…> is not allowed". */
function describe(target: AccessTarget): string {
  const cls = target.class;
  if (isStatementClass(cls)) return `${cls} statements`;
  switch (cls) {
    case 'exec':
      return target.argv?.[0] ? `running ${target.argv[0]}` : 'running commands';
    case 'shell':
      return 'an interactive shell';
    case 'sftp':
      return 'SFTP';
    case 'port-forward':
      return 'port forwarding';
    case 'remote-forward':
      return 'remote port forwarding';
    case 'agent-forward':
      return 'agent forwarding';
    case 'x11':
      return 'X11 forwarding';
    case 'git-fetch':
      return 'fetching';
    case 'git-push':
      return target.ref ? `pushing to ${target.ref}` : 'pushing';
    case 'ref-delete':
      return target.ref ? `deleting ${target.ref}` : 'deleting refs';
  }
}

function ruleDecision(rule: PolicyRule, target: AccessTarget): Decision {
  const cls = target.class;
  if (rule.action === 'allow') return { action: 'allow', rule: rule.name, class: cls };
  if (rule.action === 'deny') return { action: 'deny', rule: rule.name, class: cls, reason: rule.reason ?? `${describe(target)} ${isStatementClass(cls) ? 'are' : 'is'} not allowed` };
  const review = rule.review!;
  return { action: 'review', rule: rule.name, class: cls, approvers: review.approvers, approvals: review.approvals, timeoutMs: parseDuration(review.timeout) };
}

const SEVERITY = { allow: 0, review: 1, deny: 2 } as const;

/**
 * The most severe of several decisions: deny over review over allow; among equals the first. Reviews
 * combine into the strictest: the most approvals, the approver groups of all, the shortest timeout.
 */
export function strictestDecision(decisions: readonly Decision[]): Decision | undefined {
  let worst: Decision | undefined;
  for (const d of decisions) if (!worst || SEVERITY[d.action] > SEVERITY[worst.action]) worst = d;
  if (worst?.action !== 'review') return worst;
  const reviews = decisions.filter((d): d is Extract<Decision, { action: 'review' }> => d.action === 'review');
  return {
    ...worst,
    approvers: [...new Set(reviews.flatMap((r) => r.approvers))],
    approvals: Math.max(...reviews.map((r) => r.approvals)),
    timeoutMs: Math.min(...reviews.map((r) => r.timeoutMs)),
  };
}

/**
 * First matching rule wins; no match means deny. A command with arguments only known at run time
 * may match a rule for some values and not others: such rules are passed over but remembered, and
 * the answer is the strictest of them and the first rule that matches whatever the values are.
 */
export function decide(policy: Policy, subject: PolicySubject, connection: string, target: AccessClass | AccessTarget): Decision {
  const t: AccessTarget = typeof target === 'string' ? { class: target } : target;
  const uncertain: Decision[] = [];
  let decided: Decision | undefined;
  for (const rule of policy.rules) {
    const m = matches(rule, subject, connection, t);
    if (m === 'no') continue;
    if (m === 'maybe') {
      const d = ruleDecision(rule, t);
      uncertain.push(d.action === 'deny' ? { ...d, reason: `${d.reason} (some of its arguments are only known when it runs, and rule ${rule.name} may apply to them)` } : d);
      continue;
    }
    decided = ruleDecision(rule, t);
    break;
  }
  decided ??= { action: 'deny', rule: NO_MATCHING_RULE, class: t.class, reason: `no policy rule allows ${describe(t)} on ${connection}` };
  return uncertain.length === 0 ? decided : strictestDecision([...uncertain, decided])!;
}
