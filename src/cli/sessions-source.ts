import type { SessionSummary, StoredEvent } from '../store/store.js';
import type { AuditEvent } from '../audit/events.js';
import { loadConfig } from '../config/load.js';
import { apiGet } from './api.js';
import { resolveGatewayAuth } from './settings.js';
import { NotFoundError } from '../errors.js';

/**
 * Sessions come from the gateway's API (what a user or auditor normally has), or straight from
 * the store with --config (an operator on the gateway host, gateway running or not).
 */
export async function listSessions(options: Record<string, unknown>): Promise<SessionSummary[]> {
  const limit = options.limit === undefined ? 100 : Number(options.limit);
  if (typeof options.config === 'string') {
    const { openStore } = await import('../store/open.js');
    const store = openStore(loadConfig(options.config, { resolveSecrets: false }).config.store);
    try {
      return await store.listSessions({ limit, ...(options.connection ? { connection: String(options.connection) } : {}) });
    } finally {
      await store.close();
    }
  }
  const q = new URLSearchParams({ limit: String(limit) });
  if (options.all) q.set('all', 'true');
  if (options.connection) q.set('connection', String(options.connection));
  return (await apiGet<{ sessions: SessionSummary[] }>(await resolveGatewayAuth(options), `/v1/sessions?${q}`)).sessions;
}

export async function getSession(options: Record<string, unknown>, id: string): Promise<{ session: SessionSummary; events: (AuditEvent & { seq: number })[] }> {
  if (typeof options.config === 'string') {
    const { openStore } = await import('../store/open.js');
    const store = openStore(loadConfig(options.config, { resolveSecrets: false }).config.store);
    try {
      const session = await store.getSession(id);
      if (!session) throw new NotFoundError(`no session ${id}`);
      const events: StoredEvent[] = await store.sessionEvents(id);
      return { session, events: events.map((e) => ({ seq: e.seq, ...e.event })) };
    } finally {
      await store.close();
    }
  }
  return apiGet(await resolveGatewayAuth(options), `/v1/sessions/${encodeURIComponent(id)}`);
}
