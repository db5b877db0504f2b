import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Identity } from '../auth/identity.js';
import { ExitCode, HoopError, errorMessage } from '../errors.js';
import type { ApprovalRequest, ApprovalWindow, NewApprovalRequest, Store } from '../store/store.js';

/** Why a vote was refused; `status` is the HTTP status the API answers with. */
export class ApprovalError extends HoopError {
  constructor(
    code: string,
    message: string,
    readonly status: number,
  ) {
    super(code, message, { exitCode: status === 404 ? ExitCode.notFound : status === 403 ? ExitCode.auth : ExitCode.failure });
  }
}

/** Short, unambiguous ids people can type: `ar_` and 10 characters without 0/O/1/l. */
export function newApprovalId(): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyz23456789';
  const bytes = randomBytes(10);
  let id = 'ar_';
  for (const b of bytes) id += alphabet[b % alphabet.length];
  return id;
}

export interface ApprovalServiceEvents {
  /** A request was created or changed (vote, decision, expiry), in store order. */
  change: [ApprovalRequest];
}

/**
 * Approvals live in the store, and so does their change feed: every gateway replica polls the
 * same feed, so a statement held by one replica is released by a vote cast through another, and
 * live streams show what any replica did. Nothing here depends on process memory for correctness.
 */
export class ApprovalService extends EventEmitter<ApprovalServiceEvents> {
  private cursor = 0;
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private readonly waiters = new Map<string, Set<(r: ApprovalRequest) => void>>();

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly pollMs = 200,
  ) {
    super();
    this.setMaxListeners(0);
  }

  async start(): Promise<void> {
    this.cursor = await this.store.approvalChangeHead();
    this.timer = setInterval(() => void this.poll(), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      await this.store.expireApprovals(Date.now());
      for (;;) {
        const changes = await this.store.approvalChangesSince(this.cursor);
        if (changes.length === 0) break;
        for (const c of changes) {
          this.cursor = c.seq;
          const request = await this.store.getApprovalRequest(c.requestId);
          if (!request) continue;
          this.emit('change', request);
          if (request.status !== 'pending') {
            const ws = this.waiters.get(request.id);
            if (ws) for (const w of ws) w(request);
          }
        }
      }
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'approval feed poll failed');
    } finally {
      this.polling = false;
    }
  }

  async create(request: Omit<NewApprovalRequest, 'id' | 'createdAt'>): Promise<ApprovalRequest> {
    return this.store.createApprovalRequest({ ...request, id: newApprovalId(), createdAt: Date.now() });
  }

  /** Resolves once the request is no longer pending (approved, denied, expired, cancelled). */
  waitForDecision(id: string, signal: AbortSignal): Promise<ApprovalRequest> {
    return new Promise((resolve, reject) => {
      const set = this.waiters.get(id) ?? new Set();
      this.waiters.set(id, set);
      const done = (r: ApprovalRequest): void => {
        cleanup();
        resolve(r);
      };
      const onAbort = (): void => {
        cleanup();
        reject(new HoopError('HOOP_ABORTED', 'stopped waiting for approval'));
      };
      const cleanup = (): void => {
        set.delete(done);
        if (set.size === 0) this.waiters.delete(id);
        signal.removeEventListener('abort', onAbort);
      };
      set.add(done);
      signal.addEventListener('abort', onAbort, { once: true });
      // It may have been decided before we started listening.
      void this.store.getApprovalRequest(id).then((r) => {
        if (r && r.status !== 'pending') done(r);
      });
    });
  }

  /** An open just-in-time window for this identity, connection and class, if any. */
  findWindow(identitySubject: string, connection: string, cls: string): Promise<ApprovalWindow | undefined> {
    return this.store.findApprovalWindow(identitySubject, connection, cls, Date.now());
  }

  async cancel(id: string): Promise<void> {
    await this.store.cancelApproval(id, Date.now());
  }

  /**
   * One approver's decision. Separation of duties: nobody decides their own request, only members
   * of the request's approver groups may, and each approver counts once.
   */
  async vote(voter: Identity, id: string, decision: 'approve' | 'deny', opts: { reason?: string; windowMs?: number } = {}): Promise<ApprovalRequest> {
    const request = await this.store.getApprovalRequest(id);
    if (!request) throw new ApprovalError('HOOP_NOT_FOUND', `no approval request ${id}`, 404);
    if (request.status === 'pending' && request.expiresAt <= Date.now()) {
      await this.store.expireApprovals(Date.now());
      throw new ApprovalError('HOOP_APPROVAL_DECIDED', `request ${id} expired at ${new Date(request.expiresAt).toISOString()}`, 409);
    }
    if (request.status !== 'pending') {
      const by = request.votes.filter((v) => v.decision === (request.status === 'approved' ? 'approve' : 'deny')).map((v) => v.approverName);
      throw new ApprovalError('HOOP_APPROVAL_DECIDED', `request ${id} is already ${request.status}${by.length ? ` (by ${by.join(', ')})` : ''}`, 409);
    }
    if (voter.subject === request.identitySubject) {
      throw new ApprovalError('HOOP_SELF_APPROVAL', `you cannot ${decision} your own request ${id}: another approver must`, 403);
    }
    if (!voter.groups.some((g) => request.approverGroups.includes(g))) {
      throw new ApprovalError('HOOP_NOT_APPROVER', `only members of ${request.approverGroups.join(', ')} may decide request ${id}`, 403);
    }
    if (request.votes.some((v) => v.approverSubject === voter.subject && v.decision === 'approve') && decision === 'approve') {
      throw new ApprovalError('HOOP_ALREADY_VOTED', `you already approved ${id}; it needs ${request.approvalsNeeded} distinct approvers`, 409);
    }
    if (decision === 'deny' && !opts.reason) throw new ApprovalError('HOOP_REASON_REQUIRED', 'a denial needs a reason', 400);
    const updated = await this.store.voteApproval({
      requestId: id,
      approverSubject: voter.subject,
      approverName: voter.name,
      decision,
      ...(opts.reason ? { reason: opts.reason } : {}),
      ...(opts.windowMs ? { windowMs: opts.windowMs } : {}),
      now: Date.now(),
    });
    // Release a statement held by this very gateway without waiting for the next poll.
    void this.poll();
    return updated;
  }
}
