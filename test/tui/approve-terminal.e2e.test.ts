import { execFileSync, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConnectProcess, type GatewayProcess, HOOP_BIN, directQuery, pgBin, startConnect, startGateway, tempDir } from '../support/hoop.js';

const SESSION = `hoop-approve-${process.pid}`;
const table = `hoop_tui_${process.pid}`;

function tmux(...args: string[]): string {
  return execFileSync('tmux', args, { encoding: 'utf8' });
}

async function screenUntil(pattern: RegExp, what: string): Promise<string> {
  let screen = '';
  for (let i = 0; i < 100; i++) {
    screen = tmux('capture-pane', '-p', '-t', SESSION);
    if (pattern.test(screen)) return screen;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} never appeared; the screen was:\n${screen}`);
}

/** The approvals screen in a real terminal (tmux): a query held in one session is approved from another. */
describe('hoop approve in a real terminal', () => {
  let gw: GatewayProcess;
  let tunnel: ConnectProcess;
  let approverToken: string;

  beforeAll(async () => {
    gw = await startGateway({
      extraYaml: `approvals:\n  pollMs: 50\npolicy:\n  rules:\n    - name: reads\n      match: { classes: [read, session, transaction] }\n      action: allow\n    - name: writes-reviewed\n      match: { classes: [write] }\n      action: review\n      review: { approvers: [approvers] }\n`,
    });
    tunnel = await startConnect('pg-local', gw.url, await gw.createToken('tui-agent', ['engineers']));
    approverToken = await gw.createToken('tui-approver', ['approvers']);
    await directQuery(`drop table if exists ${table}; create table ${table} (id int); insert into ${table} values (1), (2)`);
  });

  afterAll(async () => {
    try {
      tmux('kill-session', '-t', SESSION);
    } catch {
      // already gone
    }
    await tunnel?.stop();
    await gw?.stop();
    await directQuery(`drop table if exists ${table}`).catch(() => {});
  });

  it('shows the held statement, approves it with a key press, and the client gets its result', async () => {
    const held = spawn(pgBin('psql'), ['-h', '127.0.0.1', '-p', String(tunnel.port), '-U', 'hoop', '-d', 'x', '-X', '-c', `update ${table} set id = 10 where id = 1`], {
      env: { ...process.env, PGSSLMODE: 'disable' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    held.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => held.once('exit', r));

    const command = `HOOP_CONFIG_DIR=${tempDir('tui-cli')} node ${HOOP_BIN} approve --gateway ${gw.url} --token ${approverToken}`;
    tmux('new-session', '-d', '-s', SESSION, '-x', '140', '-y', '35', command);
    const screen = await screenUntil(/update hoop_tui_\d+ set id = 10 where id = 1/, 'the held statement');
    expect(screen).toContain('tui-agent');
    expect(screen).toMatch(/1 pending/);
    expect(screen).toContain('writes-reviewed');

    tmux('send-keys', '-t', SESSION, 'a');
    await screenUntil(/approved ar_/, 'the approval confirmation');
    expect(await exited).toBe(0);
    expect(out).toContain('UPDATE 1');
    expect(await directQuery(`select count(*) from ${table} where id = 10`)).toBe('1');

    tmux('send-keys', '-t', SESSION, 'q');
    for (let i = 0; i < 50; i++) {
      try {
        tmux('has-session', '-t', SESSION);
      } catch {
        return; // the session ended: the app quit on q
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('hoop approve did not quit on q');
  });
});
