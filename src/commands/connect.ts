import { parsePort } from '../cli/args.js';
import { defineCommand, gatewayOptions, jsonOption } from '../cli/command.js';
import { findConnection } from '../cli/api.js';
import { resolveGatewayAuth } from '../cli/settings.js';
import { UsageError } from '../errors.js';

/** The user name local clients present; the gateway ignores it (the tunnel carries the identity). */
const LOCAL_USER = 'hoop';

export default defineCommand({
  name: 'connect',
  summary: 'open a local port that tunnels to a connection through the gateway',
  args: [{ name: 'connection', description: 'connection name (see `hoop connections`)', required: true }],
  options: [{ flags: '-p, --port <port>', description: 'local port (default: a free one)' }, jsonOption, ...gatewayOptions],
  passThrough: true,
  examples: ['hoop connect pg-prod', 'hoop connect pg-prod -- psql -c "select 1"', 'hoop connect pg-prod --json'],
  async run(ctx, args, options) {
    const name = args[0]!;
    const auth = await resolveGatewayAuth(options);
    const connection = await findConnection(auth, name);
    const { LocalListener } = await import('../tunnel/local-end.js');
    const listener = await LocalListener.start({ auth, connection: name, connectionType: connection.type, port: parsePort(options.port) });
    const port = listener.port;
    const url = `postgres://${LOCAL_USER}@127.0.0.1:${port}/${encodeURIComponent(name)}?sslmode=disable`;
    listener.on('tunnelError', (err) => ctx.status(`hoop: tunnel refused: ${err.message}`));

    if (ctx.passThrough.length > 0) {
      const { execa } = await import('execa');
      const [program, ...programArgs] = ctx.passThrough;
      ctx.status(`hoop: tunnel to ${name} on 127.0.0.1:${port}; running ${program}`);
      const child = execa(program!, programArgs, {
        stdio: 'inherit',
        reject: false,
        env: { PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: LOCAL_USER, PGDATABASE: name, PGSSLMODE: 'disable', HOOP_CONNECT_PORT: String(port) },
        cancelSignal: ctx.signal,
      });
      const result = await child;
      await listener.close();
      if (result.failed && result.exitCode === undefined && !result.isCanceled) {
        throw new UsageError(`cannot run ${program}: ${result.shortMessage}`);
      }
      return result.exitCode ?? (result.signal ? 128 + 2 : 1);
    }

    if (options.json) {
      ctx.out(JSON.stringify({ status: 'ready', connection: name, type: connection.type, host: '127.0.0.1', port, url }));
      listener.on('session', (s) => ctx.out(JSON.stringify({ status: 'session', sessionId: s.sessionId })));
      listener.on('closed', (s) => ctx.out(JSON.stringify({ status: 'closed', sessionId: s.sessionId })));
    } else {
      ctx.out(`psql "${url}"`);
      ctx.status(`hoop: ${name} is ready on 127.0.0.1:${port}; every statement is recorded. Ctrl-C to stop.`);
      listener.on('session', (s) => ctx.status(`hoop: session ${s.sessionId} opened`));
    }
    await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
    await listener.close();
    if (options.json) ctx.out(JSON.stringify({ status: 'stopped' }));
    else ctx.status('hoop: tunnel closed');
    return 0;
  },
});
