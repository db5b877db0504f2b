import { Box, Text } from 'ink';

export interface PromptProps {
  /** What is being asked, e.g. "deny ar_x, reason:". */
  readonly label: string;
  /** The text typed so far. */
  readonly value: string;
  /** Shown dimmed while nothing is typed, e.g. the default. */
  readonly placeholder?: string;
}

/** A one-line text input; the app owns the keystrokes, this only draws them. */
export function Prompt({ label, value, placeholder }: PromptProps) {
  return (
    <Box>
      <Text bold color="cyan">
        {label}{' '}
      </Text>
      <Text>{value}</Text>
      {value === '' && placeholder ? <Text dimColor>{placeholder}</Text> : null}
      <Text inverse> </Text>
      <Text dimColor>{'  '}Enter to confirm · Esc to cancel</Text>
    </Box>
  );
}
