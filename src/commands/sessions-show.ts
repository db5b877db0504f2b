import type { AuditEvent, RecordedDecision, TerminalEvent } from '../audit/events.js';
import { defineCommand, gatewayOptions, jsonOption } from '../cli/command.js';
import { getSession } from '../cli/sessions-source.js';
import { formatTime } from '../cli/table.js';

const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim();

function verdict(d: RecordedDecision): string {
  return `${d.action} (rule ${d.rule})`;
}

function bytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * The lines `hoop sessions show` prints for one event: what ran or was asked for, what policy
 * said, and how it ended. Terminal traffic is left to `hoop replay` (only counted), approvals
 * and the session's start and end are in the header.
 */
export function eventLines(e: AuditEvent): string[] {
  const at = `[${formatTime(e.time)}]`;
  switch (e.type) {
    case 'statement': {
      const outcome = e.error ? `ERROR ${e.error.code}: ${e.error.message}` : `${e.commandTag ?? ''} (${e.rows} rows)`;
      const lines = [`${at} ${e.durationMs.toFixed(1)}ms ${outcome}`, `  ${oneLine(e.sql)}`];
      if (e.params && e.params.length > 0) lines.push(`  params: ${JSON.stringify(e.params)}`);
      return lines;
    }
    case 'ssh.channel': {
      const what = e.kind === 'subsystem' ? `subsystem ${e.subsystem ?? ''}`.trim() : e.kind;
      const pty = e.pty ? ` (pty ${e.pty.term} ${e.pty.cols}x${e.pty.rows})` : '';
      return [`${at} channel ${e.channel} ${what}${pty}: ${verdict(e.decision)}`];
    }
    case 'ssh.exec': {
      const outcome =
        e.exitStatus !== undefined
          ? `exit ${e.exitStatus}`
          : e.exitSignal !== undefined
            ? `killed by signal ${e.exitSignal}`
            : e.decision.action !== 'allow' && !e.approval
              ? 'not run'
              : 'no exit status';
      const approved = e.approval ? `, approved by ${e.approval.approvedBy.join(', ') || '(window)'}` : '';
      return [
        `${at} ${e.durationMs.toFixed(1)}ms exec ${outcome}: ${verdict(e.decision)}${approved}; ${bytes(e.bytesOut)} out, ${bytes(e.bytesIn)} in`,
        `  $ ${oneLine(e.command)}`,
      ];
    }
    case 'shell.command':
      return [`${at} shell command on channel ${e.channel} (recorded, not enforced; policy: ${verdict(e.decision)})`, `  $ ${oneLine(e.command)}`];
    case 'git.fetch':
    case 'git.push': {
      const op = e.type === 'git.push' ? 'push' : 'fetch';
      const exit = e.exitStatus !== undefined ? `, exit ${e.exitStatus}` : '';
      const lines = [`${at} ${e.durationMs.toFixed(1)}ms git ${op} ${e.repository}: ${verdict(e.decision)}${exit}; ${bytes(e.bytesIn)} in, ${bytes(e.bytesOut)} out`];
      for (const r of e.refs) lines.push(`  ${r.kind} ${r.ref} ${r.oldId.slice(0, 7)}..${r.newId.slice(0, 7)}: ${verdict(r.decision)}${r.result !== undefined ? `, ${r.result}` : ''}`);
      if (e.wants && e.wants.length > 0) lines.push(`  wants ${e.wants.length} object(s)`);
      return lines;
    }
    case 'sftp.op':
      return [`${at} sftp ${e.op} ${e.path}${e.target !== undefined ? ` -> ${e.target}` : ''}${e.bytes !== undefined ? ` ${bytes(e.bytes)}` : ''}: ${e.status}`];
    case 'ssh.request':
      return [`${at} ${e.decision.action === 'allow' ? 'allowed' : 'refused'} ${e.request} ${e.detail}: ${verdict(e.decision)}${e.decision.reason ? `: ${e.decision.reason}` : ''}`];
    default:
      return [];
  }
}

/** Records of an early gateway carry no channel: they were the session's one terminal. */
const channelOf = (e: TerminalEvent): number => (typeof e.channel === 'number' ? e.channel : 0);

/** `terminal   channel 0: 12 event(s), channel 2: 3 event(s) …`: what `hoop replay` would play. */
export function terminalSummary(events: readonly AuditEvent[], sessionId: string): string | null {
  const byChannel = new Map<number, number>();
  for (const e of events) {
    if (e.type !== 'terminal.output' && e.type !== 'terminal.input') continue;
    const channel = channelOf(e);
    byChannel.set(channel, (byChannel.get(channel) ?? 0) + 1);
  }
  if (byChannel.size === 0) return null;
  const parts = [...byChannel].map(([channel, n]) => `channel ${channel}: ${n} event(s)`);
  return `terminal   ${parts.join(', ')} (hoop replay ${sessionId} to watch)`;
}

export default defineCommand({
  name: 'sessions show',
  summary: "print a session's statements, commands and transfers in order",
  args: [{ name: 'id', description: 'session id (from `hoop sessions`)', required: true }],
  options: [
    { flags: '-c, --config <file>', description: 'read the store of this gateway config directly' },
    jsonOption,
    ...gatewayOptions,
  ],
  async run(ctx, args, options) {
    const { session, events } = await getSession(options, args[0]!);
    if (options.json) return ctx.out(JSON.stringify({ session, events }));
    ctx.out(`session    ${session.id}`);
    ctx.out(`identity   ${session.identityName} (${session.identityKind}; groups: ${session.groups.join(', ') || 'none'})`);
    if (session.agentMeta) ctx.out(`agent      ${Object.entries(session.agentMeta).map(([k, v]) => `${k}=${v}`).join(', ')}`);
    ctx.out(`connection ${session.connection} (${session.connectionType}) from ${session.clientAddress}`);
    ctx.out(`started    ${formatTime(session.startedAt)}${session.endedAt ? `, ended ${formatTime(session.endedAt)} (${session.endReason})` : ', still open'}`);
    const terminal = terminalSummary(events, session.id);
    if (terminal) ctx.out(terminal);
    ctx.out('');
    for (const e of events) for (const line of eventLines(e)) ctx.out(line);
  },
});
