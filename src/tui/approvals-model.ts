import type { ApprovalRequest } from '../store/store.js';

/**
 * The approvals screen's state machine: pure, no React, no I/O. `step` returns the next state and,
 * when the gateway must be asked something, an `Effect` for the app to run; the effect's outcome
 * comes back as a `result-ok` or `failed` action. Keeping I/O out makes every rule here testable without a
 * terminal or a gateway.
 */

export type Mode = 'list' | 'deny-reason' | 'window' | 'help';

export interface StatusMessage {
  readonly text: string;
  readonly tone: 'info' | 'error';
}

export interface ApprovalsState {
  /** Pending first, then newest first. */
  readonly requests: readonly ApprovalRequest[];
  readonly selectedId: string | null;
  readonly mode: Mode;
  /** What has been typed into the open prompt. */
  readonly input: string;
  /** The request the open prompt acts on, fixed when the prompt opens. */
  readonly target: string | null;
  readonly message: StatusMessage | null;
  /** Requests someone else (or expiry) settled while we watched. */
  readonly decidedElsewhere: ReadonlySet<string>;
  /** Requests with one of our votes in flight: a change for them is our own doing. */
  readonly inFlight: ReadonlySet<string>;
  /** Requests our own vote settled, so late change events for them are not "elsewhere". */
  readonly decidedByUs: ReadonlySet<string>;
  /** Whether the live stream is connected, so what is on screen is current. */
  readonly live: boolean;
}

export type Action =
  /** The full pending list: on every stream (re)connect, and as the answer to a refresh. */
  | { readonly type: 'snapshot'; readonly requests: readonly ApprovalRequest[]; readonly refreshed?: boolean }
  | { readonly type: 'change'; readonly request: ApprovalRequest }
  /** The live stream was lost (and is being reconnected); its next snapshot means it is back. */
  | { readonly type: 'stream-down'; readonly error: string }
  | { readonly type: 'move'; readonly delta: 1 | -1 }
  | { readonly type: 'approve' }
  | { readonly type: 'start-window' }
  | { readonly type: 'start-deny' }
  | { readonly type: 'type'; readonly text: string }
  | { readonly type: 'backspace' }
  | { readonly type: 'submit' }
  | { readonly type: 'cancel' }
  | { readonly type: 'help' }
  | { readonly type: 'refresh' }
  | { readonly type: 'quit' }
  | { readonly type: 'result-ok'; readonly decision: 'approve' | 'deny'; readonly request: ApprovalRequest; readonly window?: string }
  /** A gateway call failed; `id` names the request a failed vote was for. */
  | { readonly type: 'failed'; readonly id?: string; readonly error: string };

export type Effect =
  | { readonly kind: 'approve'; readonly id: string; readonly window?: string }
  | { readonly kind: 'deny'; readonly id: string; readonly reason: string }
  | { readonly kind: 'refresh' }
  | { readonly kind: 'quit' };

export interface Step {
  readonly state: ApprovalsState;
  readonly effect?: Effect;
}

export const DEFAULT_WINDOW = '30m';
/** The gateway's own duration syntax; it also enforces the 24h ceiling. */
const DURATION = /^\d+(ms|s|m|h|d)$/;

export const initialState: ApprovalsState = {
  requests: [],
  selectedId: null,
  mode: 'list',
  input: '',
  target: null,
  message: null,
  decidedElsewhere: new Set(),
  inFlight: new Set(),
  decidedByUs: new Set(),
  live: false,
};

export function selectedRequest(state: ApprovalsState): ApprovalRequest | undefined {
  return state.requests.find((r) => r.id === state.selectedId);
}

/** "approved by alice, bob", "denied by bob: use the pipeline", "expired", "cancelled". */
export function describeDecision(r: ApprovalRequest): string {
  const names = (decision: 'approve' | 'deny'): string =>
    [...new Set(r.votes.filter((v) => v.decision === decision).map((v) => v.approverName))].join(', ');
  switch (r.status) {
    case 'approved':
      return `approved by ${names('approve') || 'unknown'}`;
    case 'denied':
      return `denied by ${names('deny') || 'unknown'}${r.reason ? `: ${r.reason}` : ''}`;
    case 'expired':
      return 'expired before enough approvers answered';
    case 'cancelled':
      return 'cancelled (the requesting session ended)';
    case 'pending':
      return 'pending';
  }
}

/** The detail pane's notice for a request settled by someone else, or null. */
export function elsewhereNotice(state: ApprovalsState, r: ApprovalRequest): string | null {
  return state.decidedElsewhere.has(r.id) ? `decided elsewhere: ${describeDecision(r)}` : null;
}

