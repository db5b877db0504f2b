import type { ApprovalRequest, ApprovalVote } from '../../src/store/store.js';

export const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);

export function request(over: Partial<ApprovalRequest> & { id: string }): ApprovalRequest {
  return {
    createdAt: NOW - 60_000,
    expiresAt: NOW + 10 * 60_000,
    sessionId: 'se_1',
    identitySubject: 'alice@example.com',
    identityName: 'alice',
    groups: ['dev'],
    agentMeta: { agent: 'claude-code' },
    connection: 'prod-db',
    statement: 'DELETE FROM orders WHERE id = 7',
    class: 'delete',
    rule: 'prod-writes',
    approverGroups: ['dba'],
    approvalsNeeded: 1,
    status: 'pending',
    decidedAt: null,
    reason: null,
    votes: [],
    ...over,
  };
}

export function vote(name: string, decision: 'approve' | 'deny', over: Partial<ApprovalVote> = {}): ApprovalVote {
  return { approverSubject: `${name}@example.com`, approverName: name, decision, reason: null, windowMs: null, time: NOW, ...over };
}
