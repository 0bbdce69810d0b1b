import { workerData } from 'node:worker_threads';
import { claimShard, claimTag, CONTROL, type WorkerData } from './scan-worker-protocol.js';
import { instantiateScan, runShard, runShardBatch } from './wasm-kernel.js';

/**
 * A scan worker thread (parallel.ts): instantiates the kernel over every shard's shared memory, then
 * waits on the generation slot; at each new generation it takes shards from the shared counter,
 * scans them in place and counts them done, until the caller sets stop.
 */
const { module, control, shards } = workerData as WorkerData;
try {
  const kernels = shards.map((shard) => instantiateScan(module, shard.memory));
  let generation = Atomics.load(control, CONTROL.generation);
  Atomics.add(control, CONTROL.ready, 1);
  Atomics.notify(control, CONTROL.ready);
  for (;;) {
    Atomics.wait(control, CONTROL.generation, generation);
    generation = Atomics.load(control, CONTROL.generation);
    if (Atomics.load(control, CONTROL.stop) !== 0) break;
    const batch = Atomics.load(control, CONTROL.batch);
    const tag = claimTag(generation);
    for (let k = claimShard(control, tag, shards.length); k !== undefined; k = claimShard(control, tag, shards.length)) {
      if (batch === 0) runShard(kernels[k], shards[k]);
      else runShardBatch(kernels[k], shards[k], batch);
      Atomics.add(control, CONTROL.done, 1);
      Atomics.notify(control, CONTROL.done);
    }
  }
} catch (error) {
  Atomics.store(control, CONTROL.error, 1);
  Atomics.notify(control, CONTROL.ready);
  Atomics.notify(control, CONTROL.done);
  throw error;
}