function order(requests: Iterable<ApprovalRequest>): ApprovalRequest[] {
  return [...requests].sort((a, b) => {
    const pa = a.status === 'pending' ? 0 : 1;
    const pb = b.status === 'pending' ? 0 : 1;
    return pa - pb || b.createdAt - a.createdAt || a.id.localeCompare(b.id);
  });
}

/**
 * Keeps the selection on the same request when it is still listed; otherwise on the row that took
 * its place, so the cursor does not jump to the top when the selected request disappears.
 */
function withRequests(state: ApprovalsState, requests: ApprovalRequest[]): ApprovalsState {
  const sorted = order(requests);
  let selectedId = state.selectedId;
  if (!sorted.some((r) => r.id === selectedId)) {
    const oldIndex = Math.max(0, state.requests.findIndex((r) => r.id === selectedId));
    selectedId = sorted[Math.min(oldIndex, sorted.length - 1)]?.id ?? null;
  }
  return { ...state, requests: sorted, selectedId };
}

/**
 * Puts the latest copy of a request in the list. A decision is final, so a pending copy of a
 * settled request is stale: a vote's HTTP answer overtaken by the stream's report of a later vote.
 */
function merge(state: ApprovalsState, r: ApprovalRequest): ApprovalsState {
  const old = state.requests.find((x) => x.id === r.id);
  if (old && old.status !== 'pending' && r.status === 'pending') return state;
  return withRequests(state, [...state.requests.filter((x) => x.id !== r.id), r]);
}

function add(set: ReadonlySet<string>, id: string): ReadonlySet<string> {
  return new Set(set).add(id);
}

function remove(set: ReadonlySet<string>, id: string): ReadonlySet<string> {
  const next = new Set(set);
  next.delete(id);
  return next;
}

const info = (text: string): StatusMessage => ({ text, tone: 'info' });
const error = (text: string): StatusMessage => ({ text, tone: 'error' });

/** Why the selected request cannot be voted on right now, or null when it can. */
function refuseVote(state: ApprovalsState, r: ApprovalRequest): StatusMessage | null {
  if (r.status !== 'pending') return error(`${r.id} is already ${describeDecision(r)}`);
  if (state.inFlight.has(r.id)) return info(`still waiting for the gateway on ${r.id}`);
  return null;
}

function vote(state: ApprovalsState, effect: Effect & { id: string }, text: string): Step {
  return {
    state: { ...state, mode: 'list', input: '', target: null, inFlight: add(state.inFlight, effect.id), message: info(text) },
    effect,
  };
}

