import { Box, Text } from 'ink';
import type { ReactNode } from 'react';
import type { ApprovalRequest } from '../../store/store.js';
import { formatAgent, formatSpan } from './format.js';

export interface RequestDetailProps {
  /** The request to show in full. */
  readonly request: ApprovalRequest;
  /** The clock the expiry countdown is measured against, in ms since the epoch. */
  readonly now: number;
  /** Shown prominently when someone else settled the request while it was on screen. */
  readonly notice: string | null;
}

function Field({ label, children }: { readonly label: string; readonly children: ReactNode }) {
  return (
    <Box>
      <Box width={11} flexShrink={0}>
        <Text dimColor>{label}</Text>
      </Box>
      <Text wrap="wrap">{children}</Text>
    </Box>
  );
}

function statusLine(r: ApprovalRequest, now: number): string {
  if (r.status !== 'pending') return r.status;
  return r.expiresAt > now ? `pending, expires in ${formatSpan(r.expiresAt - now)}` : 'pending, expiring now';
}

/** Everything an approver needs to decide: the exact SQL, who is asking and through what, and the rule. */
export function RequestDetail({ request: r, now, notice }: RequestDetailProps) {
  const approvers = [...new Set(r.votes.filter((v) => v.decision === 'approve').map((v) => v.approverName))];
  const agent = formatAgent(r.agentMeta);
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1}>
      <Text bold>
        {r.id} <Text color={r.status === 'pending' ? 'yellow' : 'gray'}>{statusLine(r, now)}</Text>
      </Text>
      {notice && (
        <Text bold color="magenta">
          {notice}
        </Text>
      )}
      <Field label="who">
        {r.identityName} ({r.identitySubject})
      </Field>
      <Field label="groups">{r.groups.join(', ') || '(none)'}</Field>
      <Field label="agent">{agent || '(none declared)'}</Field>
      <Field label="connection">
        {r.connection} · class {r.class} · rule {r.rule}
      </Field>
      <Field label="approvals">
        {approvers.length} of {r.approvalsNeeded}
        {approvers.length > 0 ? ` (approved by ${approvers.join(', ')})` : ''} · approvers: {r.approverGroups.join(', ')}
      </Field>
      {r.status === 'denied' && r.reason && <Field label="reason">{r.reason}</Field>}
      <Box marginTop={1}>
        {/* The whole statement, wrapped, never truncated: it is exactly what runs if approved. */}
        <Text wrap="wrap" color="green">
          {r.statement}
        </Text>
      </Box>
    </Box>
  );
}
