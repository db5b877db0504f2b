import { VERSION } from '../version.js';
import type { AuditEvent, EventIdentity, GitEvent, RecordedDecision, SftpEvent, StatementEvent } from './events.js';

/**
 * A best-effort mapping to OCSF 1.1.0 for SIEMs, documented in docs/audit.md. It is derived from
 * the chained events and carries each one's chain position (`metadata.uid`), so an OCSF record can
 * be traced back to the event that `hoop audit verify` checks; the OCSF file itself is not chained.
 *
 * - `statement` → Datastore Activity (class_uid 6005, category Application Activity)
 * - `session.start` / `session.end` → Authentication (class_uid 3002, category Identity & Access
 *   Management), Logon / Logoff
 * - `ssh.exec` → Process Activity (1007, System Activity), Launch; `shell.command` too, with an
 *   unknown status: it was recorded, not enforced
 * - `sftp.op` → File System Activity (1001, System Activity)
 * - `ssh.channel` / `ssh.request` → SSH Activity (4007, Network Activity), Open or Refuse
 * - `git.fetch` / `git.push` → API Activity (6003, Application Activity), Read or Create/Update/Delete
 * - `approval.*` and `terminal.*` events are left out: approvals have no fitting OCSF class (the
 *   approval that let something run is on its record under `unmapped.approval`), and raw terminal
 *   traffic is for replay, not for a SIEM (the commands typed are `shell.command` records).
 */
export const OCSF_VERSION = '1.1.0';

const DATASTORE_ACTIVITY = 6005;
const AUTHENTICATION = 3002;
const PROCESS_ACTIVITY = 1007;
const FILE_SYSTEM_ACTIVITY = 1001;
const SSH_ACTIVITY = 4007;
const API_ACTIVITY = 6003;

/** The event types that have no OCSF record, on purpose (see above). */
export const UNMAPPED_EVENT_TYPES: readonly AuditEvent['type'][] = ['approval.requested', 'approval.decided', 'terminal.output', 'terminal.input'];

/** Datastore Activity activity_id values. */
const DS = { read: 1, update: 2, query: 4, write: 5, create: 6, delete: 7, other: 99 } as const;

/** The command tag says what ran; the policy class is the fallback when there is none (errors, refusals). */
function datastoreActivity(e: StatementEvent): { id: number; name: string } {
  const verb = e.commandTag?.split(' ')[0]?.toUpperCase();
  switch (verb) {
    case 'SELECT':
    case 'FETCH':
    case 'SHOW':
      return { id: DS.query, name: 'Query' };
    case 'INSERT':
      return { id: DS.create, name: 'Create' };
    case 'UPDATE':
    case 'MERGE':
      return { id: DS.update, name: 'Update' };
    case 'DELETE':
    case 'TRUNCATE':
      return { id: DS.delete, name: 'Delete' };
    case 'COPY':
      return { id: DS.read, name: 'Read' };
  }
  switch (e.decision?.class) {
    case 'read':
      return { id: DS.query, name: 'Query' };
    case 'write':
      return { id: DS.write, name: 'Write' };
    case 'destructive':
      return { id: DS.delete, name: 'Delete' };
    default:
      return { id: DS.other, name: 'Other' };
  }
}

function actorUser(id: EventIdentity): Record<string, unknown> {
  return {
    name: id.name,
    uid: id.subject,
    // OCSF user type: 1 User (a person); 99 Other for service accounts and workloads.
    type_id: id.kind === 'user' ? 1 : 99,
    type: id.kind === 'user' ? 'User' : id.kind,
    groups: id.groups.map((name) => ({ name })),
  };
}

/** `address:port` as the gateway records it (IPv6 addresses keep their colons). */
function endpoint(address: string): Record<string, unknown> {
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  return i > 0 && Number.isInteger(port) ? { ip: address.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port } : { ip: address };
}

function metadata(chain: string, seq: number, e: AuditEvent): Record<string, unknown> {
  return {
    version: OCSF_VERSION,
    product: { name: 'hoop', vendor_name: 'hoop', version: VERSION },
    uid: `${chain}:${seq}`,
    correlation_uid: e.sessionId,
    log_name: 'hoop-audit',
  };
}

/** Sessions whose start an export has seen, at most this many at a time (the oldest is forgotten first). */
const MAX_TRACKED_SESSIONS = 100_000;

/**
 * What mapping one event needs from earlier ones: the client address of its session, which only
 * `session.start` records. An export passes one context through all the events it maps, in order.
 */
export class OcsfContext {
  private readonly clients = new Map<string, string>();

