import { defineCommand } from '../cli/command.js';
import { bashCompletion, zshCompletion } from '../cli/completions.js';
import { UsageError } from '../errors.js';

export default defineCommand({
  name: 'completion',
  summary: 'print a shell completion script (bash or zsh)',
  args: [{ name: 'shell', description: 'bash or zsh', required: true }],
  examples: ['source <(hoop completion bash)'],
  async run(ctx, args) {
    // Imported here, not at the top: the registry imports every command file.
    const { registry } = await import('./registry.js');
    if (args[0] === 'bash') ctx.out(bashCompletion(registry));
    else if (args[0] === 'zsh') ctx.out(zshCompletion(registry));
    else throw new UsageError(`no completion for shell "${args[0]}"`, 'use bash or zsh');
  },
});
