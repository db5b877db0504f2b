import { renderTable, formatDuration, formatTime } from '../cli/table.js';
import type { Store } from '../store/store.js';
import type { ApprovalDecidedEvent, ApprovalRequestedEvent, AuditEvent, GitEvent, RecordedDecision, SshExecEvent, StatementEvent } from './events.js';
import { parseBody, type VerifyResult } from './verify.js';

export interface SessionRow {
  readonly identity: string;
  readonly kind: string;
  readonly connection: string;
  readonly sessions: number;
  readonly statements: number;
}

export interface ClassRow {
  readonly class: string;
  readonly total: number;
  readonly allowed: number;
  /** Ran after a human approval (or inside an approval window). */
  readonly approved: number;
  /** Refused by hoop: a deny rule, or an approval that was denied, expired or withdrawn. */
  readonly refused: number;
  /** Ran and failed in the database. */
  readonly failed: number;
}

/** What a denial or approval was about: a SQL statement, an SSH command, shell or request, a push. */
export type Subject = 'sql' | 'ssh.exec' | 'ssh.channel' | 'ssh.request' | 'git.push';

export interface DenialRow {
  readonly time: number;
  readonly identity: string;
  readonly connection: string;
  readonly class: string;
  /** `rule NAME` for a policy deny, `approval` for a refused review. */
  readonly by: string;
  readonly reason: string;
  /** The statement, the command line, the refused ref update or request, on one line. */
  readonly sql: string;
  readonly subject: Subject;
}

/** SSH and git activity of one identity on one connection. */
export interface SshRow {
  readonly identity: string;
  readonly kind: string;
  readonly connection: string;
  /** Commands run with `ssh host CMD`, and of those: refused by hoop, held for approval, exited non-zero or by a signal. */
  readonly commands: number;
  readonly commandsRefused: number;
  readonly commandsHeld: number;
  readonly commandsFailed: number;
  /** Lines typed into interactive shells (recorded, not enforced). */
  readonly shellCommands: number;
  readonly fetches: number;
  readonly pushes: number;
  /** Ref updates pushes asked for, and those refused (by a rule, or with their whole push). */
  readonly refUpdates: number;
  readonly refUpdatesRefused: number;
  readonly fileOperations: number;
  /** Port and socket forwarding refused. */
  readonly forwardingRefused: number;
  /** Other requests and channels refused: agent and X11 forwarding, subsystems, shells. */
  readonly otherRefused: number;
}

export interface ApprovalRow {
  readonly requestId: string;
  readonly requestedAt: number | null;
  readonly decidedAt: number;
  readonly identity: string;
  readonly connection: string;
  readonly sql: string | null;
  /** What was held; `sql` when the request did not say (older records). */
  readonly subject: NonNullable<ApprovalRequestedEvent['subject']>;
  readonly status: ApprovalDecidedEvent['status'];
  readonly approvers: readonly { readonly name: string; readonly decision: string; readonly reason: string | null }[];
  readonly waitedMs: number;
}

export interface AuditReport {
  readonly range: { readonly since: number | null; readonly until: number | null };
  readonly generatedAt: number;
  readonly events: number;
  readonly sessions: readonly SessionRow[];
  readonly statementsByClass: readonly ClassRow[];
  readonly ssh: readonly SshRow[];
  readonly denials: readonly DenialRow[];
  readonly approvals: readonly ApprovalRow[];
  readonly approvalSummary: {
    readonly decided: number;
    readonly approved: number;
    readonly denied: number;
    readonly expired: number;
    readonly cancelled: number;
    /** Statements let through by an open approval window (no new request). */
    readonly viaWindow: number;
    readonly medianWaitMs: number | null;
    readonly maxWaitMs: number | null;
  };
  /** Null when no event in the range says anything about masking. */
  readonly masking: { readonly statementsMasked: number; readonly maskedValues: number } | null;
  readonly integrity: { readonly ok: boolean; readonly chains: number; readonly problems: number; readonly unsignedTail: number; readonly firstProblem: string | null } | { readonly error: string } | null;
}

