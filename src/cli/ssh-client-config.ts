import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HoopError } from '../errors.js';

/** Files `hoop connect` writes so the stock ssh, scp, sftp and git reach a connection through the tunnel. */
export interface SshClientConfig {
  readonly dir: string;
  /** `ssh -F` this file. */
  readonly configPath: string;
  readonly knownHostsPath: string;
  /** The host name to give ssh: the connection's own name, defined only in this config. */
  readonly host: string;
  /** `ssh -F …`: what GIT_SSH_COMMAND is set to. */
  readonly sshCommand: string;
  remove(): Promise<void>;
}

/** ssh_config values are split on whitespace and quotes; paths from mkdtemp have neither, but be strict. */
function configValue(path: string): string {
  if (/[\s"'\\]/.test(path)) throw new HoopError('HOOP_SSH_CONFIG', `cannot write an ssh_config for the path ${JSON.stringify(path)}`, { hint: 'set TMPDIR to a path without spaces or quotes' });
  return path;
}

/**
 * A private ssh_config and known_hosts for one `hoop connect` run. The known_hosts entry is the
 * gateway's own key under a host-key alias, so checking stays strict (`StrictHostKeyChecking yes`)
 * and never warns: the user never learns to type "yes" to an unknown key, or to turn checking off.
 */
export async function writeSshClientConfig(connection: string, hostKey: string, port: number): Promise<SshClientConfig> {
  if (!/^(ssh-ed25519|ecdsa-sha2-nistp\d+|ssh-rsa) [A-Za-z0-9+/=]+$/.test(hostKey)) {
    throw new HoopError('HOOP_GATEWAY_ERROR', 'the gateway sent no usable SSH host key for this connection', { hint: 'upgrade the gateway, or check its logs' });
  }
  const dir = await mkdtemp(join(tmpdir(), 'hoop-ssh-'));
  const knownHostsPath = join(dir, 'known_hosts');
  const configPath = join(dir, 'ssh_config');
  const alias = `hoop-gateway-${connection}`;
  await writeFile(knownHostsPath, `${alias} ${hostKey}\n`, { mode: 0o600 });
  await writeFile(
    configPath,
    [
      `# Written by hoop connect ${connection}; removed when it stops.`,
      `Host ${connection}`,
      '  HostName 127.0.0.1',
      `  Port ${port}`,
      `  HostKeyAlias ${alias}`,
      `  UserKnownHostsFile ${configValue(knownHostsPath)}`,
      '  GlobalKnownHostsFile /dev/null',
      '  StrictHostKeyChecking yes',
      '  UpdateHostKeys no',
      // The tunnel carries the identity: no key or agent of the user's is offered to anyone.
      '  IdentitiesOnly yes',
      '  IdentityFile none',
      '  IdentityAgent none',
      '  ForwardAgent no',
      '  ControlMaster no',
      '  ControlPath none',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return {
    dir,
    configPath,
    knownHostsPath,
    host: connection,
    sshCommand: `ssh -F ${configValue(configPath)}`,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** For `hoop connect NAME -- ssh …`: the stock tools get `-F config` so NAME resolves through the tunnel. */
export function withSshConfig(program: string, args: readonly string[], config: SshClientConfig): string[] {
  const base = program.split('/').pop();
  if (base === 'ssh' || base === 'scp' || base === 'sftp') return ['-F', config.configPath, ...args];
  return [...args];
}
