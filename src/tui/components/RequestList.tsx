import { Box, Text } from 'ink';
import type { ApprovalRequest } from '../../store/store.js';
import { formatAgent, formatSpan } from './format.js';

export interface RequestListProps {
  /** The requests in display order (pending first, newest first). */
  readonly requests: readonly ApprovalRequest[];
  /** The highlighted row's request id. */
  readonly selectedId: string | null;
  /** The clock the ages are measured against, in ms since the epoch. */
  readonly now: number;
  /** How many rows fit; the list scrolls to keep the selection visible. */
  readonly maxRows?: number;
}

const COLUMNS = [
  { title: 'id', width: 15 },
  { title: 'who', width: 14 },
  { title: 'agent', width: 22 },
  { title: 'connection', width: 14 },
  { title: 'class', width: 10 },
  { title: 'age', width: 10 },
] as const;

function Row({ cells, selected, dim }: { readonly cells: readonly string[]; readonly selected: boolean; readonly dim?: boolean }) {
  return (
    <Box>
      {/* The marker, not just color, shows the selection: it survives NO_COLOR and screen readers. */}
      <Text color="cyan">{selected ? '› ' : '  '}</Text>
      {COLUMNS.map((c, i) => (
        <Box key={c.title} width={c.width} marginRight={1}>
          <Text wrap="truncate-end" inverse={selected} bold={selected} dimColor={dim ?? false}>
            {cells[i] ?? ''}
          </Text>
        </Box>
      ))}
    </Box>
  );
}

/** One row per request: who asked, through which agent, where, what class of statement, how long ago. */
export function RequestList({ requests, selectedId, now, maxRows = 10 }: RequestListProps) {
  if (requests.length === 0) {
    return <Text dimColor>no pending requests; new ones appear here as they arrive</Text>;
  }
  const selected = Math.max(0, requests.findIndex((r) => r.id === selectedId));
  const rows = Math.max(1, maxRows);
  const first = Math.min(Math.max(0, selected - rows + 1), Math.max(0, requests.length - rows));
  const visible = requests.slice(first, first + rows);
  return (
    <Box flexDirection="column">
      <Row cells={COLUMNS.map((c) => c.title)} selected={false} dim />
      {visible.map((r) => (
        <Row
          key={r.id}
          selected={r.id === selectedId}
          dim={r.status !== 'pending'}
          cells={[r.id, r.identityName, formatAgent(r.agentMeta), r.connection, r.class, r.status === 'pending' ? formatSpan(now - r.createdAt) : r.status]}
        />
      ))}
      {requests.length > rows && (
        <Text dimColor>
          {'  '}
          {first + 1}–{first + visible.length} of {requests.length}
        </Text>
      )}
    </Box>
  );
}
