import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hoop, tempDir } from '../support/hoop.js';

const dir = tempDir('policy-cli');
const good = join(dir, 'policy.yaml');
writeFileSync(
  good,
  `rules:
  - name: reads
    match: { classes: [read] }
    action: allow
  - name: dba-writes
    match: { groups: [dba], connections: ['pg-*'], classes: [write] }
    action: review
    review: { approvers: [leads], approvals: 2, timeout: 15m }
`,
);

describe('hoop policy', () => {
  it('check accepts a valid file', async () => {
    const r = await hoop(['policy', 'check', good]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(r.stdout).toContain('valid, 2 rules');
  });

  it('check names the field and the problem, exit 2', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'rules:\n  - name: x\n    action: review\n');
    const r = await hoop(['policy', 'check', bad]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/rules\[0\]\.review: a review rule needs review/);
    const typo = join(dir, 'typo.yaml');
    writeFileSync(typo, 'rules:\n  - name: x\n    match: { clases: [read] }\n    action: allow\n');
    expect((await hoop(['policy', 'check', typo])).stderr).toMatch(/clases/);
  });

  it('explain prints the decision, the rule and the classification', async () => {
    const r = await hoop(['policy', 'explain', '--policy', good, '--connection', 'pg-prod', '--as', 'alice', '--groups', 'dba', '--sql', 'with d as (delete from t where id = 1 returning *) select * from d']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(r.stdout).toMatch(/^review \(rule dba-writes, class write\): 2 approval\(s\) from leads, expires after 15 min/);
    const j = await hoop(['policy', 'explain', '--policy', good, '--connection', 'pg-prod', '--as', 'bob', '--sql', 'delete from t where id = 1', '--json']);
    expect(JSON.parse(String(j.stdout))).toMatchObject({ action: 'deny', rule: 'hoop:no-matching-rule', class: 'write' });
    const d = await hoop(['policy', 'explain', '--connection', 'x', '--as', 'bob', '--sql', 'drop table t']);
    expect(d.stdout).toMatch(/^review \(rule default:schema-reviewed, class destructive\)/);
    const u = await hoop(['policy', 'explain', '--connection', 'x', '--as', 'bob', '--sql', 'selec 1']);
    expect(u.stdout).toMatch(/^deny \(rule hoop:unparseable\)/);
  });

  it('check names the rule of a bad command pattern or ref pattern', async () => {
    const bad = join(dir, 'bad-ssh.yaml');
    writeFileSync(bad, "rules:\n  - name: risky\n    match: { commands: ['rm -rf $HOME'] }\n    action: deny\n  - name: main\n    match: { refs: [main] }\n    action: deny\n");
    const r = await hoop(['policy', 'check', bad]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/rules\[0\]\.match\.commands\[0\]: rule "risky": command pattern "rm -rf \$HOME" is invalid/);
    expect(r.stderr).toMatch(/rules\[1\]\.match\.refs\[0\]: rule "main": ref pattern "main" must name full refs/);
  });

  it('explain answers for an SSH command, a ref update and a request', async () => {
    const base = ['policy', 'explain', '--connection', 'web-1', '--as', 'alice'];
    const cmd = await hoop([...base, '--command', 'uptime && sudo systemctl stop nginx']);
    expect(cmd.exitCode, String(cmd.stderr)).toBe(0);
    expect(String(cmd.stdout).split('\n').slice(0, 3)).toEqual([
      'review (rule default:risky-commands-reviewed, class exec): 1 approval(s) from approvers, expires after 10 min',
      'matched: sudo systemctl stop nginx',
      'policy: built-in default policy',
    ]);
    expect(cmd.stdout).toMatch(/review\s+systemctl stop nginx\s+\(rule default:risky-commands-reviewed; run by sudo\)/);
    const json = await hoop([...base, '--command', 'eval "$X"', '--json']);
    expect(JSON.parse(String(json.stdout))).toMatchObject({ action: 'deny', rule: 'hoop:unanalysable-command', class: 'exec', commands: ['eval "$X"'], policy: 'built-in default policy' });
    const main = await hoop([...base, '--ref', 'refs/heads/main']);
    expect(main.stdout).toMatch(/^review \(rule default:protected-branches-reviewed, class git-push\)/);
    const del = await hoop([...base, '--ref', 'refs/heads/main', '--delete', '--json']);
    expect(JSON.parse(String(del.stdout))).toMatchObject({ action: 'deny', rule: 'default:no-ref-delete', class: 'ref-delete', ref: 'refs/heads/main', reason: 'deleting branches and tags is not allowed through hoop' });
    const fwd = await hoop([...base, '--access', 'port-forward']);
    expect(fwd.stdout).toMatch(/^deny \(rule hoop:no-matching-rule, class port-forward\): no policy rule allows port forwarding on web-1/);
    const own = join(dir, 'ssh.yaml');
    writeFileSync(own, "rules:\n  - name: tools\n    match: { commands: ['ls *', 'cat *'] }\n    action: allow\n");
    const allowed = await hoop([...base, '--policy', own, '--command', 'ls /etc | cat']);
    expect(allowed.stdout).toMatch(/^allow \(rule tools, class exec\)/);
    const refused = await hoop([...base, '--policy', own, '--command', 'ls; rm x']);
    expect(refused.stdout).toMatch(/^deny \(rule hoop:no-matching-rule, class exec\): no policy rule allows running rm on web-1\nmatched: rm x/);
  });

  it('explain takes exactly one question', async () => {
    const base = ['policy', 'explain', '--connection', 'web-1', '--as', 'alice'];
    for (const args of [[...base], [...base, '--sql', 'select 1', '--command', 'ls'], [...base, '--command', 'ls', '--delete'], [...base, '--access', 'telnet']]) {
      const r = await hoop(args);
      expect(r.exitCode, args.join(' ')).toBe(2);
    }
  });
});
