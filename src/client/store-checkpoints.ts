import type Database from 'better-sqlite3';
import { Worker } from 'node:worker_threads';

/**
 * Checkpoints of the mail store's write-ahead log off the event loop (docs/client.md, "Mail
 * store"). SQLite checkpoints on the connection that commits once the log passes 1000 pages: it
 * copies up to 4 MB into the database file and syncs it, 10–15 ms on an idle machine and more on a
 * loaded one, on the event loop that times the Poisson send slots, at whichever commit comes
 * next (a packet's SURB, a piece of a mail being sent). With checkpoints moved here the agent's
 * connection never checkpoints (wal_autocheckpoint = 0); a thread with its own connection does,
 * every second and after large writes. If that thread stops, SQLite's own checkpoints come back.
 */
export class StoreCheckpoints {
  private worker: Worker | undefined;

  private constructor(private readonly db: Database.Database, path: string) {
    const worker = new Worker(new URL('./store-checkpoint-worker.js', import.meta.url), { workerData: { path } });
    worker.unref(); // the agent's timers keep the process alive, not its checkpoints
    const stopped = () => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      if (db.open) db.pragma('wal_autocheckpoint = 1000'); // SQLite's default
    };
    worker.on('error', stopped);
    worker.on('exit', stopped);
    this.worker = worker;
    db.pragma('wal_autocheckpoint = 0');
  }

  /** Starts the thread for the store `db` opened at `path`. */
  static start(db: Database.Database, path: string): StoreCheckpoints {
    return new StoreCheckpoints(db, path);
  }

  /** Asks for a checkpoint soon (after a large write). */
  nudge(): void {
    this.worker?.postMessage('checkpoint');
  }

  /** Stops the thread (it closes its connection; the last connection to close checkpoints). */
  close(): void {
    const worker = this.worker;
    this.worker = undefined;
    if (worker === undefined) return;
    worker.postMessage('close');
    if (this.db.open) this.db.pragma('wal_autocheckpoint = 1000');
  }
}
