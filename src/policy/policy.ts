import { z } from 'zod';
import type { StatementClass } from './sql/classify.js';

export const STATEMENT_CLASSES = ['read', 'write', 'ddl', 'destructive', 'privilege', 'admin', 'procedural', 'transaction', 'session'] as const satisfies readonly StatementClass[];

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
        /** Any of these statement classes. */
        classes: z.array(z.enum(STATEMENT_CLASSES)).optional(),
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

/**
 * What ships when a gateway configures no policy: reads go through, changes wait for a human,
 * and server administration is refused outright.
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
  | { readonly action: 'allow'; readonly rule: string; readonly class: StatementClass }
  | { readonly action: 'deny'; readonly rule: string; readonly class: StatementClass; readonly reason: string }
  | {
      readonly action: 'review';
      readonly rule: string;
      readonly class: StatementClass;
      readonly approvers: readonly string[];
      readonly approvals: number;
      readonly timeoutMs: number;
    };

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

function matches(rule: PolicyRule, subject: PolicySubject, connection: string, cls: StatementClass): boolean {
  const m = rule.match;
  if (m.classes && !m.classes.includes(cls)) return false;
  if (m.connections && !m.connections.some((p) => globMatch(p, connection))) return false;
  if (m.identities && !m.identities.some((p) => globMatch(p, subject.name))) return false;
  if (m.groups && !m.groups.some((p) => subject.groups.some((g) => globMatch(p, g)))) return false;
  return true;
}

/** First matching rule wins; no match means deny. */
export function decide(policy: Policy, subject: PolicySubject, connection: string, cls: StatementClass): Decision {
  for (const rule of policy.rules) {
    if (!matches(rule, subject, connection, cls)) continue;
    if (rule.action === 'allow') return { action: 'allow', rule: rule.name, class: cls };
    if (rule.action === 'deny') return { action: 'deny', rule: rule.name, class: cls, reason: rule.reason ?? `${cls} statements are not allowed` };
    const review = rule.review!;
    return { action: 'review', rule: rule.name, class: cls, approvers: review.approvers, approvals: review.approvals, timeoutMs: parseDuration(review.timeout) };
  }
  return { action: 'deny', rule: NO_MATCHING_RULE, class: cls, reason: `no policy rule allows ${cls} statements on ${connection}` };
}
