import { VERSION } from '../version.js';
import type { AuditEvent, EventIdentity, StatementEvent } from './events.js';

/**
 * A best-effort mapping to OCSF 1.1.0 for SIEMs, documented in docs/audit.md. It is derived from
 * the chained events and carries each one's chain position (`metadata.uid`), so an OCSF record can
 * be traced back to the event that `hoop audit verify` checks; the OCSF file itself is not chained.
 *
 * - `statement` → Datastore Activity (class_uid 6005, category Application Activity)
 * - `session.start` / `session.end` → Authentication (class_uid 3002, category Identity & Access
 *   Management), Logon / Logoff
 * - `approval.*` events have no fitting OCSF class and are left out; the approval that let a
 *   statement run is on its record under `unmapped.approval`.
 */
export const OCSF_VERSION = '1.1.0';

const DATASTORE_ACTIVITY = 6005;
const AUTHENTICATION = 3002;

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

/** The OCSF record for one chained event, or null when the event type is not mapped. */
export function toOcsf(chain: string, seq: number, hash: string, e: AuditEvent): Record<string, unknown> | null {
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
    default:
      return null;
  }
}
