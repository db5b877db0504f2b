import { Console as NodeConsole } from 'node:console';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { cleanup, render } from 'ink-testing-library';
import { createElement } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApprovalRequest } from '../../src/store/store.js';
import { App, runApprovalsTui } from '../../src/tui/approvals-app.js';
import { ApprovalsApiError, type ApprovalsClient } from '../../src/tui/approvals-client.js';
import { NOW, request, vote } from './fixtures.js';
import { FakeScreen, FakeTty } from '../support/fake-terminal.js';

// The app is rendered through createElement rather than JSX because vitest.config.ts only
// collects `*.test.ts` files.

const UP = '\u001B[A';
const DOWN = '\u001B[B';
const ENTER = '\r';
/** ink-testing-library's stdin.write reaches React asynchronously: let each key land first. */
const tick = (ms = 30) => new Promise((r) => setTimeout(r, ms));

/** A stand-in for the gateway's approvals API, recording what the TUI asked of it. */
class FakeGateway implements ApprovalsClient {
  readonly approved: [string, string | undefined][] = [];
  readonly denied: [string, string][] = [];
  /** When set, the next vote fails with it, as the gateway would answer. */
  failNext: Error | undefined;
  signal: AbortSignal | undefined;
  streams = 0;
  private onChange: ((r: ApprovalRequest) => void) | undefined;

  constructor(public requests: ApprovalRequest[]) {}

  async list() {
    return this.requests.filter((r) => r.status === 'pending');
  }

  async approve(id: string, window?: string) {
    this.approved.push([id, window]);
    return this.vote(id, 'approve');
  }

  async deny(id: string, reason: string) {
    this.denied.push([id, reason]);
    return this.vote(id, 'deny', reason);
  }

  async stream(onSnapshot: (rs: ApprovalRequest[]) => void, onChange: (r: ApprovalRequest) => void, signal: AbortSignal) {
    this.signal = signal;
    this.streams++;
    this.onChange = onChange;
    onSnapshot(await this.list());
  }

  /** Someone else's decision, or an expiry, arriving over the live stream. */
  change(r: ApprovalRequest) {
    this.requests = this.requests.map((x) => (x.id === r.id ? r : x));
    this.onChange?.(r);
  }

  private vote(id: string, decision: 'approve' | 'deny', reason?: string): ApprovalRequest {
    const err = this.failNext;
    this.failNext = undefined;
    if (err) throw err;
    const r = this.requests.find((x) => x.id === id)!;
    const settled: ApprovalRequest = {
      ...r,
      status: decision === 'approve' ? 'approved' : 'denied',
      reason: reason ?? null,
      votes: [...r.votes, vote('me', decision, { reason: reason ?? null })],
    };
    // Like the real gateway, the stream reports the decision too, before the POST answers.
    this.change(settled);
    return settled;
  }
}

const LONG_SQL = `UPDATE accounts SET balance = balance - 100, updated_at = now() WHERE customer_id IN (SELECT id FROM customers WHERE region = 'eu-west' AND tier = 'gold') RETURNING id, balance /* end-of-statement */`;

function setup() {
  const gateway = new FakeGateway([
    request({ id: 'ar_first', identityName: 'alice', agentMeta: { agent: 'claude-code' }, createdAt: NOW - 30_000, statement: LONG_SQL, class: 'update' }),
    request({ id: 'ar_second', identityName: 'carol', agentMeta: null, groups: ['ops', 'oncall'], createdAt: NOW - 300_000, statement: 'DROP TABLE audit_tmp', class: 'ddl', rule: 'prod-ddl', approvalsNeeded: 2 }),
  ]);
  const ui = render(createElement(App, { client: gateway, clock: () => NOW }));
  const frame = () => ui.lastFrame() ?? '';
  const press = async (...keys: string[]) => {
    for (const k of keys) {
      ui.stdin.write(k);
      await tick();
    }
  };
  return { gateway, ui, frame, press };
}

/** The row of the list showing this request id. */
const row = (frame: string, id: string) => frame.split('\n').find((l) => l.includes(id) && !l.includes('│')) ?? '';

afterEach(() => cleanup());