export function step(state: ApprovalsState, action: Action): Step {
  switch (action.type) {
    case 'snapshot': {
      const next = withRequests(state, [...action.requests]);
      if (action.refreshed) return { state: { ...next, message: info(`refreshed: ${action.requests.length} pending`) } };
      return { state: { ...next, live: true } };
    }

    case 'change': {
      const r = action.request;
      let next = merge(state, r);
      const ours = state.inFlight.has(r.id) || state.decidedByUs.has(r.id);
      if (r.status === 'pending' || ours || state.decidedElsewhere.has(r.id)) return { state: next };
      next = { ...next, decidedElsewhere: add(next.decidedElsewhere, r.id) };
      // A prompt for a request that just got settled would only lead to a 409: close it and say why.
      if (next.target === r.id) next = { ...next, mode: 'list', input: '', target: null };
      if (next.selectedId === r.id) next = { ...next, message: info(`${r.id} decided elsewhere: ${describeDecision(r)}`) };
      return { state: next };
    }

    case 'stream-down':
      return { state: { ...state, live: false, message: error(`live updates interrupted (${action.error}); reconnecting…`) } };

    case 'move': {
      if (state.mode !== 'list' || state.requests.length === 0) return { state };
      const i = state.requests.findIndex((r) => r.id === state.selectedId);
      const j = Math.min(Math.max(i + action.delta, 0), state.requests.length - 1);
      return { state: { ...state, selectedId: state.requests[j]!.id } };
    }

    case 'approve':
    case 'start-window':
    case 'start-deny': {
      const r = selectedRequest(state);
      if (!r) return { state: { ...state, message: error('nothing selected') } };
      const refusal = refuseVote(state, r);
      if (refusal) return { state: { ...state, message: refusal } };
      if (action.type === 'approve') return vote(state, { kind: 'approve', id: r.id }, `approving ${r.id}…`);
      const mode = action.type === 'start-window' ? 'window' : 'deny-reason';
      return { state: { ...state, mode, input: '', target: r.id, message: null } };
    }

    case 'type':
      if (state.mode !== 'window' && state.mode !== 'deny-reason') return { state };
      // Pasted newlines would end up inside a one-line reason; flatten them.
      return { state: { ...state, input: state.input + action.text.replace(/[\r\n]+/g, ' ') } };

    case 'backspace':
      return { state: { ...state, input: [...state.input].slice(0, -1).join('') } };

    case 'submit': {
      const id = state.target;
      if (!id) return { state };
      const text = state.input.trim();
      if (state.mode === 'deny-reason') {
        if (!text) return { state: { ...state, message: error('a denial needs a reason: type one, or Esc to cancel') } };
        return vote(state, { kind: 'deny', id, reason: text }, `denying ${id}…`);
      }
      if (state.mode === 'window') {
        const window = text || DEFAULT_WINDOW;
        if (!DURATION.test(window)) return { state: { ...state, message: error(`"${window}" is not a duration like 15m, 2h or 1d`) } };
        return vote(state, { kind: 'approve', id, window }, `approving ${id} for ${window}…`);
      }
      return { state };
    }

    case 'cancel':
      return { state: { ...state, mode: 'list', input: '', target: null, message: state.mode === 'help' ? state.message : info('cancelled') } };

    case 'help':
      return { state: { ...state, mode: state.mode === 'help' ? 'list' : 'help' } };

    case 'refresh':
      return { state: { ...state, message: info('refreshing…') }, effect: { kind: 'refresh' } };

    case 'quit':
      return { state, effect: { kind: 'quit' } };

    case 'result-ok': {
      const r = action.request;
      let next = merge(state, r);
      next = { ...next, inFlight: remove(next.inFlight, r.id) };
      if (r.status !== 'pending') next = { ...next, decidedByUs: add(next.decidedByUs, r.id) };
      // Our vote left it pending, yet it is settled: another approver's vote (or expiry) did that,
      // reported by the stream while ours was on its way, when it looked like our own doing.
      else if (next.requests.find((x) => x.id === r.id)?.status !== 'pending') next = { ...next, decidedElsewhere: add(next.decidedElsewhere, r.id) };
      return { state: { ...next, message: info(resultText(action.decision, r, action.window)) } };
    }

    case 'failed': {
      if (action.id === undefined) return { state: { ...state, message: error(action.error) } };
      let next: ApprovalsState = { ...state, inFlight: remove(state.inFlight, action.id), message: error(action.error) };
      // A change that arrived while our vote was in flight was not ours after all (the vote failed).
      const r = next.requests.find((x) => x.id === action.id);
      if (r && r.status !== 'pending' && !next.decidedByUs.has(r.id)) next = { ...next, decidedElsewhere: add(next.decidedElsewhere, r.id) };
      return { state: next };
    }
  }
}

function resultText(decision: 'approve' | 'deny', r: ApprovalRequest, window: string | undefined): string {
  if (decision === 'deny') return `denied ${r.id}`;
  if (r.status === 'approved') return `approved ${r.id}${window ? ` with a ${window} window` : ''}`;
  const given = new Set(r.votes.filter((v) => v.decision === 'approve').map((v) => v.approverSubject)).size;
  return `approval recorded for ${r.id} (${given} of ${r.approvalsNeeded})`;
}

/** The parts of ink's `Key` the screen reacts to. */
export interface KeyPress {
  readonly upArrow?: boolean;
  readonly downArrow?: boolean;
  readonly return?: boolean;
  readonly escape?: boolean;
  readonly backspace?: boolean;
  readonly delete?: boolean;
  readonly ctrl?: boolean;
  readonly meta?: boolean;
}

/** Maps a key press to an action, given the mode: in a prompt, letters are text, not commands. */
export function keyAction(mode: Mode, input: string, key: KeyPress): Action | null {
  if (mode === 'help') return input === 'q' ? { type: 'quit' } : { type: 'cancel' };
  if (mode === 'window' || mode === 'deny-reason') {
    if (key.return) return { type: 'submit' };
    if (key.escape) return { type: 'cancel' };
    // Terminals send DEL (0x7f) for the Backspace key; some keyboards report it as delete.
    if (key.backspace || key.delete) return { type: 'backspace' };
    if (input && !key.ctrl && !key.meta) return { type: 'type', text: input };
    return null;
  }
  if (key.upArrow || input === 'k') return { type: 'move', delta: -1 };
  if (key.downArrow || input === 'j') return { type: 'move', delta: 1 };
  switch (input) {
    case 'a':
      return { type: 'approve' };
    case 'w':
      return { type: 'start-window' };
    case 'd':
      return { type: 'start-deny' };
    case 'r':
      return { type: 'refresh' };
    case '?':
      return { type: 'help' };
    case 'q':
      return { type: 'quit' };
    default:
      return null;
  }
}
