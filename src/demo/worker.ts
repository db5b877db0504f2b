import { parentPort, workerData } from 'node:worker_threads';
import { startDemoDatabase } from './database.js';

/**
 * Runs the demo database on its own thread. PGlite executes SQL synchronously, so on the main
 * thread a slow statement (pg_sleep, a big sort) would freeze the gateway and every other session.
 */
const db = await startDemoDatabase((workerData ?? {}) as { dataDir?: string });
parentPort!.postMessage({ type: 'ready', host: db.host, port: db.port, database: db.database, user: db.user });
parentPort!.on('message', (m: { type: string }) => {
  if (m.type === 'close') {
    void db.close().then(() => {
      parentPort!.postMessage({ type: 'closed' });
      parentPort!.close();
    });
  }
});
