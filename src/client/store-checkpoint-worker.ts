import Database from 'better-sqlite3';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';

/**
 * The mail store's checkpoint thread (store-checkpoints.ts starts it): its own connection to the
 * store copies the write-ahead log into the database file (a PASSIVE checkpoint: it never waits for
 * nor blocks the agent's writes) when asked, and every CHECKPOINT_EVERY_MS. It reads and writes no
 * row: the file's pages are sealed, and this thread holds no key.
 */
const CHECKPOINT_EVERY_MS = 1000;

const port = parentPort;
if (port === null) throw new Error('store-checkpoint-worker.ts runs as a worker thread');
const { path } = workerData as { path: string };
const db = new Database(path, { fileMustExist: true, timeout: 0 });

try {
  if (process.platform === 'linux') setPriority(10); // the event loop that times the slots comes first
} catch {
  // not allowed here: the checkpoints run at the default priority
}

function checkpoint(): void {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // busy (another checkpoint) or the store went away: the next one tries again
  }
}

const timer = setInterval(checkpoint, CHECKPOINT_EVERY_MS);
port.on('message', (message: 'checkpoint' | 'close') => {
  if (message === 'checkpoint') return checkpoint();
  clearInterval(timer);
  db.close();
  port.close();
});
