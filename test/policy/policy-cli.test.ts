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
});