/**
 * How many values an event's `masked` field says were masked. The field belongs to the masking
 * feature and its shape may change: a count, a list of what was masked, or a map of counts.
 */
function maskedCount(masked: unknown): number {
  if (typeof masked === 'number') return masked;
  if (masked === true) return 1;
  if (Array.isArray(masked)) return masked.length;
  if (masked && typeof masked === 'object') {
    const values = Object.values(masked);
    return values.every((v) => typeof v === 'number') ? values.reduce((a: number, v) => a + (v as number), 0) : values.length;
  }
  return 0;
}

const oneLine = (sql: string): string => sql.replace(/\s+/g, ' ').trim();

/** Requests that forward ports or sockets through the SSH connection. */
const FORWARDING = new Set(['direct-tcpip', 'tcpip-forward', 'forwarded-tcpip', 'direct-streamlocal@openssh.com', 'streamlocal-forward@openssh.com']);

/** Held or denied and not let through by an approval: it never ran. */
function refusedDecision(d: RecordedDecision, approved: boolean): boolean {
  return d.action === 'deny' || (d.action === 'review' && !approved);
}

const byWhom = (d: RecordedDecision): string => (d.action === 'deny' ? `rule ${d.rule}` : 'approval');
const why = (d: RecordedDecision): string => d.reason ?? (d.action === 'deny' ? `denied by rule ${d.rule}` : 'not approved');

type MutableSshRow = { -readonly [K in keyof SshRow]: SshRow[K] };

