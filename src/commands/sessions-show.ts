import { defineCommand, gatewayOptions, jsonOption } from '../cli/command.js';
import { getSession } from '../cli/sessions-source.js';
import { formatTime } from '../cli/table.js';

export default defineCommand({
  name: 'sessions show',
  summary: "print a session's statements in order",
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
    ctx.out('');
    for (const e of events) {
      if (e.type !== 'statement') continue;
      const outcome = e.error ? `ERROR ${e.error.code}: ${e.error.message}` : `${e.commandTag ?? ''} (${e.rows} rows)`;
      ctx.out(`[${formatTime(e.time)}] ${e.durationMs.toFixed(1)}ms ${outcome}`);
      ctx.out(`  ${e.sql.replace(/\s+/g, ' ').trim()}`);
      if (e.params && e.params.length > 0) ctx.out(`  params: ${JSON.stringify(e.params)}`);
    }
  },
});
