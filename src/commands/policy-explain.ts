import { defineCommand, jsonOption } from '../cli/command.js';
import { UsageError } from '../errors.js';
import type { Policy } from '../policy/policy.js';

export default defineCommand({
  name: 'policy explain',
  summary: 'show the decision for a statement, and the rule and classification behind it',
  options: [
    { flags: '--connection <name>', description: 'connection the statement would run on' },
    { flags: '--as <identity>', description: 'identity name' },
    { flags: '--groups <groups>', description: "the identity's groups, comma-separated", default: '' },
    { flags: '--sql <sql>', description: 'the statement(s)' },
    { flags: '--policy <file>', description: 'policy file (default: the gateway config\'s policy, else the built-in default)' },
    { flags: '-c, --config <file>', description: 'gateway config whose policy to use' },
    jsonOption,
  ],
  examples: ['hoop policy explain --connection pg-prod --as alice --groups engineers --sql "delete from orders where id = 1"'],
  async run(ctx, _args, options) {
    if (!options.connection || !options.as || options.sql === undefined) throw new UsageError('policy explain needs --connection, --as and --sql');
    const [{ DEFAULT_POLICY, decide }, { classifySql, initClassifier, SqlParseError }, { loadConfig, loadPolicyFile }, { parseGroups }] = await Promise.all([
      import('../policy/policy.js'),
      import('../policy/sql/classify.js'),
      import('../config/load.js'),
      import('../cli/args.js'),
    ]);
    let policy: Policy = DEFAULT_POLICY;
    let source = 'built-in default policy';
    if (typeof options.policy === 'string') {
      policy = loadPolicyFile(options.policy);
      source = options.policy;
    } else if (typeof options.config === 'string') {
      const { config } = loadConfig(options.config, { resolveSecrets: false });
      if (config.policy && 'rules' in config.policy) {
        policy = config.policy;
        source = options.config;
      }
    }
    await initClassifier();
    const subject = { name: String(options.as), groups: parseGroups(options.groups) };
    const sql = String(options.sql);
    let classification;
    try {
      classification = classifySql(sql);
    } catch (err) {
      if (!(err instanceof SqlParseError)) throw err;
      const out = { action: 'deny', rule: 'hoop:unparseable', reason: `the statement could not be parsed: ${(err as Error).message}`, policy: source };
      if (options.json) ctx.out(JSON.stringify(out));
      else ctx.out(`deny (rule hoop:unparseable): ${out.reason}`);
      return 0;
    }
    const decision = decide(policy, subject, String(options.connection), classification.class);
    if (options.json) return ctx.out(JSON.stringify({ ...decision, policy: source, statements: classification.statements }));
    const detail =
      decision.action === 'deny'
        ? `: ${decision.reason}`
        : decision.action === 'review'
          ? `: ${decision.approvals} approval(s) from ${decision.approvers.join(', ')}, expires after ${Math.round(decision.timeoutMs / 60000)} min`
          : '';
    ctx.out(`${decision.action} (rule ${decision.rule}, class ${decision.class})${detail}`);
    ctx.out(`policy: ${source}`);
    for (const s of classification.statements) {
      ctx.out(`  ${s.class.padEnd(12)} ${s.text.replace(/\s+/g, ' ').trim().slice(0, 80)}${s.reasons.length ? `  (${s.reasons.join('; ')})` : ''}`);
    }
  },
});
