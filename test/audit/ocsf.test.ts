import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/events.js';
import { OCSF_VERSION, OcsfContext, UNMAPPED_EVENT_TYPES, toOcsf } from '../../src/audit/ocsf.js';
import { recordedEvent } from '../../src/replay/timeline.js';
import { gitEvents, sessionEvents, sshEvents } from '../replay/fixtures.js';

type Ocsf = Record<string, any>;

const all = (): AuditEvent[] => [...sessionEvents(), ...sshEvents(), ...gitEvents()].map((e) => recordedEvent(e) as AuditEvent);
const find = (pred: (e: AuditEvent) => boolean): AuditEvent => all().find(pred)!;
const map = (e: AuditEvent, context?: OcsfContext): Ocsf => toOcsf('gw_test', 7, 'ab'.repeat(32), e, context) as Ocsf;

/** One recorded event of every type: a type added to AuditEvent without a sample here does not compile. */
function samples(): Record<AuditEvent['type'], AuditEvent> {
  const of = <T extends AuditEvent['type']>(type: T): AuditEvent => find((e) => e.type === type);
  return {
    'session.start': of('session.start'),
    statement: of('statement'),
    'session.end': of('session.end'),
    'approval.requested': of('approval.requested'),
    'approval.decided': of('approval.decided'),
    'terminal.output': of('terminal.output'),
    'terminal.input': of('terminal.input'),
    'ssh.channel': of('ssh.channel'),
    'ssh.exec': of('ssh.exec'),
    'shell.command': of('shell.command'),
    'ssh.request': of('ssh.request'),
    'sftp.op': of('sftp.op'),
    'git.fetch': of('git.fetch'),
    'git.push': of('git.push'),
  };
}

/** The activity ids each class defines (OCSF 1.1.0), 99 Other included. */
const ACTIVITIES: Record<number, readonly number[]> = {
  1001: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 99],
  1007: [1, 2, 3, 4, 5, 99],
  3002: [1, 2, 3, 4, 5, 6, 99],
  4007: [1, 2, 3, 4, 5, 6, 99],
  6003: [1, 2, 3, 4, 99],
  6005: [1, 2, 3, 4, 5, 6, 7, 99],
};

const hasEndpoint = (e: Ocsf | undefined): boolean => e !== undefined && ['ip', 'name', 'hostname', 'svc_name', 'uid'].some((k) => e[k] !== undefined && e[k] !== '');

/** The attributes OCSF 1.1.0 requires, for the base event and for each class hoop uses. */
function expectRequired(o: Ocsf, type: string): void {
  for (const k of ['activity_id', 'category_uid', 'class_uid', 'severity_id', 'time', 'type_uid', 'status_id']) expect(Number.isInteger(o[k]), `${type}: ${k}`).toBe(true);
  expect(o.metadata, type).toMatchObject({ version: OCSF_VERSION, product: { name: 'hoop', vendor_name: 'hoop' }, uid: 'gw_test:7' });
  expect(o.type_uid, type).toBe(o.class_uid * 100 + o.activity_id);
  expect(o.category_uid, type).toBe(Math.floor(o.class_uid / 1000));
  expect(ACTIVITIES[o.class_uid], `${type}: class ${o.class_uid}`).toContain(o.activity_id);
  expect([0, 1, 2], type).toContain(o.status_id);
  expect(typeof o.class_name).toBe('string');
  expect(typeof o.activity_name).toBe('string');
  expect(o.unmapped.hash, type).toBe('ab'.repeat(32));
  switch (o.class_uid) {
    case 1007: // Process Activity: actor, device, process
      expect(o.actor.user.name, type).toBe('claude-agent');
      expect(Number.isInteger(o.device.type_id), type).toBe(true);
      expect(typeof o.process.cmd_line, type).toBe('string');
      break;
    case 1001: // File System Activity: actor, device, file (name, type_id)
      expect(o.actor.user.name, type).toBe('claude-agent');
      expect(Number.isInteger(o.device.type_id), type).toBe(true);
      expect(typeof o.file.name, type).toBe('string');
      expect(Number.isInteger(o.file.type_id), type).toBe(true);
      break;
    case 4007: // Network classes: at least one endpoint
      expect(hasEndpoint(o.src_endpoint) || hasEndpoint(o.dst_endpoint), type).toBe(true);
      break;
    case 6003: // API Activity: actor, api.operation, src_endpoint
      expect(o.actor.user.name, type).toBe('claude-agent');
      expect(typeof o.api.operation, type).toBe('string');
      expect(hasEndpoint(o.src_endpoint), type).toBe(true);
      break;
    case 6005:
      expect(o.actor.user.name, type).toBe('claude-agent');
      expect(typeof o.query_info.query_string, type).toBe('string');
      break;
    case 3002:
      expect(o.user.name, type).toBe('claude-agent');
      break;
    default:
      throw new Error(`${type} mapped to an unexpected class ${o.class_uid}`);
  }
}

