/**
 * A bounded LRU map on top of Map's insertion order: a hit re-inserts the key (O(1)), eviction
 * drops the oldest keys. Bounded by entry count and by a total weight (here: characters of text
 * kept alive), so a few huge statements cannot pin hundreds of megabytes.
 */
export interface LruStats {
  readonly size: number;
  readonly weight: number;
  readonly maxEntries: number;
  readonly maxWeight: number;
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
}

export class LruCache<K, V> {
  private readonly map = new Map<K, { value: V; weight: number }>();
  private totalWeight = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;

  constructor(
    private maxEntries: number,
    private maxWeight: number,
  ) {}

  get(key: K): V | undefined {
    const e = this.map.get(key);
    if (e === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.map.delete(key);
    this.map.set(key, e);
    return e.value;
  }

  /** Entries heavier than a quarter of the budget are not kept. */
  set(key: K, value: V, weight: number): void {
    const old = this.map.get(key);
    if (old) {
      this.map.delete(key);
      this.totalWeight -= old.weight;
    }
    if (this.maxEntries <= 0 || weight > this.maxWeight / 4) return;
    this.map.set(key, { value, weight });
    this.totalWeight += weight;
    this.evict();
  }

  resize(maxEntries: number, maxWeight: number): void {
    this.maxEntries = maxEntries;
    this.maxWeight = maxWeight;
    this.evict();
  }

  clear(): void {
    this.map.clear();
    this.totalWeight = 0;
    this.hits = 0;
    this.misses = 0;
    this.evictions = 0;
  }

  stats(): LruStats {
    return {
      size: this.map.size,
      weight: this.totalWeight,
      maxEntries: this.maxEntries,
      maxWeight: this.maxWeight,
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
    };
  }

  private evict(): void {
    while (this.map.size > 0 && (this.map.size > this.maxEntries || this.totalWeight > this.maxWeight)) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      const e = this.map.get(oldest.value);
      this.map.delete(oldest.value);
      if (e) this.totalWeight -= e.weight;
      this.evictions++;
    }
  }
}
