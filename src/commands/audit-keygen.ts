import { defineCommand, jsonOption } from '../cli/command.js';
import { UsageError } from '../errors.js';

export default defineCommand({
  name: 'audit keygen',
  summary: 'create the Ed25519 key pair that signs audit checkpoints and exports',
  options: [{ flags: '--out <dir>', description: 'folder for hoop-audit.key (private, mode 0600) and hoop-audit.pub (public, PEM)' }, jsonOption],
  examples: ['hoop audit keygen --out /etc/hoop/audit'],
  async run(ctx, _args, options) {
    if (typeof options.out !== 'string') throw new UsageError('--out DIR is required', 'hoop audit keygen --out /etc/hoop/audit');
    const { writeKeyFiles } = await import('../audit/keys.js');
    const written = writeKeyFiles(options.out);
    if (options.json) return ctx.out(JSON.stringify({ privateKey: written.privatePath, publicKey: written.publicPath, fingerprint: written.fingerprint }));
    ctx.out(written.fingerprint);
    ctx.status(`wrote ${written.privatePath} (private, mode 0600) and ${written.publicPath} (public)`);
    ctx.status(`the line above is the key's fingerprint (sha256 of the raw public key): give it and ${written.publicPath} to your auditors`);
    ctx.status(`in hoop.yaml: audit: { signingKey: \${file:${written.privatePath}} }`);
  },
});
