import { defineCommand, gatewayOptions, jsonOption } from '../cli/command.js';
import { listSessions } from '../cli/sessions-source.js';
import { formatDuration, formatTime, renderTable } from '../cli/table.js';

export default defineCommand({
  name: 'sessions',
  summary: 'list recorded sessions',
  options: [
    { flags: '--all', description: "every identity's sessions (admin groups only)" },
    { flags: '--connection <name>', description: 'only this connection' },
    { flags: '--limit <n>', description: 'how many, newest first', default: '100' },
    { flags: '-c, --config <file>', description: 'read the store of this gateway config directly instead of asking the gateway' },
    jsonOption,
    ...gatewayOptions,
  ],
  examples: ['hoop sessions', 'hoop sessions --all --json', 'hoop sessions --config hoop.yaml'],
  async run(ctx, _args, options) {
    const sessions = await listSessions(options);
    if (options.json) return ctx.out(JSON.stringify({ sessions }));
    if (sessions.length === 0) return ctx.status('no sessions recorded yet');
    ctx.out(
      renderTable(
        ['id', 'identity', 'connection', 'started', 'duration', 'statements'],
        sessions.map((s) => [
          s.id,
          s.identityName,
          s.connection,
          formatTime(s.startedAt),
          s.endedAt === null ? 'open' : formatDuration(s.endedAt - s.startedAt),
          String(s.statements),
        ]),
      ),
    );
  },
});
