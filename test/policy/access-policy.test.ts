import { describe, expect, it } from 'vitest';
import type { Identity } from '../../src/auth/identity.js';
import { EXPLAINED_ACCESS_CLASSES } from '../../src/commands/policy-explain.js';
import { AccessPolicy, EMPTY_RULE, INVALID_REF_RULE, UNANALYSABLE_COMMAND_RULE } from '../../src/policy/access-policy.js';
import { DEFAULT_POLICY, GIT_CLASSES, NO_MATCHING_RULE, type Policy, SSH_CLASSES, decide, policySchema, strictestDecision } from '../../src/policy/policy.js';

const alice: Identity = { kind: 'user', subject: 'u-alice', name: 'alice', groups: ['engineers'] };
const ci: Identity = { kind: 'service-account', subject: 'sa-ci', name: 'ci-deploy', groups: ['ci'] };
const policy = (rules: unknown[]): Policy => policySchema.parse({ rules });
const ZERO = '0'.repeat(40);
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

describe('AccessPolicy.exec with the default policy', () => {
  const access = new AccessPolicy(DEFAULT_POLICY, alice, 'web-1');

  it('allows ordinary commands', () => {
    const d = access.exec('ls -la /var/log | grep -c error');
    expect(d).toMatchObject({ action: 'allow', rule: 'default:ssh', class: 'exec', commands: ['ls -la /var/log', 'grep -c error'], matched: 'ls -la /var/log' });
    expect(d.perCommand.map((v) => v.decision.action)).toEqual(['allow', 'allow']);
  });

  it('holds risky commands for review, wherever they hide', () => {
    const cases: [string, string][] = [
      ['sudo systemctl stop nginx', 'sudo systemctl stop nginx'],
      ['echo ok && rm -rf /tmp/x', 'rm -rf /tmp/x'],
      ['rm -r -f /srv/data', 'rm -r -f /srv/data'],
      ['rm -Rf /srv/data', 'rm -Rf /srv/data'],
      ['rm --recursive --force /srv/data', 'rm --recursive --force /srv/data'],
      ["bash -c 'cd / && rm -fr *'", 'rm -fr *'],
      ['nohup reboot', 'reboot'],
      ['/sbin/shutdown -h now', '/sbin/shutdown -h now'],
      ['echo $(kubectl delete ns prod)', 'kubectl delete ns prod'],
      ['mkfs.ext4 /dev/sdb1', 'mkfs.ext4 /dev/sdb1'],
      ['find /srv -name "*.tmp" -exec rm -rf {} +', 'rm -rf {}'],
      ['dd if=/dev/zero of=/dev/sda', 'dd if=/dev/zero of=/dev/sda'],
      ['systemctl --now restart nginx', 'systemctl --now restart nginx'],
      ['su -c whoami', 'su -c whoami'],
    ];
    for (const [line, matched] of cases) {
      const d = access.exec(line);
      expect(d, line).toMatchObject({ action: 'review', rule: 'default:risky-commands-reviewed', class: 'exec', approvers: ['approvers'], approvals: 1, timeoutMs: 600_000, matched });
    }
  });

  it('holds commands that may turn out risky once their arguments are known', () => {
    for (const line of ['rm $FLAGS /srv', 'systemctl "$VERB" nginx', 'echo x | xargs rm', 'rm *.bak']) {
      expect(access.exec(line).action, line).toBe('review');
    }
    for (const line of ['rm ./*.bak', 'rm -- "$F"', 'cat $F', 'systemctl status "$UNIT"']) {
      expect(access.exec(line).action, line).toBe('allow');
    }
  });

  it('refuses what it cannot analyse, saying why and what to do', () => {
    const dynamic = access.exec('eval "$CMD"');
    expect(dynamic).toMatchObject({ action: 'deny', rule: UNANALYSABLE_COMMAND_RULE, class: 'exec', matched: 'eval "$CMD"' });
    expect((dynamic as { reason: string }).reason).toMatch(/eval runs text that is only known when it runs.*Write the command out literally/);
    for (const line of ['$SHELL -c ls', 'bash', 'ls; source ~/.profile', 'echo $((x))', "sh -c \"$X\""]) {
      expect(access.exec(line), line).toMatchObject({ action: 'deny', rule: UNANALYSABLE_COMMAND_RULE });
    }
    const broken = access.exec("echo 'oops");
    expect(broken).toMatchObject({ action: 'deny', rule: UNANALYSABLE_COMMAND_RULE, commands: [] });
    expect((broken as { reason: string }).reason).toMatch(/cannot analyse this command line.*unterminated single quote, at character 6/);
    expect(access.exec('x'.repeat(70_000))).toMatchObject({ action: 'deny', rule: UNANALYSABLE_COMMAND_RULE });
  });

  it('refuses an empty command line', () => {
    for (const line of ['', '   ', '# just a comment', 'FOO=1']) expect(access.exec(line), JSON.stringify(line)).toMatchObject({ action: 'deny', rule: EMPTY_RULE, class: 'exec' });
  });
});

