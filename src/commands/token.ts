import { defineCommand, gatewayOptions } from '../cli/command.js';

export default defineCommand({
  name: 'token',
  summary: 'print a valid access token (renewed if needed) for scripts and the native Postgres listener',
  options: [...gatewayOptions],
  examples: ['PGPASSWORD=$(hoop token) psql "host=hoop.example.com port=15432 user=alice dbname=pg-prod sslmode=verify-full"'],
  async run(ctx, _args, options) {
    const { resolveGatewayAuth } = await import('../cli/settings.js');
    ctx.out(await (await resolveGatewayAuth(options)).token());
  },
});
