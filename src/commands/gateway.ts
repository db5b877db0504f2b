import { configOption, defineCommand } from '../cli/command.js';
import { loadConfig } from '../config/load.js';

export default defineCommand({
  name: 'gateway',
  summary: 'run the gateway: authenticate, relay, record',
  options: [configOption],
  examples: ['hoop gateway --config hoop.yaml'],
  async run(ctx, _args, options) {
    const { config, path } = loadConfig(options.config as string);
    const { startGateway } = await import('../gateway/server.js');
    const gateway = await startGateway(config);
    ctx.status(`hoop gateway listening on ${gateway.url} (config ${path}); Ctrl-C to stop`);
    await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
    ctx.status('stopping…');
    await gateway.close();
    return 0;
  },
});
