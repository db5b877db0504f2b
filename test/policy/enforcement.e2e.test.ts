import { spawn } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConnectProcess, type GatewayProcess, directQuery, hoop, pgBin, psql, startConnect, startGateway, waitForRequest } from '../support/hoop.js';

const table = `hoop_policy_${process.pid}`;

const POLICY = `
approvals:
  pollMs: 50
policy:
  rules:
    - name: no-drop
      match: { classes: [destructive, admin] }
      action: deny
      reason: dropping objects is not allowed here
    - name: reads
      match: { classes: [read, session, transaction] }
      action: allow
    - name: quick-expiry
      match: { classes: [write], connections: ['pg-short'] }
      action: review
      review: { approvers: [approvers], approvals: 1, timeout: 2s }
    - name: writes-reviewed
      match: { classes: [write] }
      action: review
      review: { approvers: [approvers], approvals: 1, timeout: 10m }
`;

const SHORT = `
  - name: pg-short
    type: postgres
    host: 127.0.0.1
    port: 5432
    database: test
    user: postgres
`;

/** Runs psql in the background; resolves with its outcome once it exits. */
function psqlAsync(port: number, sql: string): { done: Promise<{ code: number | null; stdout: string; stderr: string }>; exited: () => boolean } {
  const child = spawn(pgBin('psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'hoop', '-d', 'x', '-X', '-c', sql], { env: { ...process.env, PGSSLMODE: 'disable' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let exited = false;
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('exit', (code) => {
      exited = true;
      resolve({ code, stdout, stderr });
    }),
  );
  return { done, exited: () => exited };
}

describe('policy per statement, with approvals', () => {
  let gw: GatewayProcess;
  let agentToken: string;
  let approverToken: string;
  let tunnel: ConnectProcess;
  let shortTunnel: ConnectProcess;

  beforeAll(async () => {
    gw = await startGateway({ extraYaml: POLICY, connectionsYaml: `\n  - name: pg-local\n    type: postgres\n    host: 127.0.0.1\n    port: 5432\n    database: test\n    user: postgres\n${SHORT}` });
    agentToken = await gw.createToken('policy-agent', ['engineers']);
    approverToken = await gw.createToken('policy-approver', ['approvers']);
    tunnel = await startConnect('pg-local', gw.url, agentToken);
    shortTunnel = await startConnect('pg-short', gw.url, agentToken);
    await directQuery(`drop table if exists ${table}; create table ${table} (id int primary key, note text); insert into ${table} select g, 'n' || g from generate_series(1, 20) g`);
  });

  afterAll(async () => {
    await tunnel?.stop();
    await shortTunnel?.stop();
    await gw?.stop();
    await directQuery(`drop table if exists ${table}`).catch(() => {});
  });

  it('allows reads', async () => {
    const r = await psql(tunnel.port, ['-Atc', `select count(*) from ${table}`]);
    expect(r.stdout).toBe('20');
  });

  it('denies a DROP with 42501 and the rule, and the table still exists; the session stays usable', async () => {
    const r = await psql(tunnel.port, ['-v', 'VERBOSITY=verbose', '-At'], { input: `drop table ${table};\nselect 'still here';\n` });
    expect(r.stderr).toContain('42501');
    expect(r.stderr).toContain(`hoop: dropping objects is not allowed here (rule no-drop)`);
    expect(r.stdout).toContain('still here');
    expect(await directQuery(`select count(*) from ${table}`)).toBe('20');
  });

  it('denies text that does not parse', async () => {
    const r = await psql(tunnel.port, ['-Atc', 'selec 1']);
    expect(r.stderr).toMatch(/could not be parsed.*rule hoop:unparseable/);
  });

  it('holds a DELETE until an approver approves it, then runs exactly it', async () => {
    const run = psqlAsync(tunnel.port, `delete from ${table} where id = 1`);
    const request = await waitForRequest(gw, approverToken, `where id = 1`, 200);
    expect(request.identityName).toBe('policy-agent');
    await new Promise((res) => setTimeout(res, 300));
    expect(run.exited()).toBe(false);
    expect(await directQuery(`select count(*) from ${table} where id = 1`)).toBe('1');
    const approve = await hoop(['approve', request.id, '--gateway', gw.url, '--token', approverToken]);
    expect(approve.exitCode, String(approve.stderr)).toBe(0);
    const out = await run.done;
    expect(out.code).toBe(0);
    expect(out.stderr).toContain(`hoop: approval required, request ${request.id}`);
    expect(out.stdout).toContain('DELETE 1');
    expect(await directQuery(`select count(*) from ${table} where id = 1`)).toBe('0');
  });

  it('hoop exec shows the hold on stderr and returns the result once approved', async () => {
    const run = hoop(['exec', 'pg-local', '-i', `delete from ${table} where id = 8`, '--json', '--gateway', gw.url, '--token', agentToken]);
    const request = await waitForRequest(gw, approverToken, `where id = 8`, 200);
    expect((await hoop(['approve', request.id, '--gateway', gw.url, '--token', approverToken])).exitCode).toBe(0);
    const r = await run;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(r.stderr).toContain(`hoop: approval required, request ${request.id}`);
    expect(JSON.parse(String(r.stdout))).toMatchObject({ command: 'DELETE', rowCount: 1 });
  });

  it('refuses a self-approval', async () => {
    const run = psqlAsync(tunnel.port, `delete from ${table} where id = 2`);
    const request = await waitForRequest(gw, approverToken, `where id = 2`, 200);
    const self = await hoop(['approve', request.id, '--gateway', gw.url, '--token', agentToken]);
    expect(self.exitCode).toBe(3);
    expect(self.stderr).toMatch(/cannot approve your own request/);
    const deny = await hoop(['deny', request.id, '--reason', 'not during business hours', '--gateway', gw.url, '--token', approverToken]);
    expect(deny.exitCode, String(deny.stderr)).toBe(0);
    const out = await run.done;
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain('hoop: denied by policy-approver: not during business hours');
    expect(await directQuery(`select count(*) from ${table} where id = 2`)).toBe('1');
  });

  it('errors when the request expires', async () => {
    const run = psqlAsync(shortTunnel.port, `delete from ${table} where id = 3`);
    const out = await run.done;
    expect(out.stderr).toMatch(/expired without a decision/);
    expect(await directQuery(`select count(*) from ${table} where id = 3`)).toBe('1');
  });

  it('holds a parameterised DELETE over the extended protocol and resumes the pipeline in order', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: tunnel.port, user: 'hoop', database: 'x' });
    await client.connect();
    const notices: string[] = [];
    client.on('notice', (n) => notices.push(n.message ?? ''));
    const held = client.query(`delete from ${table} where id = $1 returning note`, [4]);
    const after = client.query(`select count(*)::int as n from ${table}`);
    const request = await waitForRequest(gw, approverToken, `where id = $1`, 200);
    const approve = await hoop(['approve', request.id, '--gateway', gw.url, '--token', approverToken]);
    expect(approve.exitCode, String(approve.stderr)).toBe(0);
    const deleted = await held;
    expect(deleted.rows).toEqual([{ note: 'n4' }]);
    expect((await after).rows[0].n).toBe(17);
    expect(notices.some((n) => n.includes(request.id))).toBe(true);
    // A denied parameterised statement errors and the connection stays usable.
    const second = client.query(`delete from ${table} where id = $1`, [5]).catch((e: { code?: string; message: string }) => e);
    const r2 = await waitForRequest(gw, approverToken, `where id = $1`, 200);
    await hoop(['deny', r2.id, '--reason', 'no', '--gateway', gw.url, '--token', approverToken]);
    const err = (await second) as { code?: string; message: string };
    expect(err.code).toBe('42501');
    expect((await client.query('select 1 as one')).rows[0].one).toBe(1);
    await client.end();
  });

  it('an approval window lets the next statement of that class through without a new request', async () => {
    const run = psqlAsync(tunnel.port, `delete from ${table} where id = 6`);
    const request = await waitForRequest(gw, approverToken, `where id = 6`, 200);
    const approve = await hoop(['approve', request.id, '--for', '30m', '--gateway', gw.url, '--token', approverToken]);
    expect(approve.exitCode, String(approve.stderr)).toBe(0);
    expect((await run.done).code).toBe(0);
    const next = await psql(tunnel.port, ['-c', `delete from ${table} where id = 7`]);
    expect(next.stdout).toContain('DELETE 1');
    expect(next.stderr).not.toContain('approval required');
  });

  it('records every decision with the rule that made it', async () => {
    await new Promise((res) => setTimeout(res, 300));
    const list = await hoop(['sessions', '--json', '--all', '--config', gw.configPath, '--limit', '1000']);
    const { sessions } = JSON.parse(String(list.stdout)) as { sessions: { id: string }[] };
    const events: { type: string; decision?: { action: string; rule: string }; status?: string; viaWindow?: boolean; sql?: string }[] = [];
    for (const s of sessions) {
      const show = await hoop(['sessions', 'show', s.id, '--json', '--config', gw.configPath]);
      events.push(...(JSON.parse(String(show.stdout)) as { events: typeof events }).events);
    }
    const decisions = events.filter((e) => e.type === 'statement' && e.decision).map((e) => `${e.decision!.action}:${e.decision!.rule}`);
    expect(decisions).toContain('deny:no-drop');
    expect(decisions).toContain('allow:reads');
    expect(decisions).toContain('review:writes-reviewed');
    const outcomes = events.filter((e) => e.type === 'approval.decided').map((e) => `${e.status}${e.viaWindow ? ':window' : ''}`);
    expect(outcomes).toEqual(expect.arrayContaining(['approved', 'denied', 'expired', 'approved:window']));
    expect(events.filter((e) => e.type === 'approval.requested').length).toBeGreaterThanOrEqual(5);
  });
});
