import ssh2 from 'ssh2';
import type { GitConnectionConfig, SshConnectionConfig } from '../../config/schema.js';
import { HoopError, errorMessage } from '../../errors.js';
import { HostKeyMismatchError, fingerprint, hostKeyAlgorithms, pinnedKeys } from './host-keys.js';

export type SshBackendConfig = SshConnectionConfig | GitConnectionConfig;

/** The backend could not be reached or refused us; the message says which and what to do. */
export class SshBackendError extends HoopError {}

/**
 * Logs in to the backend with the gateway-held key. The host key must be one the connection
 * pins, checked in the handshake before any credential is sent.
 */
export function connectSshBackend(connection: SshBackendConfig): Promise<ssh2.Client> {
  const keys = pinnedKeys(connection);
  const expected = keys.map((k) => fingerprint(k.blob));
  const address = `${connection.host}:${connection.port}`;
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let mismatch: HostKeyMismatchError | null = null;
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      client.end();
      reject(err);
    };
    client.once('ready', () => {
      settled = true;
      client.removeAllListeners('error');
      // Errors after login end the session; the engine listens for 'close'.
      client.on('error', () => {});
      resolve(client);
    });
    client.once('error', (err: Error & { level?: string; code?: string }) => {
      if (mismatch) return fail(mismatch);
      if (err.level === 'client-authentication') {
        return fail(new SshBackendError('HOOP_SSH_BACKEND_AUTH', `${connection.host} refused the gateway's key for user ${connection.user}`, {
          hint: `add the public half of ${connection.name}'s privateKey to ~${connection.user}/.ssh/authorized_keys on the host`,
        }));
      }
      if (err.level === 'client-timeout') {
        return fail(new SshBackendError('HOOP_SSH_BACKEND_TIMEOUT', `${address} did not complete the SSH handshake within ${connection.connectTimeoutSeconds}s`));
      }
      const code = err.code ? ` (${err.code})` : '';
      fail(new SshBackendError('HOOP_SSH_BACKEND_UNREACHABLE', `cannot reach ${connection.name} at ${address}: ${errorMessage(err)}${code}`));
    });
    client.once('close', () => fail(new SshBackendError('HOOP_SSH_BACKEND_UNREACHABLE', `${address} closed the connection during the handshake`)));
    try {
      client.connect({
        host: connection.host,
        port: connection.port,
        username: connection.user,
        privateKey: connection.privateKey,
        ...(connection.passphrase ? { passphrase: connection.passphrase } : {}),
        readyTimeout: connection.connectTimeoutSeconds * 1000,
        keepaliveInterval: 15_000,
        algorithms: { serverHostKey: hostKeyAlgorithms(keys) as ssh2.ServerHostKeyAlgorithm[] },
        hostVerifier: (key: Buffer) => {
          if (keys.some((k) => k.blob.equals(key))) return true;
          mismatch = new HostKeyMismatchError(connection.name, address, fingerprint(key), expected);
          return false;
        },
      });
    } catch (err) {
      // ssh2 throws synchronously for an unreadable private key.
      fail(new SshBackendError('HOOP_SSH_BACKEND_KEY', `connections[${connection.name}].privateKey cannot be used: ${errorMessage(err)}`, {
        hint: 'give an unencrypted OpenSSH or PEM private key, or set passphrase:',
      }));
    }
  });
}
