import type { ApprovalRequestedEvent, RecordedDecision } from '../audit/events.js';
import type { SessionRecorder } from '../audit/session.js';
import type { AgentMeta } from '../auth/agent-meta.js';
import type { Identity } from '../auth/identity.js';
import type { ApprovalRequest } from '../store/store.js';
import type { ApprovalService } from './approvals.js';
import type { Decision } from './policy.js';

export type ReviewDecision = Extract<Decision, { action: 'review' }>;

/** Who let a held action run. */
export interface GrantedApproval {
  readonly requestId: string;
  readonly approvedBy: readonly string[];
  readonly viaWindow: boolean;
}

export type ReviewOutcome = { readonly approved: true; readonly approval: GrantedApproval } | { readonly approved: false; readonly message: string };

export interface ReviewContext {
  readonly identity: Identity;
  readonly connection: string;
  readonly approvals: ApprovalService;
  readonly agentMeta: AgentMeta | undefined;
  readonly recorder: SessionRecorder;
}

export interface HeldAction {
  readonly decision: ReviewDecision;
  /** What the approver is shown and the request stores: the statement, command line or ref updates. */
  readonly text: string;
  /** The same, masked for the recording. */
  readonly recordedText: string;
  readonly subject: NonNullable<ApprovalRequestedEvent['subject']>;
  /** `statement`, `command`, `push`: for the messages the client sees. */
  readonly what: string;
  readonly recordedDecision: RecordedDecision;
  /** Tells the waiting client that it waits, and for which request (a NOTICE, a line on stderr, a sideband message). */
  readonly notify: (request: ApprovalRequest) => void;
  /** Aborted when the session ends: the request is withdrawn and the promise rejects. */
  readonly signal: AbortSignal;
}

/**
 * The approval flow every protocol shares: an open approval window lets the action through at
 * once; otherwise a request is stored, the client told, and the action held until the request is
 * settled (approved, denied, expired, or withdrawn because the session ended). Both ends are
 * recorded. Protocol engines decide only how to hold and how to release.
 */
export async function awaitApproval(ctx: ReviewContext, held: HeldAction): Promise<ReviewOutcome> {
  const { decision } = held;
  const { recorder } = ctx;
  const window = await ctx.approvals.findWindow(ctx.identity.subject, ctx.connection, decision.class);
  held.signal.throwIfAborted();
  if (window) {
    recorder.approval({ type: 'approval.decided', requestId: window.requestId, status: 'approved', approvers: [], reason: 'approval window', waitedMs: 0, viaWindow: true });
    return { approved: true, approval: { requestId: window.requestId, approvedBy: [], viaWindow: true } };
  }
  const request = await ctx.approvals.create({
    expiresAt: Date.now() + decision.timeoutMs,
    sessionId: recorder.sessionId,
    identitySubject: ctx.identity.subject,
    identityName: ctx.identity.name,
    groups: ctx.identity.groups,
    agentMeta: ctx.agentMeta ?? null,
    connection: ctx.connection,
    statement: held.text,
    class: decision.class,
    rule: decision.rule,
    approverGroups: decision.approvers,
    approvalsNeeded: decision.approvals,
  });
  recorder.approval({
    type: 'approval.requested',
    requestId: request.id,
    sql: held.recordedText,
    ...(held.subject === 'sql' ? {} : { subject: held.subject }),
    decision: held.recordedDecision,
    approverGroups: decision.approvers,
    approvalsNeeded: decision.approvals,
    expiresAt: request.expiresAt,
  });
  let settled: ApprovalRequest;
  try {
    held.signal.throwIfAborted();
    held.notify(request);
    settled = await ctx.approvals.waitForDecision(request.id, held.signal);
  } catch (err) {
    // The session ended while it waited: nobody should approve what can no longer run.
    void ctx.approvals.cancel(request.id).catch(() => {});
    throw err;
  }
  const approvers = settled.votes.map((v) => ({ name: v.approverName, decision: v.decision, reason: v.reason, windowMs: v.windowMs }));
  const status = settled.status === 'pending' ? 'cancelled' : settled.status;
  recorder.approval({ type: 'approval.decided', requestId: settled.id, status, approvers, reason: settled.reason, waitedMs: (settled.decidedAt ?? Date.now()) - settled.createdAt, viaWindow: false });
  if (status === 'approved') {
    return { approved: true, approval: { requestId: settled.id, approvedBy: approvers.filter((a) => a.decision === 'approve').map((a) => a.name), viaWindow: false } };
  }
  if (status === 'denied') {
    const by = approvers.find((a) => a.decision === 'deny');
    return { approved: false, message: `hoop: denied by ${by?.name ?? 'an approver'}: ${settled.reason ?? 'no reason given'} (request ${settled.id})` };
  }
  return { approved: false, message: `hoop: approval request ${settled.id} ${status === 'expired' ? 'expired without a decision' : 'was withdrawn'}; the ${held.what} did not run` };
}

/** A decision as it is recorded: the rule that made it, and the reason of a denial. */
export function recordedDecision(d: Decision): RecordedDecision {
  // Keys in canonical order (every statement's record holds one; see canonical.ts).
  return d.action === 'deny' ? { action: d.action, class: d.class, reason: d.reason, rule: d.rule } : { action: d.action, class: d.class, rule: d.rule };
}

/** The line a waiting client is shown. */
export function waitingMessage(request: ApprovalRequest, decision: ReviewDecision): string {
  return `hoop: approval required, request ${request.id}; waiting… (held by rule ${decision.rule}; ${decision.approvals} approval(s) from ${decision.approvers.join(', ')} within ${Math.round(decision.timeoutMs / 60000)} min; an approver runs: hoop approve ${request.id})`;
}
