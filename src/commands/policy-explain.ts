import { defineCommand, jsonOption } from '../cli/command.js';
import { UsageError } from '../errors.js';
import type { Decision, Policy } from '../policy/policy.js';

/**
 * The requests `--access` asks about. Listed here rather than imported so that loading the command
 * list does not load the policy code; a test keeps it equal to the policy's classes.
 */
export const EXPLAINED_ACCESS_CLASSES = ['shell', 'sftp', 'port-forward', 'remote-forward', 'agent-forward', 'x11', 'git-fetch'] as const;

function detail(decision: Decision): string {
  if (decision.action === 'deny') return `: ${decision.reason}`;
  if (decision.action === 'review') {
    return `: ${decision.approvals} approval(s) from ${decision.approvers.join(', ')}, expires after ${Math.round(decision.timeoutMs / 60000)} min`;
  }
  return '';
}

const headline = (decision: Decision): string => `${decision.action} (rule ${decision.rule}, class ${decision.class})${detail(decision)}`;

export default defineCommand({
  name: 'policy explain',
  summary: 'show the decision for a statement, an SSH command or request, or a git ref update, and the rule behind it',
  options: [
    { flags: '--connection <name>', description: 'connection the statement would run on' },
    { flags: '--as <identity>', description: 'identity name' },
    { flags: '--groups <groups>', description: "the identity's groups, comma-separated", default: '' },
    { flags: '--sql <sql>', description: 'the statement(s)' },
    { flags: '--command <line>', description: 'an SSH command line, as in ssh host CMD' },
    { flags: '--ref <ref>', description: 'a ref a git push updates, e.g. refs/heads/main' },
    { flags: '--delete', description: 'with --ref: the push deletes the ref' },
    { flags: '--access <class>', description: 'an SSH or git request decided by its class alone', choices: EXPLAINED_ACCESS_CLASSES },
    { flags: '--policy <file>', description: 'policy file (default: the gateway config\'s policy, else the built-in default)' },
    { flags: '-c, --config <file>', description: 'gateway config whose policy to use' },
    jsonOption,
  ],
  examples: [
    'hoop policy explain --connection pg-prod --as alice --groups engineers --sql "delete from orders where id = 1"',
    'hoop policy explain --connection web-1 --as alice --command "sudo systemctl stop nginx"',
    'hoop policy explain --connection repo --as alice --ref refs/heads/main --delete',
    'hoop policy explain --connection web-1 --as alice --access port-forward',
  ],
  async run(ctx, _args, options) {
    const asked = (['sql', 'command', 'ref', 'access'] as const).filter((k) => options[k] !== undefined);
    if (!options.connection || !options.as || asked.length !== 1) {
      throw new UsageError('policy explain needs --connection, --as and one of --sql, --command, --ref or --access');
    }
    if (options.delete && options.ref === undefined) throw new UsageError('--delete goes with --ref');
    const [{ DEFAULT_POLICY, decide }, { loadConfig, loadPolicyFile }, { parseGroups }] = await Promise.all([
      import('../policy/policy.js'),
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
    const name = String(options.as);
    const groups = parseGroups(options.groups);
    const connection = String(options.connection);

    if (options.sql === undefined) {
      const { AccessPolicy } = await import('../policy/access-policy.js');
      const access = new AccessPolicy(policy, { kind: 'user', subject: name, name, groups }, connection);
      if (options.command !== undefined) {
        const decision = access.exec(String(options.command));
        if (options.json) return ctx.out(JSON.stringify({ ...decision, policy: source }));
        ctx.out(headline(decision));
        if (decision.matched !== undefined) ctx.out(`matched: ${decision.matched}`);
        ctx.out(`policy: ${source}`);
        for (const v of decision.perCommand) {
          ctx.out(`  ${v.decision.action.padEnd(7)} ${v.command.slice(0, 80)}  (rule ${v.decision.rule}${v.wrappedBy ? `; run by ${v.wrappedBy}` : ''})`);
        }
        return;
      }
      if (options.ref !== undefined) {
        const ref = String(options.ref);
        const zero = '0'.repeat(40);
        const someId = 'f'.repeat(40);
        const { decision } = access.refUpdates([{ ref, oldId: someId, newId: options.delete ? zero : someId }]);
        if (options.json) return ctx.out(JSON.stringify({ ...decision, ref, policy: source }));
        ctx.out(headline(decision));
        ctx.out(`policy: ${source}`);
        return;
      }
      const decision = access.request(String(options.access) as (typeof EXPLAINED_ACCESS_CLASSES)[number]);
      if (options.json) return ctx.out(JSON.stringify({ ...decision, policy: source }));
      ctx.out(headline(decision));
      ctx.out(`policy: ${source}`);
      return;
    }

    const { classifySql, initClassifier, SqlParseError } = await import('../policy/sql/classify.js');
    await initClassifier();
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
    const decision = decide(policy, { name, groups }, connection, classification.class);
    if (options.json) return ctx.out(JSON.stringify({ ...decision, policy: source, statements: classification.statements }));
    ctx.out(headline(decision));
    ctx.out(`policy: ${source}`);
    for (const s of classification.statements) {
      ctx.out(`  ${s.class.padEnd(12)} ${s.text.replace(/\s+/g, ' ').trim().slice(0, 80)}${s.reasons.length ? `  (${s.reasons.join('; ')})` : ''}`);
    }
  },
});