/** Builds the report from the recorded events themselves (not the sessions index), so it stands on what `hoop audit verify` checks. */
export async function buildReport(store: Store, range: { since?: number; until?: number }, integrity: AuditReport['integrity']): Promise<AuditReport> {
  const sessions = new Map<string, { identity: string; kind: string; connection: string; sessions: number; statements: number }>();
  const classes = new Map<string, { total: number; allowed: number; approved: number; refused: number; failed: number }>();
  const denials: DenialRow[] = [];
  const ssh = new Map<string, MutableSshRow>();
  const requested = new Map<string, ApprovalRequestedEvent>();
  const decided: ApprovalDecidedEvent[] = [];
  let viaWindow = 0;
  let events = 0;
  let masking: { statementsMasked: number; maskedValues: number } | null = null;

  const sessionRow = (e: AuditEvent) => {
    const key = `${e.identity.subject}\u0000${e.connection}`;
    let row = sessions.get(key);
    if (!row) sessions.set(key, (row = { identity: e.identity.name, kind: e.identity.kind, connection: e.connection, sessions: 0, statements: 0 }));
    return row;
  };

  const sshRow = (e: AuditEvent): MutableSshRow => {
    const key = `${e.identity.subject}\u0000${e.connection}`;
    let row = ssh.get(key);
    if (!row) {
      row = {
        identity: e.identity.name,
        kind: e.identity.kind,
        connection: e.connection,
        commands: 0,
        commandsRefused: 0,
        commandsHeld: 0,
        commandsFailed: 0,
        shellCommands: 0,
        fetches: 0,
        pushes: 0,
        refUpdates: 0,
        refUpdatesRefused: 0,
        fileOperations: 0,
        forwardingRefused: 0,
        otherRefused: 0,
      };
      ssh.set(key, row);
    }
    return row;
  };
  const deny = (e: AuditEvent, d: RecordedDecision, subject: Subject, text: string): void =>
    void denials.push({ time: e.time, identity: e.identity.name, connection: e.connection, class: d.class, by: byWhom(d), reason: why(d), sql: oneLine(text), subject });

  const exec = (e: SshExecEvent): void => {
    const row = sshRow(e);
    row.commands++;
    if (e.decision.action === 'review') row.commandsHeld++;
    if (refusedDecision(e.decision, e.approval !== undefined)) {
      row.commandsRefused++;
      deny(e, e.decision, 'ssh.exec', e.command);
    } else if ((e.exitStatus !== undefined && e.exitStatus !== 0) || e.exitSignal !== undefined) row.commandsFailed++;
  };

  const git = (e: GitEvent): void => {
    const row = sshRow(e);
    if (e.type === 'git.fetch') {
      row.fetches++;
      return;
    }
    row.pushes++;
    row.refUpdates += e.refs.length;
    if (refusedDecision(e.decision, e.approval !== undefined)) {
      // The whole push was refused: every ref it asked for with it.
      row.refUpdatesRefused += e.refs.length;
      deny(e, e.decision, 'git.push', `git push ${e.repository} ${e.refs.map((r) => `${r.kind} ${r.ref}`).join(', ')}`);
      return;
    }
    for (const r of e.refs) {
      // A held ref went through with its push's approval.
      if (r.decision.action !== 'deny') continue;
      row.refUpdatesRefused++;
      deny(e, r.decision, 'git.push', `git push ${e.repository} ${r.kind} ${r.ref}`);
    }
  };

  for await (const rec of store.auditRecords(range)) {
    const e = parseBody(rec.body) as AuditEvent | undefined;
    if (!e || typeof e !== 'object' || !e.identity) continue;
    events++;
    if ('masked' in e && (e as { masked?: unknown }).masked !== undefined) {
      masking ??= { statementsMasked: 0, maskedValues: 0 };
      const n = maskedCount((e as { masked?: unknown }).masked);
      if (n > 0) {
        masking.statementsMasked++;
        masking.maskedValues += n;
      }
    }
    switch (e.type) {
      case 'session.start':
        sessionRow(e).sessions++;
        break;
      case 'statement': {
        sessionRow(e).statements++;
        const cls = e.decision?.class ?? 'unclassified';
        let c = classes.get(cls);
        if (!c) classes.set(cls, (c = { total: 0, allowed: 0, approved: 0, refused: 0, failed: 0 }));
        c.total++;
        const refused = isRefusal(e);
        if (refused) {
          c.refused++;
          denials.push({
            time: e.time,
            identity: e.identity.name,
            connection: e.connection,
            class: cls,
            by: e.decision!.action === 'deny' ? `rule ${e.decision!.rule}` : 'approval',
            reason: e.error!.message,
            sql: oneLine(e.sql),
            subject: 'sql',
          });
        } else if (e.approval) c.approved++;
        else if (e.error) c.failed++;
        else c.allowed++;
        break;
      }
      case 'ssh.exec':
        exec(e);
        break;
      case 'shell.command':
        sshRow(e).shellCommands++;
        break;
      case 'git.fetch':
      case 'git.push':
        git(e);
        break;
      case 'sftp.op':
        sshRow(e).fileOperations++;
        break;
      case 'ssh.request':
        // Clients send LANG and LC_* unasked: variables outside the allow-list are not worth a line.
        if (e.decision.action === 'allow' || e.request === 'env') break;
        if (FORWARDING.has(e.request)) sshRow(e).forwardingRefused++;
        else sshRow(e).otherRefused++;
        deny(e, e.decision, 'ssh.request', `${e.request} ${e.detail}`);
        break;
      case 'ssh.channel':
        // An exec channel's refusal is counted with its command; a shell or subsystem's here.
        if (e.kind === 'exec' || e.decision.action !== 'deny') break;
        sshRow(e).otherRefused++;
        deny(e, e.decision, 'ssh.channel', e.kind === 'subsystem' ? `subsystem ${e.subsystem ?? ''}` : e.kind);
        break;
      case 'approval.requested':
        requested.set(e.requestId, e);
        break;
      case 'approval.decided':
        if (e.viaWindow) viaWindow++;
        else decided.push(e);
        break;
    }
  }

  const approvals: ApprovalRow[] = decided.map((d) => {
    const r = requested.get(d.requestId);
    return {
      requestId: d.requestId,
      requestedAt: r?.time ?? null,
      decidedAt: d.time,
      identity: d.identity.name,
      connection: d.connection,
      sql: r ? oneLine(r.sql) : null,
      subject: r?.subject ?? 'sql',
      status: d.status,
      approvers: d.approvers.map((a) => ({ name: a.name, decision: a.decision, reason: a.reason })),
      waitedMs: d.waitedMs,
    };
  });
  const waits = decided.map((d) => d.waitedMs).sort((a, b) => a - b);
  const count = (s: ApprovalDecidedEvent['status']): number => decided.filter((d) => d.status === s).length;
  return {
    range: { since: range.since ?? null, until: range.until ?? null },
    generatedAt: Date.now(),
    events,
    sessions: [...sessions.values()].sort((a, b) => b.sessions - a.sessions || b.statements - a.statements || a.identity.localeCompare(b.identity)),
    statementsByClass: [...classes.entries()].map(([cls, c]) => ({ class: cls, ...c })).sort((a, b) => b.total - a.total),
    ssh: [...ssh.values()].sort((a, b) => b.commands + b.pushes - (a.commands + a.pushes) || a.identity.localeCompare(b.identity)),
    denials: denials.sort((a, b) => a.time - b.time),
    approvals,
    approvalSummary: {
      decided: decided.length,
      approved: count('approved'),
      denied: count('denied'),
      expired: count('expired'),
      cancelled: count('cancelled'),
      viaWindow,
      medianWaitMs: waits.length ? waits[Math.floor((waits.length - 1) / 2)]! : null,
      maxWaitMs: waits.length ? waits.at(-1)! : null,
    },
    masking,
    integrity,
  };
}

