import { availableParallelism } from 'node:os';
import { ParallelScanKernel } from '../src/codec/pir-scan/parallel.js';
import type { ScanDatabase, ScanKernel } from '../src/codec/pir-scan/types.js';
import { WasmScanKernel, WasmShardedDatabase } from '../src/codec/pir-scan/wasm-kernel.js';
import { getCrypto, seededRandom } from '../src/crypto/index.js';
import { silentLog } from '../src/node/log.js';
import { Metrics } from '../src/node/metrics.js';
import { PirQueryBatcher } from '../src/node/provider/pir-query-batch.js';
import { defaultScanThreads, SnapshotScanKernels } from '../src/node/provider/pir-scan-threads.js';
import { pirQuery } from '../src/pir/index.js';
import { fillDatabase } from './pir-batch.js';
import { median, round } from './timing.js';

/**
 * `npm run bench -- pir-rebuilds`: the provider's answer latency when a new snapshot appears at
 * every refresh (docs/pir.md, "Sharding and threads"). For each of GENERATIONS snapshots of 16 MiB
 * (4096 rows of 4 KiB, one 64 MiB-limit shard, as the provider builds them) QUERIES queries arrive
 * at once and are answered by the provider's batcher; the time from their arrival to the last
 * answer is one poll. Two ways, in the same run:
 * - per_snapshot: threads started for each snapshot and stopped when it is dropped (the provider
 *   before the pool: an off-thread ParallelScanKernel of min(available parallelism, shards) workers);
 * - pool: the provider's SnapshotScanKernels, one ScanThreadPool of defaultScanThreads() workers.
 * Figures: median and worst poll in ms, the first generation excluded (module and JIT warm-up), and
 * the scan threads each way started in all.
 */
const GENERATIONS = 8;
const QUERIES = 8;
const ROWS = 4096;
const ROW_BYTES = 4096;

async function polls(kernelFor: (database: ScanDatabase) => ScanKernel, release: (database: ScanDatabase) => void): Promise<number[]> {
  const crypto = getCrypto('sodium');
  const random = seededRandom(crypto, 3);
  const batcher = new PirQueryBatcher(crypto, kernelFor, new Metrics());
  const times: number[] = [];
  let previous: WasmShardedDatabase | undefined;
  for (let generation = 0; generation < GENERATIONS; generation++) {
    const database = new WasmShardedDatabase(ROWS, ROW_BYTES);
    fillDatabase(crypto, database);
    const keys = Array.from({ length: QUERIES }, (_, q) => pirQuery(crypto, random, (q * 509 + generation) % ROWS, ROWS).keys[0]);
    const start = performance.now();
    await Promise.all(keys.map((key) => batcher.answer(database, key)));
    times.push(performance.now() - start);
    if (previous !== undefined) release(previous);
    previous = database;
  }
  if (previous !== undefined) release(previous);
  return times.slice(1);
}

function summary(times: number[]): { median_ms: number; worst_ms: number } {
  return { median_ms: round(median(times), 1), worst_ms: round(Math.max(...times), 1) };
}

export async function benchPirRebuilds(): Promise<Record<string, unknown>> {
  const base = new WasmScanKernel();
  // Before: a kernel with its own threads per snapshot, closed when the snapshot is dropped.
  const perSnapshot = new Map<ScanDatabase, ParallelScanKernel>();
  let perSnapshotThreads = 0;
  const before = await polls((database) => {
    let kernel = perSnapshot.get(database);
    if (kernel === undefined && database instanceof WasmShardedDatabase) {
      kernel = new ParallelScanKernel(database, { threads: Math.min(availableParallelism(), database.shards.length), module: base.module, offThread: true });
      perSnapshotThreads += kernel.threads;
      perSnapshot.set(database, kernel);
    }
    return kernel ?? base;
  }, (database) => {
    void perSnapshot.get(database)?.close();
    perSnapshot.delete(database);
  });
  // After: the provider's one pool.
  const kernels = new SnapshotScanKernels(base, defaultScanThreads(), silentLog);
  const after = await polls((database) => kernels.kernelFor(database), (database) => kernels.release(database));
  await kernels.close();
  return {
    generations: GENERATIONS - 1,
    queries_per_poll: QUERIES,
    snapshot_mib: (ROWS * ROW_BYTES) / 2 ** 20,
    per_snapshot: { ...summary(before), threads_started: perSnapshotThreads },
    pool: { ...summary(after), threads_started: kernels.threadsStarted, pool_threads: kernels.threads },
  };
}
