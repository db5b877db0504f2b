import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Identity } from '../auth/identity.js';
import type { ConnectionConfig } from '../config/schema.js';
import type { SessionRecorder } from '../audit/session.js';
import type { AgentMeta } from '../auth/agent-meta.js';
import type { ApprovalService } from '../policy/approvals.js';
import type { SessionPolicy } from '../policy/statement-policy.js';
import type { AccessPolicy } from '../policy/access-policy.js';
import type { Masker } from '../mask/index.js';

/** Everything an engine needs to serve one client stream. */
export interface EngineContext {
  readonly identity: Identity;
  readonly connection: ConnectionConfig;
  /** Address of the client as the gateway saw it (the tunnel's remote end). */
  readonly clientAddress: string;
  /** Records this stream's session; created lazily by the engine once it knows it is a session. */
  readonly recorder: SessionRecorder;
  readonly log: Logger;
  /** Decides each SQL statement for this identity and connection. */
  readonly policy: SessionPolicy;
  /** Decides SSH and git requests (commands, shells, forwarding, ref updates) for this identity and connection. */
  readonly access: AccessPolicy;
  /** Holds statements for human approval. */
  readonly approvals: ApprovalService;
  /** What the agent declared about itself, copied onto approval requests. */
  readonly agentMeta: AgentMeta | undefined;
  /** Masks what reaches the client; null when masking is off here or this identity sees clear values. */
  readonly masker: Masker | null;
  /** Masks what is recorded (SQL, parameters, errors): applies even to identities that see clear values. */
  readonly recordMasker: Masker | null;
  /** Rows of each result to keep in the statement's record (0: none). */
  readonly captureRows: number;
}

/**
 * One protocol (postgres, ssh, git, http) behind one interface. The gateway authenticates and
 * authorises the connection, then hands the raw client byte stream to the engine of its type.
 */
export interface ProtocolEngine {
  readonly type: ConnectionConfig['type'];
  /** Serves the stream until either side ends it. Never rejects for peer misbehaviour: it closes the stream. */
  serve(client: Duplex, ctx: EngineContext): Promise<void>;
  /** Ends every active session (gateway shutdown, recording failure). */
  closeAll(reason: string): void;
}
