import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

/**
 * Moves the store's WAL into the database file on its own thread. Left to SQLite, the commit that
 * crosses the WAL threshold does it, with an fsync, on the gateway's event loop: a stall of tens
 * to hundreds of milliseconds for every session at once. A PASSIVE checkpoint never blocks the
 * writer; it copies what no reader still needs.
 */
const { path, intervalMs } = workerData as { path: string; intervalMs: number };
const db = new Database(path);
db.pragma('busy_timeout = 5000');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or failing this time; the next round tries again, and the gateway's own fallback covers a dead thread.
  }
}, intervalMs);
parentPort!.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort!.close();
});