describe('approvals screen', () => {
  it('lists pending requests with who, agent, connection, class and age', async () => {
    const { frame } = setup();
    await tick();
    expect(row(frame(), 'ar_first')).toMatch(/› ar_first\s+alice\s+agent=claude-code\s+prod-db\s+update\s+30s/);
    expect(row(frame(), 'ar_second')).toMatch(/^ {2}ar_second\s+carol\s+prod-db\s+ddl\s+5m00s/);
    expect(frame()).toContain('2 pending');
  });

  it('moves the selection with arrows and j/k, and the detail follows', async () => {
    const { frame, press } = setup();
    await tick();
    await press(DOWN);
    expect(row(frame(), 'ar_second')).toMatch(/^› ar_second/);
    expect(frame()).toContain('carol (alice@example.com)');
    expect(frame()).toContain('ops, oncall');
    expect(frame()).toContain('rule prod-ddl');
    expect(frame()).toContain('0 of 2');
    await press(UP);
    expect(row(frame(), 'ar_first')).toMatch(/^› ar_first/);
    await press('j', 'k');
    expect(row(frame(), 'ar_first')).toMatch(/^› ar_first/);
  });

  it('shows the full SQL, wrapped, and the expiry countdown', async () => {
    const { frame } = setup();
    await tick();
    // Wrapped across lines inside the detail box; join them back to compare.
    const text = frame()
      .split('\n')
      .map((l) => l.replace(/^│\s?|\s*│$/g, '').trim())
      .join(' ');
    expect(text).toContain(LONG_SQL);
    expect(frame()).toContain('expires in 10m00s');
  });

  it('a approves the selected request and says so', async () => {
    const { gateway, frame, press } = setup();
    await tick();
    await press('a');
    expect(gateway.approved).toEqual([['ar_first', undefined]]);
    expect(frame()).toContain('approved ar_first');
    expect(frame()).not.toContain('decided elsewhere');
  });

  it('w asks for a window and approves with it', async () => {
    const { gateway, frame, press } = setup();
    await tick();
    await press('w');
    expect(frame()).toContain('approve ar_first with a window of');
    await press('1', '5', 'm', ENTER);
    expect(gateway.approved).toEqual([['ar_first', '15m']]);
    expect(frame()).toContain('approved ar_first with a 15m window');
  });

  it('d asks for a reason and denies with it', async () => {
    const { gateway, frame, press } = setup();
    await tick();
    await press(DOWN, 'd');
    expect(frame()).toContain('deny ar_second, reason:');
    await press('use the migration pipeline', ENTER);
    expect(gateway.denied).toEqual([['ar_second', 'use the migration pipeline']]);
    expect(frame()).toContain('denied ar_second');
  });

  it('d with an empty reason shows an error and does not deny', async () => {
    const { gateway, frame, press } = setup();
    await tick();
    await press('d', ENTER);
    expect(gateway.denied).toEqual([]);
    expect(frame()).toContain('a denial needs a reason');
    // Still in the prompt, so the reason can be typed now.
    expect(frame()).toContain('deny ar_first, reason:');
  });

  it('shows the gateway refusing a vote in the status line', async () => {
    const { gateway, frame, press } = setup();
    await tick();
    gateway.failNext = new ApprovalsApiError('you cannot approve your own request ar_first: another approver must', 403, 'HOOP_SELF_APPROVAL');
    await press('a');
    expect(frame()).toContain('you cannot approve your own request ar_first');
  });

  it('says "decided elsewhere" when another approver settles the selected request', async () => {
    const { gateway, frame } = setup();
    await tick();
    const first = gateway.requests[0]!;
    gateway.change({ ...first, status: 'approved', decidedAt: NOW, votes: [vote('bob', 'approve')] });
    await tick();
    expect(frame()).toContain('decided elsewhere: approved by bob');
    expect(row(frame(), 'ar_first')).toContain('approved');
  });

  it('q quits', async () => {
    const { gateway, press } = setup();
    await tick();
    await press(DOWN, 'a', 'r');
    expect(gateway.signal?.aborted).toBe(false);
    // Re-renders must not restart the live stream.
    expect(gateway.streams).toBe(1);
    await press('q');
    // Unmounting ends the live stream: the app is gone.
    expect(gateway.signal?.aborted).toBe(true);
  });
});

describe('runApprovalsTui', () => {
  it('renders from the live stream and resolves 0 on q', async () => {
    // Ink patches the console through `console.Console`, which vitest's console replacement lacks.
    const hadConsole = 'Console' in console;
    if (!hadConsole) Object.assign(console, { Console: NodeConsole });
    let streamed!: () => void;
    const snapshotSent = new Promise<void>((r) => (streamed = r));
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: snapshot\ndata: ${JSON.stringify({ requests: [request({ id: 'ar_live' })] })}\n\n`, () => streamed());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const stdin = new FakeTty();
      const stdout = new FakeScreen();
      const auth = { gateway: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: async () => 'tok' };
      const code = runApprovalsTui(auth, { stdin: stdin as unknown as NodeJS.ReadStream, stdout: stdout as unknown as NodeJS.WriteStream });
      await snapshotSent;
      await tick(200); // let it reach the screen
      stdin.type('q');
      expect(await code).toBe(0);
      // Interactive, every frame is in the output; in CI ink goes non-interactive and writes the last one on exit.
      expect(stdout.output).toContain('ar_live');
    } finally {
      server.closeAllConnections();
      server.close();
      if (!hadConsole) delete (console as { Console?: unknown }).Console;
    }
  });

  it('refuses to start without a terminal', async () => {
    const stdin = Object.assign(new EventEmitter(), { isTTY: false }) as unknown as NodeJS.ReadStream;
    await expect(runApprovalsTui({ gateway: 'http://127.0.0.1:9', token: async () => 'tok' }, { stdin })).rejects.toThrow('needs an interactive terminal');
  });
});
