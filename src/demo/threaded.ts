import { Worker } from 'node:worker_threads';
import type { DemoDatabase } from './database.js';

/** Starts the demo database on a worker thread (see worker.ts for why). */
export function startDemoDatabaseThread(opts: { dataDir?: string } = {}): Promise<DemoDatabase> {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: opts });
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    worker.once('error', onError);
    worker.once('exit', (code) => reject(new Error(`demo database thread exited with ${code}`)));
    worker.once('message', (m: { type: string; host: string; port: number; database: string; user: string }) => {
      worker.off('error', onError);
      worker.removeAllListeners('exit');
      resolve({
        host: m.host,
        port: m.port,
        database: m.database,
        user: m.user,
        close: () =>
          new Promise<void>((done) => {
            const timer = setTimeout(() => void worker.terminate().then(() => done()), 5000);
            worker.once('exit', () => {
              clearTimeout(timer);
              done();
            });
            worker.postMessage({ type: 'close' });
          }),
      });
    });
  });
}