describe('the OCSF mapping', () => {
  it('maps every event type but approvals and raw terminal traffic, each with the fields OCSF requires', () => {
    for (const [type, event] of Object.entries(samples())) {
      const o = toOcsf('gw_test', 7, 'ab'.repeat(32), event);
      if (UNMAPPED_EVENT_TYPES.includes(event.type)) {
        expect(o, type).toBeNull();
        continue;
      }
      expect(o, type).not.toBeNull();
      expectRequired(o as Ocsf, type);
    }
    expect([...UNMAPPED_EVENT_TYPES].sort()).toEqual(['approval.decided', 'approval.requested', 'terminal.input', 'terminal.output']);
  });

  it('maps every event of the SSH and git sessions with the required fields', () => {
    for (const e of all()) {
      const o = toOcsf('gw_test', 7, 'ab'.repeat(32), e);
      if (o !== null) expectRequired(o, `${e.type} at ${e.time}`);
    }
  });

  it('leaves out an event type it does not know (a newer gateway)', () => {
    const future = { ...find((e) => e.type === 'ssh.exec'), type: 'ssh.future' } as unknown as AuditEvent;
    expect(toOcsf('gw_test', 7, 'x', future)).toBeNull();
  });

  it('maps commands to Process Activity: Launch, with the exit code, or Failure when hoop refused them', () => {
    const execs = all().filter((e) => e.type === 'ssh.exec');
    const [ran, failed, refusedReview, denied] = execs.map((e) => map(e));
    expect(ran).toMatchObject({ class_uid: 1007, category_uid: 1, activity_id: 1, activity_name: 'Launch', type_uid: 100701, status_id: 1, exit_code: 0 });
    expect(ran!.process).toEqual({ name: 'cat', cmd_line: 'cat /etc/hostname' });
    expect(ran!.device).toEqual({ name: 'web-prod', type_id: 1, type: 'Server' });
    expect(ran!.actor).toMatchObject({ user: { name: 'claude-agent', uid: 'sa_1', type_id: 99 }, session: { uid: 's_ssh' } });
    expect(ran!.unmapped).toMatchObject({ channel: 1, decision: { action: 'allow', rule: 'reads' }, bytes_out: 6 });
    expect(failed).toMatchObject({ status_id: 2, status_code: '1', exit_code: 1, unmapped: { approval: { requestId: 'ar_exec1', approvedBy: ['bob'] } } });
    expect(refusedReview).toMatchObject({ status_id: 2, status_detail: 'held for approval by rule restarts-reviewed and not approved' });
    expect(refusedReview).not.toHaveProperty('exit_code');
    expect(denied).toMatchObject({ status_id: 2, status_detail: 'denied by rule no-shutdown: shutting hosts down is not allowed' });
  });

  it('maps shell lines to Process Activity with an unknown status: recorded, not enforced', () => {
    const o = map(find((e) => e.type === 'shell.command' && e.command.startsWith('rm')));
    expect(o).toMatchObject({ class_uid: 1007, activity_id: 1, status_id: 0, status: 'Unknown', process: { cmd_line: 'rm -rf /tmp /cache', name: 'rm' } });
    expect(o.unmapped).toMatchObject({ enforced: false, policy_would: { action: 'deny', rule: 'no-rm' } });
  });

  it('maps SFTP operations to File System Activity', () => {
    const [write, rename, remove] = all()
      .filter((e) => e.type === 'sftp.op')
      .map((e) => map(e));
    expect(write).toMatchObject({ class_uid: 1001, activity_id: 3, activity_name: 'Update', type_uid: 100103, status_id: 1, file: { name: 'report.csv', path: '/tmp/report.csv', type_id: 1 } });
    expect(write!.unmapped).toMatchObject({ op: 'write', bytes: 12_345 });
    expect(rename).toMatchObject({ activity_id: 5, activity_name: 'Rename', file: { path: '/tmp/report.csv' }, file_result: { name: 'report.csv', path: '/srv/report.csv' } });
    expect(remove).toMatchObject({ activity_id: 4, activity_name: 'Delete', status_id: 2, status_code: 'permission-denied' });
  });

  it('maps channels and requests to SSH Activity: Open, or Refuse when refused', () => {
    const forward = map(find((e) => e.type === 'ssh.request' && e.request === 'direct-tcpip'));
    expect(forward).toMatchObject({ class_uid: 4007, category_uid: 4, activity_id: 5, activity_name: 'Refuse', type_uid: 400705, status_id: 2 });
    expect(forward.dst_endpoint).toEqual({ name: 'web-prod', svc_name: 'ssh' });
    expect(forward.unmapped).toMatchObject({ request: 'direct-tcpip', detail: '127.0.0.1:5432', decision: { rule: 'no-forwarding' } });
    const shell = map(find((e) => e.type === 'ssh.channel' && e.kind === 'shell'));
    expect(shell).toMatchObject({ activity_id: 1, activity_name: 'Open', status_id: 1, unmapped: { kind: 'shell', pty: { term: 'xterm-256color', cols: 100, rows: 30 } } });
    const held = map(find((e) => e.type === 'ssh.channel' && e.decision.action === 'review'));
    expect(held).toMatchObject({ activity_id: 1, status_id: 0 });
  });

  it('maps git operations to API Activity with the refs as resources', () => {
    const [fetch, push, refused] = all()
      .filter((e) => e.type === 'git.fetch' || e.type === 'git.push')
      .map((e) => map(e));
    expect(fetch).toMatchObject({ class_uid: 6003, category_uid: 6, activity_id: 2, activity_name: 'Read', status_id: 1, api: { operation: 'git-upload-pack', service: { name: 'git' } } });
    expect(fetch!.unmapped.wants).toBe(2);
    expect(push).toMatchObject({ activity_id: 3, activity_name: 'Update', type_uid: 600303, status_id: 2, status_detail: '1 of 2 ref update(s) refused or failed', api: { operation: 'git-receive-pack' } });
    expect(push!.resources).toEqual([
      { name: 'acme/api.git', type: 'git repository' },
      { name: 'refs/heads/main', type: 'git ref', uid: '2'.repeat(40) },
      { name: 'refs/heads/old', type: 'git ref', uid: '0'.repeat(40) },
    ]);
    expect(push!.unmapped.approval).toMatchObject({ requestId: 'ar_push' });
    // A push that only creates refs is a Create; refused as a whole, it failed.
    expect(refused).toMatchObject({ activity_id: 1, activity_name: 'Create', status_id: 2, status_detail: 'denied by rule no-infra-push: infra is read-only' });
  });

  it("takes the client's address from the session's start when the export passes it a context", () => {
    const context = new OcsfContext();
    const mapped = gitEvents().map((e) => toOcsf('gw_test', 1, 'h', recordedEvent(e) as AuditEvent, context));
    const push = mapped.find((o) => o?.class_uid === 6003 && (o.api as { operation: string }).operation === 'git-receive-pack')!;
    expect(push.src_endpoint).toEqual({ ip: '10.0.0.7', port: 40000 });
    // Without it, the session names the caller.
    expect(map(find((e) => e.type === 'git.push')).src_endpoint).toEqual({ uid: 's_git' });
    const sshMapped = sshEvents().map((e) => toOcsf('gw_test', 1, 'h', recordedEvent(e) as AuditEvent, context));
    expect(sshMapped.find((o) => o?.class_uid === 4007)!.src_endpoint).toEqual({ ip: '10.0.0.5', port: 50022 });
  });
});
