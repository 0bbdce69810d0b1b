import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import { POOL, type PoolMessage, type PoolWorkerData } from './scan-worker-protocol.js';
import { instantiateScan, runShardBatch, type ScanExports, type ShardLayout } from './wasm-kernel.js';

/**
 * A ScanThreadPool worker (scan-pool.ts): lives as long as the pool. Databases are added and dropped
 * by messages on its port, read synchronously whenever it wakes; the kernel is instantiated once per
 * shard when a database is added. At each new generation it claims shards of the current pass
 * (scan-worker-protocol.ts, POOL), scans them in place and counts them done, until stop is set.
 */
const { module, control, port } = workerData as PoolWorkerData;
const databases = new Map<number, { readonly shards: readonly ShardLayout[]; readonly kernels: readonly ScanExports[] }>();

function readPort(): void {
  for (let received = receiveMessageOnPort(port); received !== undefined; received = receiveMessageOnPort(port)) {
    const message = received.message as PoolMessage;
    if (message.type === 'add') databases.set(message.id, { shards: message.shards, kernels: message.shards.map((shard) => instantiateScan(module, shard.memory)) });
    else databases.delete(message.id);
  }
}

/** Takes and scans shards of the current pass until none is left. */
function takeShards(): void {
  for (;;) {
    const claim = Atomics.add(control, POOL.claim, 1);
    const pass = claim >>> 16;
    const k = claim & 0xffff;
    const id = Atomics.load(control, POOL.database);
    const batch = Atomics.load(control, POOL.batch);
    const count = Atomics.load(control, POOL.count);
    if (Atomics.load(control, POOL.pass) !== pass) continue; // a newer pass began: this claim was past the end of its own
    if (k >= count) return;
    let database = databases.get(id);
    if (database === undefined) {
      readPort(); // added after this worker last woke
      database = databases.get(id);
      if (database === undefined) throw new Error(`scan pool: database ${id} was never added`);
    }
    runShardBatch(database.kernels[k], database.shards[k], batch);
    Atomics.add(control, POOL.done, 1);
    Atomics.notify(control, POOL.done);
  }
}

try {
  let generation = Atomics.load(control, POOL.generation);
  Atomics.add(control, POOL.ready, 1);
  Atomics.notify(control, POOL.ready);
  for (;;) {
    Atomics.wait(control, POOL.generation, generation);
    generation = Atomics.load(control, POOL.generation);
    if (Atomics.load(control, POOL.stop) !== 0) break;
    readPort();
    takeShards();
  }
} catch (error) {
  Atomics.store(control, POOL.error, 1);
  Atomics.notify(control, POOL.ready);
  Atomics.notify(control, POOL.done);
  throw error;
} finally {
  port.close();
}
