import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionSummary } from '../../src/store/store.js';
import { type GatewayProcess, HOOP_BIN, hoop, psql, startConnect, startGateway, tempDir } from '../support/hoop.js';
import { parseAsciicast } from './fixtures.js';

/**
 * `hoop replay` against a session a real gateway recorded: statements run with psql through
 * `hoop connect` (an allowed read, a database error, a statement the policy denies), then the
 * replay is compared with what the store holds.
 */

const TMUX = `hoop-replay-${process.pid}`;
const missing = `hoop_replay_missing_${process.pid}`;

function tmux(...args: string[]): string {
  return execFileSync('tmux', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

async function screenUntil(pattern: RegExp, what: string): Promise<string> {
  let screen = '';
  for (let i = 0; i < 150; i++) {
    screen = tmux('capture-pane', '-p', '-t', TMUX);
    if (pattern.test(screen)) return screen;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} never appeared; the screen was:\n${screen}`);
}

describe('hoop replay of a recorded session', () => {
  let gw: GatewayProcess;
  let token: string;
  let sessionId: string;
  let storedStatements: string[];
  const work = tempDir('replay');

  beforeAll(async () => {
    gw = await startGateway({
      extraYaml: `policy:\n  rules:\n    - name: no-destructive\n      match: { classes: [destructive] }\n      action: deny\n    - name: everything-else\n      action: allow\n`,
    });
    token = await gw.createToken('replay-agent');
    const tunnel = await startConnect('pg-local', gw.url, token);
    try {
      const r = await psql(tunnel.port, [
        '-c',
        "select 'first' as marker, pg_sleep(1.2)",
        '-c',
        `select * from ${missing}`,
        '-c',
        `drop table if exists ${missing}`,
        '-c',
        "select 'last' as marker, 42 as answer",
      ]);
      expect(String(r.stdout)).toContain('last');
      expect(String(r.stderr)).toContain('does not exist');
    } finally {
      await tunnel.stop();
    }
    // Wait for the session to be stored as ended.
    for (let i = 0; ; i++) {
      const r = await hoop(['sessions', '--config', gw.configPath, '--json']);
      const ended = (JSON.parse(String(r.stdout)) as { sessions: SessionSummary[] }).sessions.find((s) => s.identityName === 'replay-agent' && s.endedAt !== null && s.statements >= 4);
      if (ended) {
        sessionId = ended.id;
        break;
      }
      if (i > 100) throw new Error('the session was never stored as ended');
      await new Promise((r) => setTimeout(r, 100));
    }
    const db = new Database(join(gw.dir, 'data', 'hoop.db'), { readonly: true });
    try {
      storedStatements = (db.prepare("SELECT body FROM events WHERE session_id = ? AND type = 'statement' ORDER BY seq").all(sessionId) as { body: string }[]).map((r) => r.body);
    } finally {
      db.close();
    }
  });

  afterAll(async () => {
    try {
      tmux('kill-session', '-t', TMUX);
    } catch {
      // already gone
    }
    await gw?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('--format json prints exactly the recorded statements, from the store (--config) or the gateway', async () => {
    expect(storedStatements.length).toBeGreaterThanOrEqual(4);
    const fromStore = await hoop(['replay', sessionId, '--format', 'json', '--config', gw.configPath]);
    expect(fromStore.exitCode, String(fromStore.stderr)).toBe(0);
    const lines = String(fromStore.stdout).split('\n');
    // The stored bodies are canonical JSON, so even the text is the same.
    expect(lines).toEqual(storedStatements);
    const statements = lines.map((l) => JSON.parse(l) as { sql: string; error?: { code: string }; decision?: { action: string; rule: string } });
    expect(statements.find((s) => s.sql.includes(missing) && s.sql.startsWith('select'))?.error?.code).toBe('42P01');
    expect(statements.find((s) => s.sql.startsWith('drop'))?.decision).toMatchObject({ action: 'deny', rule: 'no-destructive' });

    const fromGateway = await hoop(['replay', sessionId, '--format', 'json', '--gateway', gw.url, '--token', token]);
    expect(fromGateway.exitCode, String(fromGateway.stderr)).toBe(0);
    expect(String(fromGateway.stdout).split('\n')).toEqual(storedStatements);
  });

  it('--format asciicast --out writes a valid asciicast v2 file with the session timing', async () => {
    const file = join(work, 'session.cast');
    const r = await hoop(['replay', sessionId, '--format', 'asciicast', '--out', file, '--config', gw.configPath]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout)).toBe('');
    const { header, events } = parseAsciicast(readFileSync(file, 'utf8'));
    expect(header.title).toContain(sessionId);
    const text = events.map((e) => e[2]).join('');
    expect(text).toContain("select 'first' as marker, pg_sleep(1.2)");
    expect(text).toContain(`ERROR 42P01: relation "${missing}" does not exist`);
    expect(text).toContain('decision  deny · rule no-destructive');
    // The second statement started after the first one's 1.2 s sleep.
    const at = (needle: string) => events.find((e) => e[2].includes(needle))![0];
    expect(at(`select * from ${missing}`) - at("select 'first'")).toBeGreaterThanOrEqual(1.2);
    // The same text as --format text.
    const plain = await hoop(['replay', sessionId, '--format', 'text', '--config', gw.configPath]);
    expect(text.replace(/\r\n/g, '\n')).toBe(`${String(plain.stdout)}\n`);
  });

  it('prints text when not in a terminal, and exits 4 for an unknown session', async () => {
    const r = await hoop(['replay', sessionId, '--config', gw.configPath]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout)).toContain(`session     ${sessionId}`);
    expect(String(r.stdout)).toContain('identity    replay-agent (service-account; groups: engineers)');
    expect(String(r.stderr)).toContain('not a terminal');
    expect((await hoop(['replay', 's_nope', '--config', gw.configPath])).exitCode).toBe(4);
    expect((await hoop(['replay', sessionId, '--speed', '0', '--config', gw.configPath])).exitCode).toBe(2);
  });

  it('plays in a real terminal: pause, next statement, quit', async () => {
    // Slowed down so the pause lands before the second statement is due (1.2 s × 10 later).
    const command = `HOOP_CONFIG_DIR=${tempDir('replay-cli')} node ${HOOP_BIN} replay ${sessionId} --config ${gw.configPath} --speed 0.1`;
    tmux('new-session', '-d', '-s', TMUX, '-x', '140', '-y', '45', command);
    let screen = await screenUntil(/── #1 /, 'the first statement');
    expect(screen).toContain(`session     ${sessionId}`);
    expect(screen).toContain('replay-agent');
    expect(screen).toContain("select 'first' as marker, pg_sleep(1.2)");

    tmux('send-keys', '-t', TMUX, 'Space');
    screen = await screenUntil(/paused/, 'the paused status');
    expect(screen).not.toContain('── #2 ');
    expect(screen).toMatch(/statement 1\/\d/);

    tmux('send-keys', '-t', TMUX, 'Right');
    screen = await screenUntil(/── #2 /, 'the second statement');
    expect(screen).toContain(`relation "${missing}" does not exist`);
    expect(screen).toMatch(/statement 2\/\d/);
    expect(screen).toContain('paused');
    expect(screen).not.toContain('── #3 ');

    tmux('send-keys', '-t', TMUX, 'q');
    for (let i = 0; i < 50; i++) {
      try {
        tmux('has-session', '-t', TMUX);
      } catch {
        return; // the session ended: the player quit on q
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('hoop replay did not quit on q');
  });
});