describe('AccessPolicy.exec with command rules', () => {
  it('an allow-list: only the listed commands run, everything else falls to the no-match deny', () => {
    const p = policy([
      { name: 'read-only-tools', match: { classes: ['exec'], commands: ['ls *', 'cat *', 'grep *', 'systemctl status *'] }, action: 'allow' },
    ]);
    const access = new AccessPolicy(p, alice, 'web-1');
    expect(access.exec('ls -l /etc | grep conf && cat "$F"')).toMatchObject({ action: 'allow', rule: 'read-only-tools' });
    const d = access.exec('ls; rm x');
    expect(d).toMatchObject({ action: 'deny', rule: NO_MATCHING_RULE, matched: 'rm x' });
    expect((d as { reason: string }).reason).toBe('no policy rule allows running rm on web-1');
    expect(access.exec('ls $(rm x)')).toMatchObject({ action: 'deny', matched: 'rm x' });
    expect(access.exec('sudo ls')).toMatchObject({ action: 'deny', matched: 'sudo ls' });
    // ls matched by a pattern only for some values: the rest of the rules decide too
    expect(access.exec('systemctl $VERB nginx')).toMatchObject({ action: 'deny', rule: NO_MATCHING_RULE });
  });

  it('a deny that may apply denies, and says so', () => {
    const p = policy([
      { name: 'no-stops', match: { commands: ['systemctl stop *'] }, action: 'deny', reason: 'services are stopped by the on-call' },
      { name: 'exec', match: { classes: ['exec'] }, action: 'allow' },
    ]);
    const access = new AccessPolicy(p, alice, 'web-1');
    expect(access.exec('systemctl stop nginx')).toMatchObject({ action: 'deny', rule: 'no-stops', reason: 'services are stopped by the on-call' });
    const maybe = access.exec('systemctl "$V" nginx');
    expect(maybe).toMatchObject({ action: 'deny', rule: 'no-stops' });
    expect((maybe as { reason: string }).reason).toMatch(/^services are stopped by the on-call \(some of its arguments are only known when it runs, and rule no-stops may apply/);
    expect(access.exec('systemctl status nginx')).toMatchObject({ action: 'allow', rule: 'exec' });
  });

  it('rules still match on identity, groups and connection', () => {
    const p = policy([
      { name: 'ci-deploys', match: { identities: ['ci-*'], connections: ['web-*'], commands: ['systemctl restart app'] }, action: 'allow' },
      { name: 'restarts', match: { commands: ['systemctl restart *'] }, action: 'review', review: { approvers: ['ops'] } },
      { name: 'rest', match: { groups: ['engineers', 'ci'] }, action: 'allow' },
    ]);
    expect(new AccessPolicy(p, ci, 'web-2').exec('systemctl restart app')).toMatchObject({ action: 'allow', rule: 'ci-deploys' });
    expect(new AccessPolicy(p, ci, 'db-1').exec('systemctl restart app')).toMatchObject({ action: 'review', rule: 'restarts' });
    expect(new AccessPolicy(p, alice, 'web-2').exec('systemctl restart app')).toMatchObject({ action: 'review', rule: 'restarts' });
    expect(new AccessPolicy(p, alice, 'web-2').exec('uptime')).toMatchObject({ action: 'allow', rule: 'rest' });
  });

  it('combines several commands: deny over review over allow, reviews into the strictest', () => {
    const p = policy([
      { name: 'sudo', match: { commands: ['sudo *'] }, action: 'review', review: { approvers: ['ops'], approvals: 1, timeout: '30m' } },
      { name: 'deletes', match: { commands: ['rm -rf *'] }, action: 'review', review: { approvers: ['security', 'ops'], approvals: 2, timeout: '10m' } },
      { name: 'no-shutdown', match: { commands: ['shutdown *'] }, action: 'deny', reason: 'no' },
      { name: 'exec', match: { classes: ['exec'] }, action: 'allow' },
    ]);
    const access = new AccessPolicy(p, alice, 'web-1');
    const reviewed = access.exec('uptime; sudo ls; rm -rf /tmp/x');
    expect(reviewed).toMatchObject({ action: 'review', rule: 'sudo', matched: 'sudo ls', approvers: ['ops', 'security'], approvals: 2, timeoutMs: 600_000 });
    expect(reviewed.perCommand.map((v) => `${v.decision.action}:${v.command}${v.wrappedBy ? `<${v.wrappedBy}` : ''}`)).toEqual([
      'allow:uptime',
      'review:sudo ls',
      'allow:ls<sudo',
      'review:rm -rf /tmp/x',
    ]);
    expect(access.exec('sudo ls; shutdown now; rm -rf /')).toMatchObject({ action: 'deny', rule: 'no-shutdown', matched: 'shutdown now' });
  });
});

describe('AccessPolicy.request', () => {
  it('the default policy allows shells, SFTP and fetches, and no forwarding', () => {
    const access = new AccessPolicy(DEFAULT_POLICY, alice, 'web-1');
    for (const cls of ['shell', 'sftp', 'git-fetch'] as const) expect(access.request(cls).action, cls).toBe('allow');
    const forwards: [(typeof SSH_CLASSES)[number], string][] = [
      ['port-forward', 'port forwarding'],
      ['remote-forward', 'remote port forwarding'],
      ['agent-forward', 'agent forwarding'],
      ['x11', 'X11 forwarding'],
    ];
    for (const [cls, what] of forwards) {
      expect(access.request(cls)).toEqual({ action: 'deny', rule: NO_MATCHING_RULE, class: cls, reason: `no policy rule allows ${what} on web-1` });
    }
  });

  it('command and ref rules do not match a request by class alone', () => {
    const p = policy([
      { name: 'ls', match: { commands: ['ls'] }, action: 'allow' },
      { name: 'main', match: { refs: ['refs/heads/main'] }, action: 'allow' },
      { name: 'forwarding', match: { classes: ['port-forward'], groups: ['engineers'] }, action: 'allow' },
    ]);
    const access = new AccessPolicy(p, alice, 'web-1');
    expect(access.request('exec').rule).toBe(NO_MATCHING_RULE);
    expect(access.request('git-push').rule).toBe(NO_MATCHING_RULE);
    expect(access.request('port-forward')).toEqual({ action: 'allow', rule: 'forwarding', class: 'port-forward' });
    expect(new AccessPolicy(p, ci, 'web-1').request('port-forward').action).toBe('deny');
  });

  it('policy explain asks about the request classes', () => {
    expect(EXPLAINED_ACCESS_CLASSES.every((c) => (SSH_CLASSES as readonly string[]).includes(c) || (GIT_CLASSES as readonly string[]).includes(c))).toBe(true);
    expect([...EXPLAINED_ACCESS_CLASSES].sort()).toEqual(['agent-forward', 'git-fetch', 'port-forward', 'remote-forward', 'sftp', 'shell', 'x11']);
  });
});

describe('AccessPolicy.refUpdates', () => {
  const access = new AccessPolicy(DEFAULT_POLICY, alice, 'repo');

  it('the default policy: pushes go through, main and release branches are reviewed, deletions refused', () => {
    expect(access.refUpdates([{ ref: 'refs/heads/feature/x', oldId: A, newId: B }]).decision).toEqual({ action: 'allow', rule: 'default:git-push', class: 'git-push' });
    expect(access.refUpdates([{ ref: 'refs/heads/new', oldId: ZERO, newId: B }]).decision).toMatchObject({ action: 'allow', class: 'git-push' });
    for (const ref of ['refs/heads/main', 'refs/heads/master', 'refs/heads/release/1.2']) {
      expect(access.refUpdates([{ ref, oldId: A, newId: B }]).decision, ref).toMatchObject({ action: 'review', rule: 'default:protected-branches-reviewed', class: 'git-push', approvers: ['approvers'] });
    }
    expect(access.refUpdates([{ ref: 'refs/heads/mainline', oldId: A, newId: B }]).decision.action).toBe('allow');
    for (const ref of ['refs/heads/old', 'refs/tags/v1', 'refs/heads/main']) {
      expect(access.refUpdates([{ ref, oldId: A, newId: ZERO }]).decision).toEqual({
        action: 'deny',
        rule: 'default:no-ref-delete',
        class: 'ref-delete',
        reason: 'deleting branches and tags is not allowed through hoop',
      });
    }
  });

  it('a push gets the most severe decision of its updates, with each update decided', () => {
    const { decision, perRef } = access.refUpdates([
      { ref: 'refs/heads/feature', oldId: A, newId: B },
      { ref: 'refs/heads/main', oldId: A, newId: B },
    ]);
    expect(decision).toMatchObject({ action: 'review', rule: 'default:protected-branches-reviewed' });
    expect(perRef.map((r) => [r.ref, r.decision.action])).toEqual([
      ['refs/heads/feature', 'allow'],
      ['refs/heads/main', 'review'],
    ]);
    const withDelete = access.refUpdates([
      { ref: 'refs/heads/main', oldId: A, newId: B },
      { ref: 'refs/heads/old', oldId: A, newId: ZERO },
    ]);
    expect(withDelete.decision).toMatchObject({ action: 'deny', rule: 'default:no-ref-delete' });
    expect(withDelete.perRef.map((r) => r.decision.class)).toEqual(['git-push', 'ref-delete']);
  });

  it('combines reviews into the strictest', () => {
    const p = policy([
      { name: 'main', match: { refs: ['refs/heads/main'] }, action: 'review', review: { approvers: ['leads'], approvals: 2, timeout: '30m' } },
      { name: 'tags', match: { classes: ['git-push'], refs: ['refs/tags/*'] }, action: 'review', review: { approvers: ['release', 'leads'], approvals: 1, timeout: '5m' } },
      { name: 'rest', match: { classes: ['git-push'] }, action: 'allow' },
    ]);
    const { decision } = new AccessPolicy(p, alice, 'repo').refUpdates([
      { ref: 'refs/heads/x', oldId: A, newId: B },
      { ref: 'refs/heads/main', oldId: A, newId: B },
      { ref: 'refs/tags/v2', oldId: ZERO, newId: B },
    ]);
    expect(decision).toEqual({ action: 'review', rule: 'main', class: 'git-push', approvers: ['leads', 'release'], approvals: 2, timeoutMs: 300_000 });
  });

  it('refuses refs and ids git would not accept, and allows an empty push', () => {
    for (const ref of ['refs/heads/a..b', 'refs/heads/x.lock', 'HEAD', 'refs/heads/a b', 'refs/heads/x/', 'refs/heads/@{1}', 'refs/heads/.hidden']) {
      expect(access.refUpdates([{ ref, oldId: A, newId: B }]).decision, ref).toMatchObject({ action: 'deny', rule: INVALID_REF_RULE });
    }
    expect(access.refUpdates([{ ref: 'refs/heads/x', oldId: 'nope', newId: B }]).decision).toMatchObject({ action: 'deny', rule: INVALID_REF_RULE, reason: '"nope" is not an object id' });
    expect(access.refUpdates([{ ref: 'refs/heads/x', oldId: A, newId: 'c'.repeat(64) }]).decision.action).toBe('allow');
    expect(access.refUpdates([])).toEqual({ decision: { action: 'allow', rule: EMPTY_RULE, class: 'git-push' }, perRef: [] });
  });
});

describe('policy rules: commands and refs', () => {
  it('names the rule and the problem of a bad rule', () => {
    const issues = (rules: unknown[]): string[] => {
      const r = policySchema.safeParse({ rules });
      expect(r.success).toBe(false);
      return r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(issues([{ name: 'bad-cmd', match: { commands: ['ls', 'rm -rf $HOME'] }, action: 'deny' }])).toEqual([
      expect.stringMatching(/^rules\.0\.match\.commands\.1: rule "bad-cmd": command pattern "rm -rf \$HOME" is invalid: a command pattern cannot contain expansions/),
    ]);
    expect(issues([{ name: 'bad-ref', match: { refs: ['main'] }, action: 'deny' }])).toEqual(['rules.0.match.refs.0: rule "bad-ref": ref pattern "main" must name full refs, like refs/heads/main']);
    expect(issues([{ name: 'both', match: { commands: ['ls'], refs: ['refs/heads/main'] }, action: 'allow' }])[0]).toMatch(/rule "both" has both commands: and refs:/);
    expect(issues([{ name: 'sql-cmd', match: { classes: ['read'], commands: ['ls'] }, action: 'allow' }])[0]).toMatch(/rule "sql-cmd" has commands:.*do not include exec/);
    expect(issues([{ name: 'x', match: { classes: ['exec'], refs: ['refs/*'] }, action: 'allow' }])[0]).toMatch(/include neither/);
    expect(issues([{ name: 'x', match: { classes: ['ssh'] }, action: 'allow' }])[0]).toMatch(/^rules\.0\.match\.classes\.0/);
    expect(issues([{ name: 'x', match: { commands: [] }, action: 'allow' }])[0]).toMatch(/^rules\.0\.match\.commands/);
  });

  it('keeps deciding SQL statement classes as before', () => {
    const subject = { name: 'bob', groups: [] };
    expect(decide(DEFAULT_POLICY, subject, 'pg', 'read')).toEqual({ action: 'allow', rule: 'default:reads', class: 'read' });
    expect(decide(DEFAULT_POLICY, subject, 'pg', { class: 'write' })).toMatchObject({ action: 'review', rule: 'default:writes-reviewed' });
    expect(decide(DEFAULT_POLICY, subject, 'pg', 'admin')).toMatchObject({ action: 'deny', rule: 'default:no-admin' });
    const onlyReads = policy([{ name: 'reads', match: { classes: ['read'] }, action: 'allow' }, { name: 'no', action: 'deny' }]);
    expect(decide(onlyReads, subject, 'pg', 'write')).toEqual({ action: 'deny', rule: 'no', class: 'write', reason: 'write statements are not allowed' });
    expect(decide(policy([{ name: 'reads', match: { classes: ['read'] }, action: 'allow' }]), subject, 'pg', 'ddl')).toEqual({
      action: 'deny',
      rule: NO_MATCHING_RULE,
      class: 'ddl',
      reason: 'no policy rule allows ddl statements on pg',
    });
    expect(decide(onlyReads, subject, 'web', 'shell')).toEqual({ action: 'deny', rule: 'no', class: 'shell', reason: 'an interactive shell is not allowed' });
  });

  it('strictestDecision: deny, then review (combined), then allow', () => {
    const allow = { action: 'allow', rule: 'a', class: 'exec' } as const;
    const review1 = { action: 'review', rule: 'r1', class: 'exec', approvers: ['x'], approvals: 1, timeoutMs: 9 } as const;
    const review2 = { action: 'review', rule: 'r2', class: 'exec', approvers: ['y', 'x'], approvals: 3, timeoutMs: 5 } as const;
    const deny = { action: 'deny', rule: 'd', class: 'exec', reason: 'no' } as const;
    expect(strictestDecision([])).toBeUndefined();
    expect(strictestDecision([allow, { ...allow, rule: 'b' }])).toEqual(allow);
    expect(strictestDecision([allow, review1, review2])).toEqual({ ...review1, approvers: ['x', 'y'], approvals: 3, timeoutMs: 5 });
    expect(strictestDecision([review1, deny, { ...deny, rule: 'e' }])).toEqual(deny);
  });
});
