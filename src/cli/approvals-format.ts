import type { ApprovalRequest } from '../store/store.js';
import { formatDuration } from './table.js';

/** One line per request for listings: id, who, agent, connection, class, age. */
export function approvalRow(r: ApprovalRequest, now = Date.now()): string[] {
  return [
    r.id,
    r.identityName,
    r.agentMeta ? Object.entries(r.agentMeta).map(([k, v]) => `${k}=${v}`).join(',') : '',
    r.connection,
    r.class,
    r.status,
    formatDuration(now - r.createdAt),
    r.statement.replace(/\s+/g, ' ').trim().slice(0, 60),
  ];
}

export const APPROVAL_COLUMNS = ['id', 'who', 'agent', 'connection', 'class', 'status', 'age', 'statement'];
