import { ConfigError } from '../errors.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './store.js';

/** Opens the store named by a config `store:` URL. */
export function openStore(url: string, opts: { readonly backgroundCheckpoints?: boolean } = {}): Store {
  if (url.startsWith('sqlite:')) return new SqliteStore(url.slice('sqlite:'.length), opts);
  throw new ConfigError(`store: ${url.split(':')[0]} stores are not available yet`, 'use store: sqlite:./hoop-data/hoop.db');
}
