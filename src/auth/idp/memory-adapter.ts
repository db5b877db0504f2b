import type { Adapter, AdapterPayload } from 'oidc-provider';

interface Entry {
  readonly payload: AdapterPayload;
  /** Epoch ms after which the entry is gone; Infinity when oidc-provider gave no lifetime. */
  readonly keepUntil: number;
}

/**
 * Per-provider in-memory storage for oidc-provider's models.
 *
 * Why not oidc-provider's own MemoryAdapter: its default storage is one module-level LRU shared by
 * every Provider in the process (tests start several), and it drops an entry the moment it expires,
 * so a client polling an expired device code is told `invalid_grant` ("device code not found")
 * instead of RFC 8628's `expired_token`. oidc-provider checks `exp` itself on every lookup, so
 * keeping entries for `graceSeconds` after expiry changes no answer except that one.
 *
 * Expired entries are swept lazily on writes; no timers, so nothing keeps the process alive.
 */
export function createMemoryAdapterFactory(graceSeconds: number): (modelName: string) => Adapter {
  const entries = new Map<string, Entry>();
  const grants = new Map<string, Set<string>>();
  let lastSweep = Date.now();

  const live = (key: string): Entry | undefined => {
    const entry = entries.get(key);
    if (entry && entry.keepUntil < Date.now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };

  const sweep = (): void => {
    const now = Date.now();
    if (now - lastSweep < 60_000) return;
    lastSweep = now;
    for (const [key, entry] of entries) if (entry.keepUntil < now) entries.delete(key);
    for (const [grantId, members] of grants) {
      for (const key of members) if (!entries.has(key)) members.delete(key);
      if (members.size === 0) grants.delete(grantId);
    }
  };

  const keepUntil = (expiresIn: number | undefined): number =>
    typeof expiresIn === 'number' ? Date.now() + (expiresIn + graceSeconds) * 1000 : Infinity;

  return (modelName: string): Adapter => {
    const keyFor = (id: string): string => `${modelName}:${id}`;
    const findKey = (indexKey: string): AdapterPayload | undefined => {
      const id = live(indexKey)?.payload['id'];
      return typeof id === 'string' ? live(keyFor(id))?.payload : undefined;
    };

    return {
      async upsert(id, payload, expiresIn) {
        sweep();
        const key = keyFor(id);
        const until = keepUntil(expiresIn);
        entries.set(key, { payload, keepUntil: until });
        // Secondary indexes hold the id in a payload of their own so one lookup path serves all.
        if (payload.userCode) entries.set(`userCode:${payload.userCode}`, { payload: { id }, keepUntil: until });
        if (modelName === 'Session' && payload.uid) entries.set(`sessionUid:${payload.uid}`, { payload: { id }, keepUntil: until });
        if (payload.grantId) {
          const members = grants.get(payload.grantId) ?? new Set<string>();
          members.add(key);
          grants.set(payload.grantId, members);
        }
      },
      async find(id) {
        return live(keyFor(id))?.payload;
      },
      async findByUserCode(userCode) {
        return findKey(`userCode:${userCode}`);
      },
      async findByUid(uid) {
        return findKey(`sessionUid:${uid}`);
      },
      async consume(id) {
        const payload = live(keyFor(id))?.payload;
        if (payload) payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id) {
        entries.delete(keyFor(id));
      },
      async revokeByGrantId(grantId) {
        for (const key of grants.get(grantId) ?? []) entries.delete(key);
        grants.delete(grantId);
      },
    };
  };
}
