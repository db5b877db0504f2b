import { defineCommand, jsonOption } from '../cli/command.js';

export default defineCommand({
  name: 'policy check',
  summary: 'validate a policy file; exits 2 naming the first problem',
  args: [{ name: 'file', description: 'policy YAML file', required: true }],
  options: [jsonOption],
  examples: ['hoop policy check policy.yaml'],
  async run(ctx, args, options) {
    const { loadPolicyFile } = await import('../config/load.js');
    const policy = loadPolicyFile(args[0]!);
    if (options.json) return ctx.out(JSON.stringify({ valid: true, rules: policy.rules.map((r) => ({ name: r.name, action: r.action })) }));
    ctx.out(`${args[0]}: valid, ${policy.rules.length} rule${policy.rules.length === 1 ? '' : 's'} (${policy.rules.map((r) => `${r.name}→${r.action}`).join(', ')})`);
  },
});
