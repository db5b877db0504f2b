import { parsePort } from '../cli/args.js';
import { defineCommand, gatewayOptions, jsonOption } from '../cli/command.js';
import { findConnection } from '../cli/api.js';
import { resolveGatewayAuth } from '../cli/settings.js';
import { UsageError } from '../errors.js';
import type { CommandContext } from '../cli/command.js';
import type { SshClientConfig } from '../cli/ssh-client-config.js';
import type { LocalListener } from '../tunnel/local-end.js';

/** The user name local clients present; the gateway ignores it (the tunnel carries the identity). */
const LOCAL_USER = 'hoop';

export default defineCommand({
  name: 'connect',
  summary: 'open a local port that tunnels to a connection through the gateway',
  args: [{ name: 'connection', description: 'connection name (see `hoop connections`)', required: true }],
  options: [{ flags: '-p, --port <port>', description: 'local port (default: a free one)' }, jsonOption, ...gatewayOptions],
  passThrough: true,
  examples: [
    'hoop connect pg-prod',
    'hoop connect pg-prod -- psql -c "select 1"',
    'hoop connect pg-prod --json',
    'hoop connect web1 -- ssh web1 uptime',
    'hoop connect app-repo -- git clone app-repo:app.git',
  ],
  async run(ctx, args, options) {
    const name = args[0]!;
    const auth = await resolveGatewayAuth(options);
    const connection = await findConnection(auth, name);
    const { LocalListener } = await import('../tunnel/local-end.js');
    const listener = await LocalListener.start({ auth, connection: name, connectionType: connection.type, port: parsePort(options.port) });
    const port = listener.port;
    listener.on('tunnelError', (err) => ctx.status(`hoop: tunnel refused: ${err.message}`));
    if (connection.type === 'ssh' || connection.type === 'git') {
      const { writeSshClientConfig } = await import('../cli/ssh-client-config.js');
      const sshConfig = await writeSshClientConfig(name, connection.sshHostKey ?? '', port);
      try {
        return await serveSsh(ctx, options, { name, type: connection.type, port, sshConfig, listener });
      } finally {
        await sshConfig.remove();
      }
    }
    const url = `postgres://${LOCAL_USER}@127.0.0.1:${port}/${encodeURIComponent(name)}?sslmode=disable`;

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

interface SshTarget {
  readonly name: string;
  readonly type: 'ssh' | 'git';
  readonly port: number;
  readonly sshConfig: SshClientConfig;
  readonly listener: LocalListener;
}

/** Runs a command through the tunnel with `GIT_SSH_COMMAND` and the child's exit status, as the postgres path does. */
async function runThrough(ctx: CommandContext, t: SshTarget): Promise<number> {
  const { execa } = await import('execa');
  const { withSshConfig } = await import('../cli/ssh-client-config.js');
  const [program, ...programArgs] = ctx.passThrough;
  ctx.status(`hoop: tunnel to ${t.name} on 127.0.0.1:${t.port}; running ${program}`);
  const child = execa(program!, withSshConfig(program!, programArgs, t.sshConfig), {
    stdio: 'inherit',
    reject: false,
    env: { GIT_SSH_COMMAND: t.sshConfig.sshCommand, HOOP_SSH_CONFIG: t.sshConfig.configPath, HOOP_SSH_HOST: t.name, HOOP_CONNECT_PORT: String(t.port) },
    cancelSignal: ctx.signal,
  });
  const result = await child;
  await t.listener.close();
  if (result.failed && result.exitCode === undefined && !result.isCanceled) throw new UsageError(`cannot run ${program}: ${result.shortMessage}`);
  return result.exitCode ?? (result.signal ? 128 + 2 : 1);
}

async function serveSsh(ctx: CommandContext, options: Record<string, unknown>, t: SshTarget): Promise<number> {
  if (ctx.passThrough.length > 0) return runThrough(ctx, t);
  const cfg = t.sshConfig;
  const commands =
    t.type === 'git'
      ? [`git -c core.sshCommand="${cfg.sshCommand}" clone ${t.name}:${t.name}.git`, `git -c core.sshCommand="${cfg.sshCommand}" push ${t.name}:${t.name}.git HEAD`]
      : [`${cfg.sshCommand} ${t.name}`, `sftp -F ${cfg.configPath} ${t.name}`, `scp -F ${cfg.configPath} FILE ${t.name}:PATH`];
  if (options.json) {
    ctx.out(JSON.stringify({ status: 'ready', connection: t.name, type: t.type, host: '127.0.0.1', port: t.port, sshConfig: cfg.configPath, knownHosts: cfg.knownHostsPath, sshHost: t.name, gitSshCommand: cfg.sshCommand, commands }));
    t.listener.on('session', (s) => ctx.out(JSON.stringify({ status: 'session', sessionId: s.sessionId })));
    t.listener.on('closed', (s) => ctx.out(JSON.stringify({ status: 'closed', sessionId: s.sessionId })));
  } else {
    for (const c of commands) ctx.out(c);
    ctx.status(`hoop: ${t.name} is ready on 127.0.0.1:${t.port} (the gateway's host key is pinned in ${cfg.knownHostsPath}); every command is recorded. Ctrl-C to stop.`);
    t.listener.on('session', (s) => ctx.status(`hoop: session ${s.sessionId} opened`));
  }
  await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
  await t.listener.close();
  if (options.json) ctx.out(JSON.stringify({ status: 'stopped' }));
  else ctx.status('hoop: tunnel closed');
  return 0;
}
