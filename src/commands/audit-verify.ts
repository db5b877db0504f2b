import { defineCommand, jsonOption } from '../cli/command.js';
import { UsageError } from '../errors.js';
import type { VerifyResult } from '../audit/verify.js';

function render(r: VerifyResult, keySource: string): string[] {
  const lines = [`${r.source}: ${r.events} event(s) in ${r.chains.length} chain(s), checked with key ${r.keys.join(', ') || '(none)'} (${keySource})`];
  for (const c of r.chains) {
    const span = c.events === 0 ? 'no events' : `seq ${c.firstSeq}–${c.lastSeq}`;
    const signed = c.signedThrough === null ? 'no valid checkpoint' : `signed through seq ${c.signedThrough}`;
    if (c.problem) lines.push(`chain ${c.chain}: ${span}: TAMPERED at seq ${c.problem.seq ?? '-'}: ${c.problem.kind}${c.problem.at ? ` (${c.problem.at})` : ''}: ${c.problem.message}`);
    else {
      const pruned = c.prunedThrough !== null ? `, seq 1–${c.prunedThrough} pruned by retention` : '';
      lines.push(`chain ${c.chain}: ${span}${pruned}, ${c.checkpoints} checkpoint(s), ${signed}: ok${c.unsignedTail > 0 ? ` (unsigned tail: ${c.unsignedTail} event(s))` : ''}`);
    }
  }
  for (const p of r.problems) if (p.chain === null) lines.push(`TAMPERED: ${p.kind}${p.at ? ` (${p.at})` : ''}: ${p.message}`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  const first = r.problems[0];
  lines.push(
    r.ok
      ? `OK: every event and checkpoint verified${r.warnings.length ? ` (${r.warnings.length} warning(s))` : ''}`
      : `FAILED: ${r.problems.length} problem(s); first: ${first!.kind} at chain ${first!.chain ?? '-'} seq ${first!.seq ?? '-'}`,
  );
  return lines;
}

export default defineCommand({
  name: 'audit verify',
  summary: 'check the hash chains and signed checkpoints of a store or an export; exits 1 naming the first break',
  options: [
    { flags: '-c, --config <file>', description: 'verify the store of this gateway config (default: hoop.yaml)' },
    { flags: '--export <dir>', description: 'verify an export offline, with only --public-key' },
    { flags: '--public-key <files...>', description: 'trusted public key(s), PEM (default for a store: the configured signing key)' },
    jsonOption,
  ],
  examples: ['hoop audit verify --config hoop.yaml', 'hoop audit verify --export ./audit-2025-q1 --public-key hoop-audit.pub', 'hoop audit verify --config hoop.yaml --json'],
  async run(ctx, _args, options) {
    const { keysFor, openAuditStore } = await import('../audit/cli-support.js');
    let result: VerifyResult;
    let keySource: string;
    if (typeof options.export === 'string') {
      if (typeof options.config === 'string') throw new UsageError('pass either --config or --export, not both');
      const { keys, source } = keysFor(options);
      if (keys.size === 0) throw new UsageError('--export needs --public-key FILE: an export is verified against a key you trust, not the one it carries');
      const { verifyExport } = await import('../audit/export.js');
      result = await verifyExport(options.export, keys);
      keySource = source;
    } else {
      const opened = await openAuditStore(typeof options.config === 'string' ? options.config : 'hoop.yaml');
      try {
        const { keys, source } = keysFor(options, opened);
        const { verifyStore } = await import('../audit/verify.js');
        result = await verifyStore(opened.store, keys, opened.storeName);
        keySource = source;
      } finally {
        await opened.store.close();
      }
    }
    if (options.json) ctx.out(JSON.stringify(result));
    else for (const line of render(result, keySource)) ctx.out(line);
    return result.ok ? 0 : 1;
  },
});
