/**
 * Commands are data: each file in src/commands/ exports one `CommandSpec`, and the registry lists
 * them. The CLI parser, `--help` and the shell completions are all generated from these specs.
 */

export interface OptionSpec {
  /** Commander-style flags, e.g. `-p, --port <port>` or `--json`. */
  readonly flags: string;
  readonly description: string;
  readonly default?: string | boolean | string[];
  /** Fixed choices, used by the parser and by completions. */
  readonly choices?: readonly string[];
}

export interface ArgSpec {
  readonly name: string;
  readonly description: string;
  readonly required?: boolean;
  readonly variadic?: boolean;
}

/** What a command gets besides its arguments: where to write, and nothing else global. */
export interface CommandContext {
  /** Results (tables, JSON): what a script would capture. */
  out(text: string): void;
  /** Progress and hints for a person. Never results. */
  status(text: string): void;
  /** Arguments after `--`, for commands that run another program. */
  readonly passThrough: readonly string[];
  /** Aborted on SIGINT/SIGTERM: long-running commands stop cleanly. */
  readonly signal: AbortSignal;
}

export interface CommandSpec {
  /** Words from the root: `connect`, `admin service-account create`. */
  readonly name: string;
  readonly summary: string;
  readonly args?: readonly ArgSpec[];
  readonly options?: readonly OptionSpec[];
  readonly examples?: readonly string[];
  /** Accepts `-- program args…`. */
  readonly passThrough?: boolean;
  /** Returns the exit code (0 when omitted). */
  run(ctx: CommandContext, args: readonly string[], options: Record<string, unknown>): Promise<number | void>;
}

export function defineCommand(spec: CommandSpec): CommandSpec {
  return spec;
}

/** Options shared by commands that talk to a gateway. */
export const gatewayOptions: readonly OptionSpec[] = [
  { flags: '--gateway <url>', description: 'gateway URL (default: $HOOP_GATEWAY, then the saved login)' },
  { flags: '--token <token>', description: 'bearer token (default: $HOOP_TOKEN, then the saved login)' },
  { flags: '--agent-meta <pairs>', description: 'what the agent is, recorded on its sessions: model=…,task=… (default: $HOOP_AGENT_META)' },
];

export const jsonOption: OptionSpec = { flags: '--json', description: 'print machine-readable JSON on stdout' };
export const configOption: OptionSpec = { flags: '-c, --config <file>', description: 'gateway config file', default: 'hoop.yaml' };