/** A statement hoop itself refused: a deny rule, or a review that did not end in approval. */
function isRefusal(e: StatementEvent): boolean {
  return e.error?.code === '42501' && e.decision !== undefined && e.decision.action !== 'allow' && !e.approval;
}

export function integritySummary(v: VerifyResult): NonNullable<AuditReport['integrity']> {
  return {
    ok: v.ok,
    chains: v.chains.length,
    problems: v.problems.length,
    unsignedTail: v.chains.reduce((n, c) => n + c.unsignedTail, 0),
    firstProblem: v.problems[0] ? `${v.problems[0].kind} at chain ${v.problems[0].chain ?? '-'} seq ${v.problems[0].seq ?? '-'}: ${v.problems[0].message}` : null,
  };
}

const MAX_LISTED = 50;

function rangeText(r: AuditReport['range']): string {
  return `${r.since === null ? 'the beginning' : formatTime(r.since)} to ${r.until === null ? 'now' : formatTime(r.until)}`;
}

function integrityText(i: AuditReport['integrity']): string {
  if (i === null) return 'not checked';
  if ('error' in i) return `not checked: ${i.error}`;
  if (!i.ok) return `FAILED: ${i.problems} problem(s); first: ${i.firstProblem} (run hoop audit verify)`;
  return `verified: ${i.chains} chain(s) intact${i.unsignedTail > 0 ? `; ${i.unsignedTail} event(s) in unsigned tails` : ''}`;
}

interface Section {
  readonly title: string;
  readonly summary?: string;
  readonly empty: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
  readonly note?: string;
}

