import { describe, expect, it } from 'vitest';
import { type Action, type ApprovalsState, elsewhereNotice, initialState, keyAction, selectedRequest, step } from '../../src/tui/approvals-model.js';
import { NOW, request, vote } from './fixtures.js';

/** Runs actions in order; returns the final state and every effect asked for. */
function run(actions: readonly Action[], from: ApprovalsState = initialState) {
  const effects = [];
  let state = from;
  for (const a of actions) {
    const s = step(state, a);
    state = s.state;
    if (s.effect) effects.push(s.effect);
  }
  return { state, effects };
}

const older = request({ id: 'ar_old', createdAt: NOW - 120_000 });
const newer = request({ id: 'ar_new', createdAt: NOW - 10_000 });
const snapshot: Action = { type: 'snapshot', requests: [older, newer] };

describe('approvals model', () => {
  it('orders pending first, newest first, and selects the top row', () => {
    const decided = request({ id: 'ar_done', createdAt: NOW, status: 'approved' });
    const { state } = run([{ type: 'snapshot', requests: [older, decided, newer] }]);
    expect(state.requests.map((r) => r.id)).toEqual(['ar_new', 'ar_old', 'ar_done']);
    expect(state.selectedId).toBe('ar_new');
  });

  it('moves the selection and stops at the ends', () => {
    const { state } = run([snapshot, { type: 'move', delta: 1 }, { type: 'move', delta: 1 }]);
    expect(state.selectedId).toBe('ar_old');
    expect(run([{ type: 'move', delta: -1 }], state).state.selectedId).toBe('ar_new');
  });

  it('keeps the cursor in place when the selected request leaves the list', () => {
    const third = request({ id: 'ar_third', createdAt: NOW - 200_000 });
    const { state } = run([{ type: 'snapshot', requests: [older, newer, third] }, { type: 'move', delta: 1 }, { type: 'snapshot', requests: [newer, third] }]);
    expect(state.selectedId).toBe('ar_third');
  });

  it('approves the selected request', () => {
    const { state, effects } = run([snapshot, { type: 'approve' }]);
    expect(effects).toEqual([{ kind: 'approve', id: 'ar_new' }]);
    expect(state.inFlight.has('ar_new')).toBe(true);
  });

  it('asks for a window, defaulting to 30m, and rejects what is not a duration', () => {
    expect(run([snapshot, { type: 'start-window' }, { type: 'submit' }]).effects).toEqual([{ kind: 'approve', id: 'ar_new', window: '30m' }]);
    const bad = run([snapshot, { type: 'start-window' }, { type: 'type', text: 'soon' }, { type: 'submit' }]);
    expect(bad.effects).toEqual([]);
    expect(bad.state.mode).toBe('window');
    expect(bad.state.message?.tone).toBe('error');
  });

  it('requires a reason to deny, and edits it with backspace', () => {
    const empty = run([snapshot, { type: 'start-deny' }, { type: 'type', text: '  ' }, { type: 'submit' }]);
    expect(empty.effects).toEqual([]);
    expect(empty.state.message).toEqual({ tone: 'error', text: expect.stringContaining('needs a reason') });
    const { effects, state } = run([{ type: 'type', text: 'use the pipelinex' }, { type: 'backspace' }, { type: 'submit' }], empty.state);
    expect(effects).toEqual([{ kind: 'deny', id: 'ar_new', reason: 'use the pipeline' }]);
    expect(state.mode).toBe('list');
  });

  it('refuses to vote on a request that is no longer pending', () => {
    const { state, effects } = run([{ type: 'snapshot', requests: [request({ id: 'ar_x', status: 'denied', votes: [vote('bob', 'deny')] })] }, { type: 'approve' }]);
    expect(effects).toEqual([]);
    expect(state.message?.text).toBe('ar_x is already denied by bob');
  });

  it('says "decided elsewhere" when someone else settles the selected request', () => {
    const approved = { ...newer, status: 'approved' as const, votes: [vote('bob', 'approve')] };
    const { state } = run([snapshot, { type: 'start-deny' }, { type: 'type', text: 'no' }, { type: 'change', request: approved }]);
    expect(elsewhereNotice(state, selectedRequest(state)!)).toBe('decided elsewhere: approved by bob');
    // The half-typed denial is moot now.
    expect(state.mode).toBe('list');
    expect(state.message?.text).toBe('ar_new decided elsewhere: approved by bob');
  });

  it('describes expiry and denial with the reason', () => {
    const expired = run([snapshot, { type: 'change', request: { ...newer, status: 'expired' } }]).state;
    expect(elsewhereNotice(expired, selectedRequest(expired)!)).toBe('decided elsewhere: expired before enough approvers answered');
    const denied = run([snapshot, { type: 'change', request: { ...newer, status: 'denied', reason: 'not now', votes: [vote('carol', 'deny')] } }]).state;
    expect(elsewhereNotice(denied, selectedRequest(denied)!)).toBe('decided elsewhere: denied by carol: not now');
  });

  it('does not call our own decision "elsewhere", even when the change beats the response', () => {
    const approved = { ...newer, status: 'approved' as const, votes: [vote('me', 'approve')] };
    const { state } = run([snapshot, { type: 'approve' }, { type: 'change', request: approved }, { type: 'result-ok', decision: 'approve', request: approved }, { type: 'change', request: approved }]);
    expect(state.decidedElsewhere.size).toBe(0);
    expect(state.message?.text).toBe('approved ar_new');
  });

  it('a vote that failed because someone else decided first is "elsewhere"', () => {
    const denied = { ...newer, status: 'denied' as const, votes: [vote('bob', 'deny')] };
    const { state } = run([snapshot, { type: 'approve' }, { type: 'change', request: denied }, { type: 'failed', id: 'ar_new', error: 'request ar_new is already denied (by bob)' }]);
    expect(state.decidedElsewhere.has('ar_new')).toBe(true);
    expect(state.message).toEqual({ tone: 'error', text: 'request ar_new is already denied (by bob)' });
  });

  it('a partial approval reports how many are still needed', () => {
    const two = request({ id: 'ar_two', approvalsNeeded: 2 });
    const { state } = run([{ type: 'snapshot', requests: [two] }, { type: 'approve' }, { type: 'result-ok', decision: 'approve', request: { ...two, votes: [vote('me', 'approve')] } }]);
    expect(state.message?.text).toBe('approval recorded for ar_two (1 of 2)');
    // Bob's later approval settles it: that one was decided elsewhere.
    const done = run([{ type: 'change', request: { ...two, status: 'approved', votes: [vote('me', 'approve'), vote('bob', 'approve')] } }], state).state;
    expect(elsewhereNotice(done, selectedRequest(done)!)).toBe('decided elsewhere: approved by me, bob');
  });

  it('a vote answer overtaken by the stream neither reopens the request nor hides who settled it', () => {
    const two = request({ id: 'ar_two', approvalsNeeded: 2 });
    const mine = { ...two, votes: [vote('me', 'approve')] };
    const settled = { ...two, status: 'approved' as const, votes: [vote('me', 'approve'), vote('bob', 'approve')] };
    const { state } = run([{ type: 'snapshot', requests: [two] }, { type: 'approve' }, { type: 'change', request: settled }, { type: 'result-ok', decision: 'approve', request: mine }]);
    expect(selectedRequest(state)?.status).toBe('approved');
    expect(elsewhereNotice(state, selectedRequest(state)!)).toBe('decided elsewhere: approved by me, bob');
  });

  it('maps keys by mode: letters are text inside a prompt', () => {
    expect(keyAction('list', 'd', {})).toEqual({ type: 'start-deny' });
    expect(keyAction('deny-reason', 'd', {})).toEqual({ type: 'type', text: 'd' });
    expect(keyAction('list', '', { downArrow: true })).toEqual({ type: 'move', delta: 1 });
    expect(keyAction('list', 'k', {})).toEqual({ type: 'move', delta: -1 });
    expect(keyAction('window', '', { return: true })).toEqual({ type: 'submit' });
    expect(keyAction('window', '', { escape: true })).toEqual({ type: 'cancel' });
    expect(keyAction('window', '', { backspace: true })).toEqual({ type: 'backspace' });
    expect(keyAction('help', 'x', {})).toEqual({ type: 'cancel' });
    expect(keyAction('list', 'q', {})).toEqual({ type: 'quit' });
  });

  it('refresh and quit are effects', () => {
    expect(run([{ type: 'refresh' }, { type: 'quit' }]).effects).toEqual([{ kind: 'refresh' }, { kind: 'quit' }]);
  });
});
