import { Box, Text } from 'ink';
import type { Mode, StatusMessage } from '../approvals-model.js';

export interface StatusBarProps {
  /** The latest outcome or error, if any. */
  readonly message: StatusMessage | null;
  /** Whether the live stream is connected. */
  readonly live: boolean;
}

/** The status line: the last thing that happened, and whether updates are live. */
export function StatusBar({ message, live }: StatusBarProps) {
  return (
    <Box>
      <Text color={live ? 'green' : 'yellow'}>{live ? '● live' : '○ not live'}</Text>
      <Text>{'  '}</Text>
      {message && <Text color={message.tone === 'error' ? 'red' : undefined}>{message.text}</Text>}
    </Box>
  );
}

export const KEYS: readonly (readonly [string, string])[] = [
  ['↑/↓ or j/k', 'select a request'],
  ['a', 'approve'],
  ['w', 'approve and open a just-in-time window (asks for a duration, default 30m)'],
  ['d', 'deny (asks for a reason; required, the requester sees it)'],
  ['r', 'refresh the list'],
  ['?', 'this help'],
  ['q', 'quit'],
];

export interface KeyHelpProps {
  /** The screen's mode: the full key list in help mode, a one-line reminder otherwise. */
  readonly mode: Mode;
}

/** Which keys do what. */
export function KeyHelp({ mode }: KeyHelpProps) {
  if (mode === 'help') {
    return (
      <Box flexDirection="column" borderStyle="round" paddingX={1}>
        {KEYS.map(([key, what]) => (
          <Box key={key}>
            <Box width={12}>
              <Text bold>{key}</Text>
            </Box>
            <Text>{what}</Text>
          </Box>
        ))}
        <Text dimColor>any key closes this help</Text>
      </Box>
    );
  }
  return <Text dimColor>↑/↓ j/k select · a approve · w approve with window · d deny · r refresh · ? help · q quit</Text>;
}