function sections(r: AuditReport): Section[] {
  const s = r.approvalSummary;
  return [
    {
      title: 'Sessions by identity and connection',
      empty: 'no sessions',
      columns: ['identity', 'kind', 'connection', 'sessions', 'statements'],
      rows: r.sessions.map((x) => [x.identity, x.kind, x.connection, String(x.sessions), String(x.statements)]),
    },
    {
      title: 'Statements by class',
      empty: 'no statements',
      columns: ['class', 'total', 'allowed', 'approved', 'refused', 'failed'],
      rows: r.statementsByClass.map((x) => [x.class, String(x.total), String(x.allowed), String(x.approved), String(x.refused), String(x.failed)]),
    },
    {
      title: 'SSH and git by identity and connection',
      empty: 'no SSH or git activity',
      columns: ['identity', 'connection', 'commands', 'refused', 'held', 'failed', 'shell lines', 'fetches', 'pushes', 'refs refused', 'file ops', 'forwarding refused', 'other refused'],
      rows: r.ssh.map((x) => [
        x.identity,
        x.connection,
        String(x.commands),
        String(x.commandsRefused),
        String(x.commandsHeld),
        String(x.commandsFailed),
        String(x.shellCommands),
        String(x.fetches),
        String(x.pushes),
        `${x.refUpdatesRefused}/${x.refUpdates}`,
        String(x.fileOperations),
        String(x.forwardingRefused),
        String(x.otherRefused),
      ]),
    },
    {
      title: `Denials (${r.denials.length})`,
      empty: 'nothing was refused',
      columns: ['time', 'identity', 'connection', 'class', 'by', 'statement / command'],
      rows: r.denials.slice(0, MAX_LISTED).map((d) => [formatTime(d.time), d.identity, d.connection, d.class, d.by, clip(d.sql)]),
      ...(r.denials.length > MAX_LISTED ? { note: `${r.denials.length - MAX_LISTED} more not listed (--json has all)` } : {}),
    },
    {
      title: `Approvals (${s.decided})`,
      summary: `${s.approved} approved, ${s.denied} denied, ${s.expired} expired, ${s.cancelled} withdrawn; wait median ${s.medianWaitMs === null ? '-' : formatDuration(s.medianWaitMs)}, max ${s.maxWaitMs === null ? '-' : formatDuration(s.maxWaitMs)}; ${s.viaWindow} statement(s) or command(s) ran inside an approval window`,
      empty: 'no approval requests',
      columns: ['decided', 'request', 'identity', 'status', 'approvers', 'waited', 'statement / command'],
      rows: r.approvals
        .slice(0, MAX_LISTED)
        .map((a) => [
          formatTime(a.decidedAt),
          a.requestId,
          a.identity,
          a.status,
          a.approvers.map((v) => `${v.name} (${v.decision})`).join(', ') || '-',
          formatDuration(a.waitedMs),
          clip(a.sql ?? ''),
        ]),
      ...(r.approvals.length > MAX_LISTED ? { note: `${r.approvals.length - MAX_LISTED} more not listed (--json has all)` } : {}),
    },
  ];
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function maskingText(r: AuditReport): string {
  return r.masking === null
    ? 'no masking recorded in this range'
    : `${r.masking.maskedValues} value(s) masked in ${r.masking.statementsMasked} event(s)`;
}

export function renderReportText(r: AuditReport): string {
  const out: string[] = [
    `hoop audit report: ${rangeText(r.range)} (${r.events} events)`,
    `integrity: ${integrityText(r.integrity)}`,
    `masking: ${maskingText(r)}`,
  ];
  for (const s of sections(r)) {
    out.push('', s.title);
    if (s.summary) out.push(`  ${s.summary}`);
    out.push(s.rows.length === 0 ? `  ${s.empty}` : renderTable(s.columns, s.rows));
    if (s.note) out.push(`  ${s.note}`);
  }
  return out.join('\n');
}

const md = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderReportMarkdown(r: AuditReport): string {
  const out: string[] = [
    '# hoop audit report',
    '',
    `- **Period:** ${rangeText(r.range)}`,
    `- **Generated:** ${formatTime(r.generatedAt)}`,
    `- **Events:** ${r.events}`,
    `- **Integrity:** ${md(integrityText(r.integrity))}`,
    `- **Masking:** ${maskingText(r)}`,
  ];
  for (const s of sections(r)) {
    out.push('', `## ${md(s.title)}`, '');
    if (s.summary) out.push(md(s.summary), '');
    if (s.rows.length === 0) {
      out.push(`_${s.empty}_`);
      continue;
    }
    out.push(`| ${s.columns.map(md).join(' | ')} |`, `| ${s.columns.map(() => '---').join(' | ')} |`);
    for (const row of s.rows) out.push(`| ${row.map(md).join(' | ')} |`);
    if (s.note) out.push('', `_${s.note}_`);
  }
  return out.join('\n');
}
