import type { Duplex } from 'node:stream';
import type { ConnectionConfig } from '../../config/schema.js';
import type { EngineContext, ProtocolEngine } from '../engine.js';
import type { GatewayHostKey } from './host-keys.js';
import { SshSession } from './session.js';

/**
 * SSH (and git over SSH) through the tunnel. There is no SSH listening port: the tunnel stream
 * is the client's TCP connection, and the SSH server runs on it with the gateway's host key.
 */
export class SshEngine implements ProtocolEngine {
  private readonly sessions = new Set<SshSession>();

  constructor(
    readonly type: Extract<ConnectionConfig['type'], 'ssh' | 'git'>,
    private readonly hostKey: GatewayHostKey,
  ) {}

  async serve(client: Duplex, ctx: EngineContext): Promise<void> {
    const session = new SshSession(client, ctx, this.hostKey);
    this.sessions.add(session);
    try {
      await session.start();
    } finally {
      this.sessions.delete(session);
    }
  }

  closeAll(reason: string): void {
    for (const s of this.sessions) s.end(reason);
  }
}
