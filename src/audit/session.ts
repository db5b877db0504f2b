import { randomUUID } from 'node:crypto';
import type { Identity } from '../auth/identity.js';
import {
  eventIdentity,
  type ApprovalDecidedEvent,
  type ApprovalRequestedEvent,
  type EventIdentity,
  type GitEvent,
  type SftpEvent,
  type ShellCommandEvent,
  type SshChannelEvent,
  type SshExecEvent,
  type SshRequestEvent,
  type StatementEvent,
  type TerminalEvent,
} from './events.js';
import type { Recorder } from './recorder.js';

type StatementFields = Omit<StatementEvent, 'type' | 'sessionId' | 'identity' | 'connection'>;
type Stamped<E> = E extends unknown ? Omit<E, 'sessionId' | 'identity' | 'connection' | 'time'> : never;
/** Events of the SSH and git engines, as they record them: `time` defaults to now. */
export type ProtocolEventFields = Stamped<TerminalEvent | SshChannelEvent | SshExecEvent | ShellCommandEvent | SshRequestEvent | SftpEvent | GitEvent> & { readonly time?: number };

/**
 * The recording of one session: stamps every event with the session id, identity and connection,
 * so an engine records only what is specific to the protocol.
 */
export class SessionRecorder {
  readonly sessionId: string;
  private readonly identity: EventIdentity;
  private startedAt = 0;
  private statements = 0;
  private started = false;
  private ended = false;

  constructor(
    private readonly recorder: Recorder,
    identity: Identity,
    private readonly connection: string,
    private readonly connectionType: string,
    sessionId: string = `s_${randomUUID()}`,
    private readonly agentMeta?: Readonly<Record<string, string>>,
  ) {
    this.sessionId = sessionId;
    this.identity = eventIdentity(identity);
  }

  get isStarted(): boolean {
    return this.started;
  }

  start(clientAddress: string, clientInfo: Readonly<Record<string, string>>): void {
    this.startedAt = Date.now();
    this.started = true;
    this.recorder.record({
      type: 'session.start',
      sessionId: this.sessionId,
      time: this.startedAt,
      identity: this.identity,
      connection: this.connection,
      connectionType: this.connectionType,
      clientAddress,
      clientInfo,
      ...(this.agentMeta ? { agentMeta: this.agentMeta } : {}),
    });
  }

  statement(fields: StatementFields): void {
    this.statements++;
    // Keys in canonical (sorted) order: the recorder serialises every statement, and an object
    // built in order spares it a sort (canonical.ts). An absent field stays out of the JSON.
    this.recorder.record({
      approval: fields.approval,
      commandTag: fields.commandTag,
      connection: this.connection,
      decision: fields.decision,
      durationMs: fields.durationMs,
      error: fields.error,
      identity: this.identity,
      masked: fields.masked,
      params: fields.params,
      protocol: fields.protocol,
      result: fields.result,
      rows: fields.rows,
      sessionId: this.sessionId,
      sql: fields.sql,
      time: fields.time,
      type: 'statement',
    } as StatementEvent);
  }

  /** Records an SSH or git event; commands run (exec, push, fetch) count as the session's statements. */
  event(fields: ProtocolEventFields): void {
    if (fields.type === 'ssh.exec' || fields.type === 'git.push' || fields.type === 'git.fetch') this.statements++;
    this.recorder.record({
      ...fields,
      time: fields.time ?? Date.now(),
      sessionId: this.sessionId,
      identity: this.identity,
      connection: this.connection,
    } as TerminalEvent | SshChannelEvent | SshExecEvent | ShellCommandEvent | SshRequestEvent | SftpEvent | GitEvent);
  }

  /** Records an approval event (requested, decided). */
  approval(fields: Stamped<ApprovalRequestedEvent | ApprovalDecidedEvent>): void {
    this.recorder.record({ ...fields, sessionId: this.sessionId, identity: this.identity, connection: this.connection, time: Date.now() } as ApprovalRequestedEvent | ApprovalDecidedEvent);
  }

  get identityForRecords(): EventIdentity {
    return this.identity;
  }

  /** Something this process recorded is not durable yet. */
  get unstored(): boolean {
    return this.recorder.hasQueued;
  }

  /**
   * Resolves once everything recorded so far is durable (in the recording journal, or the store
   * when there is no journal), sharing the write with every session waiting in the same round;
   * rejects when it cannot be.
   */
  stored(): Promise<void> {
    return this.recorder.flushSoon();
  }

  /** Records the end once; later calls are ignored. Settles when the end is durable. */
  end(reason: string, error?: string): Promise<void> {
    if (!this.started || this.ended) return Promise.resolve();
    this.ended = true;
    const time = Date.now();
    try {
      this.recorder.record({
        type: 'session.end',
        sessionId: this.sessionId,
        time,
        identity: this.identity,
        connection: this.connection,
        durationMs: time - this.startedAt,
        statements: this.statements,
        reason,
        ...(error === undefined ? {} : { error }),
      });
    } catch {
      return Promise.resolve();
    }
    return this.recorder.flushSoon().catch(() => {});
  }
}
