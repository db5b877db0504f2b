import { UsageError } from '../errors.js';

/**
 * What an agent declares about itself (`model=…,task=…`), recorded on its sessions so an auditor
 * sees the identity and the agent acting for it. It is a claim, not a credential: the identity
 * comes from the token alone.
 */
export type AgentMeta = Readonly<Record<string, string>>;

const KEY = /^[A-Za-z][A-Za-z0-9_.-]{0,31}$/;
const MAX_ENTRIES = 16;
const MAX_VALUE = 256;
/** Header the CLI sends it in, URL-encoded (`model=x&task=y`) so any text survives HTTP. */
export const AGENT_META_HEADER = 'x-hoop-agent-meta';

function check(entries: [string, string][], source: string): AgentMeta {
  if (entries.length > MAX_ENTRIES) throw new UsageError(`${source}: at most ${MAX_ENTRIES} entries`);
  const out: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (!KEY.test(k)) throw new UsageError(`${source}: bad key "${k}"`, 'keys start with a letter and use letters, digits, "_", "." and "-"');
    // eslint-disable-next-line no-control-regex
    if (v.length > MAX_VALUE || /[\u0000-\u001f\u007f]/.test(v)) throw new UsageError(`${source}: value of ${k} is too long or has control characters`);
    out[k] = v;
  }
  return out;
}

/** Parses `key=value,key=value` (the flag and HOOP_AGENT_META form). */
export function parseAgentMeta(text: string | undefined): AgentMeta | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const entries = text.split(',').map((pair): [string, string] => {
    const i = pair.indexOf('=');
    if (i <= 0) throw new UsageError(`--agent-meta: "${pair}" is not key=value`, 'e.g. --agent-meta model=claude-opus,task=JIRA-123');
    return [pair.slice(0, i).trim(), pair.slice(i + 1).trim()];
  });
  return check(entries, '--agent-meta');
}

export function encodeAgentMetaHeader(meta: AgentMeta): string {
  return new URLSearchParams(Object.entries(meta)).toString();
}

/** Parses the header at the gateway; throws UsageError (answered with 400) when it is malformed. */
export function decodeAgentMetaHeader(value: string | undefined): AgentMeta | undefined {
  if (value === undefined || value === '') return undefined;
  return check([...new URLSearchParams(value).entries()], 'agent metadata');
}