  observe(e: AuditEvent): void {
    if (e.type === 'session.start') {
      this.clients.set(e.sessionId, e.clientAddress);
      if (this.clients.size > MAX_TRACKED_SESSIONS) this.clients.delete(this.clients.keys().next().value!);
    } else if (e.type === 'session.end') {
      this.clients.delete(e.sessionId);
    }
  }

  clientAddress(sessionId: string): string | undefined {
    return this.clients.get(sessionId);
  }
}

type Status = { readonly id: 0 | 1 | 2; readonly code?: string; readonly detail?: string };
const STATUS_NAME = { 0: 'Unknown', 1: 'Success', 2: 'Failure' } as const;

function statusFields(s: Status): Record<string, unknown> {
  return { status_id: s.id, status: STATUS_NAME[s.id], ...(s.code !== undefined ? { status_code: s.code } : {}), ...(s.detail !== undefined ? { status_detail: s.detail } : {}) };
}

/** The class fields and `type_uid` of a record. */
function classFields(category: { uid: number; name: string }, cls: { uid: number; name: string }, activity: { id: number; name: string }): Record<string, unknown> {
  return {
    category_uid: category.uid,
    category_name: category.name,
    class_uid: cls.uid,
    class_name: cls.name,
    activity_id: activity.id,
    activity_name: activity.name,
    type_uid: cls.uid * 100 + activity.id,
  };
}

const SYSTEM = { uid: 1, name: 'System Activity' };
const NETWORK = { uid: 4, name: 'Network Activity' };
const APPLICATION = { uid: 6, name: 'Application Activity' };

/** The host a connection reaches: OCSF's `device` (required by System Activity classes); a server, known by the connection's name. */
function device(e: AuditEvent): Record<string, unknown> {
  return { name: e.connection, type_id: 1, type: 'Server' };
}

/** Refused by hoop: a deny rule, or held and not approved. */
function refusedBy(d: RecordedDecision, approved: boolean): Status | null {
  if (d.action === 'deny') return { id: 2, detail: `denied by rule ${d.rule}${d.reason ? `: ${d.reason}` : ''}` };
  if (d.action === 'review' && !approved) return { id: 2, detail: `held for approval by rule ${d.rule} and not approved` };
  return null;
}

/** The client side of an SSH or git session: its address when the context saw the session start. */
function clientEndpoint(e: AuditEvent, context: OcsfContext | undefined): Record<string, unknown> | null {
  const address = context?.clientAddress(e.sessionId);
  return address === undefined ? null : endpoint(address);
}

/** File System Activity activity_id by SFTP operation, and the kind of file it acts on. */
const SFTP_ACTIVITY: Record<string, { id: number; name: string; fileType: 0 | 1 | 2 | 7 }> = {
  open: { id: 14, name: 'Open', fileType: 1 },
  read: { id: 2, name: 'Read', fileType: 1 },
  write: { id: 3, name: 'Update', fileType: 1 },
  remove: { id: 4, name: 'Delete', fileType: 1 },
  rename: { id: 5, name: 'Rename', fileType: 0 },
  mkdir: { id: 1, name: 'Create', fileType: 2 },
  rmdir: { id: 4, name: 'Delete', fileType: 2 },
  list: { id: 2, name: 'Read', fileType: 2 },
  stat: { id: 8, name: 'Get Attributes', fileType: 0 },
  setstat: { id: 6, name: 'Set Attributes', fileType: 0 },
  symlink: { id: 1, name: 'Create', fileType: 7 },
  readlink: { id: 2, name: 'Read', fileType: 7 },
};
const FILE_TYPE = { 0: 'Unknown', 1: 'Regular File', 2: 'Folder', 7: 'Symbolic Link' } as const;

function file(path: string, typeId: 0 | 1 | 2 | 7): Record<string, unknown> {
  const name = path.replace(/\/+$/, '').split('/').at(-1) || path;
  return { name, path, type_id: typeId, type: FILE_TYPE[typeId] };
}

function sftpRecord(e: SftpEvent): Record<string, unknown> {
  const activity = SFTP_ACTIVITY[e.op] ?? { id: 99, name: 'Other', fileType: 0 as const };
  return {
    ...classFields(SYSTEM, { uid: FILE_SYSTEM_ACTIVITY, name: 'File System Activity' }, activity),
    ...statusFields(e.status === 'ok' ? { id: 1 } : { id: 2, code: e.status }),
    actor: { user: actorUser(e.identity), session: { uid: e.sessionId } },
    device: device(e),
    file: file(e.path, activity.fileType),
    // Where a rename or symlink led: OCSF's "resulting file".
    ...(e.target !== undefined ? { file_result: file(e.target, activity.fileType) } : {}),
  };
}

