import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineCommand, jsonOption } from '../cli/command.js';
import { cliSettings } from '../cli/settings.js';
import { configSchema } from '../config/schema.js';
import { parsePort } from '../cli/args.js';

const DEMO_CONNECTION = 'demo';
const DEMO_AUDIENCE = 'urn:hoop:demo';

export default defineCommand({
  name: 'demo',
  summary: 'run everything on this machine: gateway, embedded PostgreSQL, a logged-in demo agent',
  options: [{ flags: '-p, --port <port>', description: 'gateway port (default: a free one)' }, jsonOption],
  examples: ['hoop demo', 'hoop demo --port 8009'],
  async run(ctx, _args, options) {
    const started = performance.now();
    const [{ startDemoDatabaseThread }, { startBuiltinIdp, DEMO_USERS, DEMO_CLIENTS }, { startGateway }, { createServiceAccount }, { default: pino }] = await Promise.all([
      import('../demo/threaded.js'),
      import('../auth/idp/builtin.js'),
      import('../gateway/server.js'),
      import('../auth/service-accounts.js'),
      import('pino'),
    ]);
    const dataDir = mkdtempSync(join(tmpdir(), 'hoop-demo-'));
    const cleanups: (() => Promise<void> | void)[] = [() => rmSync(dataDir, { recursive: true, force: true })];
    const cleanup = async (): Promise<void> => {
      for (const c of cleanups.reverse()) await c();
    };
    try {
      ctx.status('hoop demo: starting an embedded PostgreSQL with sample data…');
      const [db, idp] = await Promise.all([startDemoDatabaseThread(), startBuiltinIdp({ users: DEMO_USERS, clients: DEMO_CLIENTS, audience: DEMO_AUDIENCE, pollIntervalSeconds: 2 })]);
      cleanups.push(() => db.close());
      cleanups.push(() => idp.close());

      const config = configSchema.parse({
        listen: `127.0.0.1:${parsePort(options.port)}`,
        store: `sqlite:${join(dataDir, 'hoop.db')}`,
        connections: [{ name: DEMO_CONNECTION, type: 'postgres', host: db.host, port: db.port, database: db.database, user: db.user, tls: 'disable' }],
        auth: { adminGroups: ['admins', 'approvers'], oidc: { issuer: idp.issuer, clientId: 'hoop-cli', audience: DEMO_AUDIENCE } },
        log: { level: 'error' },
      });
      const logger = pino({ level: 'error', base: { service: 'hoop-demo' } }, pino.destination(2));
      const gateway = await startGateway(config, { logger });
      cleanups.push(() => gateway.close());

      const { token } = await createServiceAccount(gateway.store, 'demo-agent', ['engineers', 'admins']);
      // Log the local CLI in as the demo agent, and put back whatever login was there when the demo ends.
      const { loadLogin, saveLogin, removeLogin } = await import('../cli/credentials.js');
      const previous = await loadLogin();
      const previousGateway = cliSettings().get('gateway');
      await saveLogin({ gateway: gateway.url, method: 'service-account', accessToken: token });
      cliSettings().set('gateway', gateway.url);
      cleanups.push(async () => {
        if (previous) await saveLogin(previous.login);
        else await removeLogin();
        if (previousGateway === undefined) cliSettings().delete('gateway');
        else cliSettings().set('gateway', previousGateway);
      });

      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      if (options.json) {
        ctx.out(JSON.stringify({ status: 'ready', gateway: gateway.url, issuer: idp.issuer, connection: DEMO_CONNECTION, identity: 'demo-agent', dataDir }));
      } else {
        ctx.out(
          [
            '',
            `hoop demo is running (ready in ${seconds}s)`,
            `  gateway     ${gateway.url}`,
            `  connection  ${DEMO_CONNECTION}: PostgreSQL with customers and orders (synthetic data)`,
            '  logged in   as service account demo-agent (groups: engineers, admins)',
            `  identity    built-in OIDC provider at ${idp.issuer}`,
            `              people: ${DEMO_USERS.map((u) => `${u.username} / ${u.password} (${u.groups.join(', ')})`).join('; ')}`,
            '',
            'Try, in another terminal:',
            `  hoop exec ${DEMO_CONNECTION} -i "select full_name, email from customers limit 5"`,
            `  hoop exec ${DEMO_CONNECTION} -i "select status, count(*) from orders group by 1" --json`,
            `  hoop connect ${DEMO_CONNECTION} -- psql          # an interactive psql through the tunnel`,
            '  hoop sessions                           # every session, recorded',
            '  hoop sessions show <id>                 # every statement of one session',
            '  hoop login                              # log in as a person: device code, approve in the browser',
            '  hoop whoami',
            '',
            '(from a checkout without a global install, use `npx hoop` in place of `hoop`)',
            'Ctrl-C stops the demo and removes its data.',
          ].join('\n'),
        );
      }
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      ctx.status('hoop demo: stopping…');
      return 0;
    } finally {
      await cleanup();
    }
  },
});