/** A push that only creates refs is a Create, one that only deletes is a Delete; anything else an Update. */
function gitActivity(e: GitEvent): { id: number; name: string } {
  if (e.type === 'git.fetch') return { id: 2, name: 'Read' };
  if (e.refs.length > 0 && e.refs.every((r) => r.kind === 'create')) return { id: 1, name: 'Create' };
  if (e.refs.length > 0 && e.refs.every((r) => r.kind === 'delete')) return { id: 4, name: 'Delete' };
  return { id: 3, name: 'Update' };
}

function gitStatus(e: GitEvent): Status {
  const refused = refusedBy(e.decision, e.approval !== undefined);
  if (refused) return refused;
  const badRefs = e.refs.filter((r) => r.decision.action === 'deny' || (r.result !== undefined && r.result !== 'ok'));
  if (badRefs.length > 0) return { id: 2, detail: `${badRefs.length} of ${e.refs.length} ref update(s) refused or failed` };
  if (e.exitStatus !== undefined && e.exitStatus !== 0) return { id: 2, code: String(e.exitStatus), detail: `exit ${e.exitStatus}` };
  return { id: e.exitStatus === undefined ? 0 : 1 };
}

/** The OCSF record for one chained event, or null when the event type is not mapped. */
export function toOcsf(chain: string, seq: number, hash: string, e: AuditEvent, context?: OcsfContext): Record<string, unknown> | null {
  context?.observe(e);
  const common = { time: e.time, severity_id: 1, severity: 'Informational', metadata: metadata(chain, seq, e) };
  switch (e.type) {
    case 'statement': {
      const activity = datastoreActivity(e);
      const failed = e.error !== undefined;
      return {
        ...common,
        category_uid: 6,
        category_name: 'Application Activity',
        class_uid: DATASTORE_ACTIVITY,
        class_name: 'Datastore Activity',
        activity_id: activity.id,
        activity_name: activity.name,
        type_uid: DATASTORE_ACTIVITY * 100 + activity.id,
        status_id: failed ? 2 : 1,
        status: failed ? 'Failure' : 'Success',
        ...(e.error ? { status_code: e.error.code, status_detail: e.error.message } : {}),
        duration: e.durationMs,
        type_id: 1,
        type: 'Database',
        actor: { user: actorUser(e.identity), session: { uid: e.sessionId } },
        database: { name: e.connection, type_id: 1, type: 'Relational' },
        query_info: { query_string: e.sql },
        unmapped: {
          hash,
          protocol: e.protocol,
          rows: e.rows,
          ...(e.commandTag !== undefined ? { command_tag: e.commandTag } : {}),
          ...(e.params !== undefined ? { params: e.params } : {}),
          ...(e.decision ? { decision: e.decision } : {}),
          ...(e.approval ? { approval: e.approval } : {}),
        },
      };
    }
    case 'session.start':
    case 'session.end': {
      const logon = e.type === 'session.start';
      const failed = !logon && e.error !== undefined;
      return {
        ...common,
        category_uid: 3,
        category_name: 'Identity & Access Management',
        class_uid: AUTHENTICATION,
        class_name: 'Authentication',
        activity_id: logon ? 1 : 2,
        activity_name: logon ? 'Logon' : 'Logoff',
        type_uid: AUTHENTICATION * 100 + (logon ? 1 : 2),
        status_id: failed ? 2 : 1,
        status: failed ? 'Failure' : 'Success',
        ...(logon ? {} : { status_detail: e.reason + (e.error ? `: ${e.error}` : '') }),
        user: actorUser(e.identity),
        actor: { user: actorUser(e.identity) },
        session: { uid: e.sessionId },
        service: { name: e.connection },
        ...(logon ? { src_endpoint: endpoint(e.clientAddress) } : { duration: e.durationMs }),
        unmapped: {
          hash,
          ...(logon ? { connection_type: e.connectionType, client_address: e.clientAddress, client_info: e.clientInfo, ...(e.agentMeta ? { agent_meta: e.agentMeta } : {}) } : { statements: e.statements }),
        },
      };
    }
    case 'ssh.exec':
    case 'shell.command': {
      const exec = e.type === 'ssh.exec';
      let status: Status;
      if (!exec) status = { id: 0, detail: 'typed into a shell: recorded, not enforced' };
      else {
        status = refusedBy(e.decision, e.approval !== undefined) ?? { id: 0 };
        if (status.id === 0 && e.exitStatus !== undefined) status = e.exitStatus === 0 ? { id: 1 } : { id: 2, code: String(e.exitStatus), detail: `exit ${e.exitStatus}` };
        else if (status.id === 0 && e.exitSignal !== undefined) status = { id: 2, code: e.exitSignal, detail: `killed by signal ${e.exitSignal}` };
      }
      return {
        ...common,
        ...classFields(SYSTEM, { uid: PROCESS_ACTIVITY, name: 'Process Activity' }, { id: 1, name: 'Launch' }),
        ...statusFields(status),
        actor: { user: actorUser(e.identity), session: { uid: e.sessionId } },
        device: device(e),
        process: { name: e.command.trim().split(/\s+/)[0] ?? '', cmd_line: e.command },
        ...(exec && e.exitStatus !== undefined ? { exit_code: e.exitStatus } : {}),
        ...(exec ? { duration: e.durationMs } : {}),
        unmapped: exec
          ? {
              hash,
              channel: e.channel,
              decision: e.decision,
              ...(e.approval ? { approval: e.approval } : {}),
              ...(e.exitSignal !== undefined ? { exit_signal: e.exitSignal } : {}),
              bytes_out: e.bytesOut,
              bytes_in: e.bytesIn,
              output_truncated: e.outputTruncated,
            }
          : { hash, channel: e.channel, enforced: false, policy_would: e.decision },
      };
    }
    case 'sftp.op':
      return { ...common, ...sftpRecord(e), unmapped: { hash, channel: e.channel, op: e.op, ...(e.bytes !== undefined ? { bytes: e.bytes } : {}) } };
    case 'ssh.channel':
    case 'ssh.request': {
      const d = e.decision;
      const activity = d.action === 'deny' ? { id: 5, name: 'Refuse' } : { id: 1, name: 'Open' };
      const status: Status = d.action === 'allow' ? { id: 1 } : d.action === 'review' ? { id: 0, detail: `held for approval by rule ${d.rule}` } : refusedBy(d, false)!;
      const src = clientEndpoint(e, context);
      return {
        ...common,
        ...classFields(NETWORK, { uid: SSH_ACTIVITY, name: 'SSH Activity' }, activity),
        ...statusFields(status),
        actor: { user: actorUser(e.identity), session: { uid: e.sessionId } },
        dst_endpoint: { name: e.connection, svc_name: 'ssh' },
        ...(src ? { src_endpoint: src } : {}),
        unmapped:
          e.type === 'ssh.channel'
            ? { hash, channel: e.channel, kind: e.kind, decision: d, ...(e.pty ? { pty: e.pty } : {}), ...(e.env ? { env: e.env } : {}), ...(e.subsystem ? { subsystem: e.subsystem } : {}) }
            : { hash, request: e.request, detail: e.detail, decision: d },
      };
    }
    case 'git.fetch':
    case 'git.push':
      return {
        ...common,
        ...classFields(APPLICATION, { uid: API_ACTIVITY, name: 'API Activity' }, gitActivity(e)),
        ...statusFields(gitStatus(e)),
        duration: e.durationMs,
        actor: { user: actorUser(e.identity), session: { uid: e.sessionId } },
        api: { operation: e.type === 'git.push' ? 'git-receive-pack' : 'git-upload-pack', service: { name: 'git' } },
        resources: [{ name: e.repository, type: 'git repository' }, ...e.refs.map((r) => ({ name: r.ref, type: 'git ref', uid: r.newId }))],
        // API Activity requires the caller; without the session's start in view, the session names it.
        src_endpoint: clientEndpoint(e, context) ?? { uid: e.sessionId },
        dst_endpoint: { name: e.connection, svc_name: 'git' },
        unmapped: {
          hash,
          channel: e.channel,
          repository: e.repository,
          decision: e.decision,
          refs: e.refs,
          ...(e.wants ? { wants: e.wants.length } : {}),
          ...(e.approval ? { approval: e.approval } : {}),
          ...(e.exitStatus !== undefined ? { exit_status: e.exitStatus } : {}),
          bytes_in: e.bytesIn,
          bytes_out: e.bytesOut,
          ...(e.message !== undefined ? { message: e.message } : {}),
        },
      };
    case 'approval.requested':
    case 'approval.decided':
    case 'terminal.output':
    case 'terminal.input':
      return null;
    default:
      // A type this version does not know (a record from a newer gateway): no mapping.
      return null;
  }
}
