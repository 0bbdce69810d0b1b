/**
 * The provider's one scan-thread pool (docs/pir.md, "Sharding and threads"): snapshots of several
 * generations are handed to the same threads, so the threads started stay at the pool size however
 * many snapshots come and go; answers are byte-identical to the main-thread kernel and to the
 * reference scan; close() leaves no thread running.
 */
import * as assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import fc from 'fast-check';
import { ensureScanKernel } from '../../../src/codec/pir-scan/build-kernel.js';
import { PooledScanKernel, ScanThreadPool } from '../../../src/codec/pir-scan/scan-pool.js';
import { MAX_BATCH, ScanError } from '../../../src/codec/pir-scan/types.js';
import { loadWasmScanKernel, WasmShardedDatabase, type WasmScanKernel } from '../../../src/codec/pir-scan/wasm-kernel.js';
import { getCrypto, seededRandom } from '../../../src/crypto/index.js';
import { silentLog } from '../../../src/node/log.js';
import { Metrics } from '../../../src/node/metrics.js';
import { PirQueryBatcher } from '../../../src/node/provider/pir-query-batch.js';
import { defaultScanThreads, OFF_THREAD_MIN_BYTES, SnapshotScanKernels } from '../../../src/node/provider/pir-scan-threads.js';
import { pirAnswer, pirQuery } from '../../../src/pir/index.js';
import { referenceScan } from '../../pir/support.js';

const crypto = getCrypto('sodium');

describe('PIR scan-thread pool', () => {
  let base: WasmScanKernel;
  before(async () => {
    await ensureScanKernel();
    base = loadWasmScanKernel();
  });

  test('property: passes over several databases of different shard counts, interleaved, equal the reference scan', async () => {
    const random = seededRandom(crypto, 11);
    const databases = [[517, 72, 5000], [300, 40, 2000], [64, 16, 4096]].map(([rows, rowBytes, shardBytes]) => {
      const database = new WasmShardedDatabase(rows, rowBytes, { shardBytes });
      database.load(random(rows * rowBytes));
      return database;
    });
    const pool = new ScanThreadPool({ threads: 2, module: base.module });
    try {
      const kernels = databases.map((database) => pool.kernelFor(database));
      await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.nat(2), fc.integer({ min: 1, max: MAX_BATCH })), { minLength: 1, maxLength: 4 }), fc.nat(), async (passes, seed) => {
        const pick = seededRandom(crypto, seed);
        const batches = passes.map(([d, size]) => ({ d, selections: Array.from({ length: size }, () => pick(Math.ceil(databases[d].rows / 8))) }));
        const results = await Promise.all(batches.map(({ d, selections }) => kernels[d].scanBatchAsync(databases[d], selections)));
        results.forEach((outs, b) => assert.deepEqual(outs, batches[b].selections.map((selection) => referenceScan(databases[batches[b].d], selection))));
      }), { numRuns: 20, seed: Number(process.env.FC_SEED ?? 1) });
      assert.equal(pool.started, 2);
      pool.release(databases[1]);
      await assert.rejects(pool.scanBatchAsync(databases[1], [new Uint8Array(Math.ceil(300 / 8))]), ScanError, 'a released database is no longer scanned by the pool');
      assert.equal(pool.databases, 2);
    } finally {
      await pool.close();
    }
    assert.equal(pool.running, 0, 'no pool thread runs after close');
  });

  test('queries over six snapshot generations start the pool threads once; answers are byte-identical; close stops them', async () => {
    const random = seededRandom(crypto, 12);
    const rows = 2048;
    const rowBytes = 4096; // 8 MiB: OFF_THREAD_MIN_BYTES, in 4 shards
    assert.equal(rows * rowBytes, OFF_THREAD_MIN_BYTES);
    const threads = 2;
    const kernels = new SnapshotScanKernels(base, threads, silentLog);
    const batcher = new PirQueryBatcher(crypto, (database) => kernels.kernelFor(database), new Metrics());
    let previous: WasmShardedDatabase | undefined;
    const pools = new Set<ScanThreadPool>();
    try {
      for (let generation = 0; generation < 6; generation++) {
        const database = new WasmShardedDatabase(rows, rowBytes, { shardBytes: 2 * 2 ** 20 });
        database.load(random(rows * rowBytes));
        // Queries over this generation and, while it is still held, the one before (as during a refresh).
        const held = previous === undefined ? [database] : [database, previous];
        const asked = held.flatMap((snapshot) => Array.from({ length: 6 }, (_, q) => ({ snapshot, key: pirQuery(crypto, random, (q * 331 + generation) % rows, rows).keys[generation % 2] })));
        for (const snapshot of held) {
          const kernel = kernels.kernelFor(snapshot);
          assert.ok(kernel instanceof PooledScanKernel, 'a snapshot of 8 MiB is scanned on the pool');
          pools.add(kernel.pool);
        }
        assert.equal(pools.size, 1, 'every generation is handed to the same pool');
        const answers = await Promise.all(asked.map(({ snapshot, key }) => batcher.answer(snapshot, key)));
        asked.forEach(({ snapshot, key }, q) => assert.deepEqual(answers[q], pirAnswer(crypto, key, snapshot, base), `generation ${generation}, query ${q}`));
        assert.equal(kernels.threadsStarted, threads, `generation ${generation}: still the pool's ${threads} threads, not a set per snapshot`);
        assert.equal(kernels.threadsRunning, threads);
        if (previous !== undefined) kernels.release(previous);
        assert.equal(kernels.running, 1, 'only the snapshot still held is handed to the threads');
        previous = database;
      }
    } finally {
      await kernels.close();
    }
    assert.equal(kernels.threadsStarted, threads);
    assert.equal(kernels.threadsRunning, 0, 'no scan thread runs after close');
    // After close, and for a dropped snapshot, queries fall back to the event loop.
    assert.equal(kernels.kernelFor(previous!), base);
  });

  test('close waits for the passes already queued, then no thread runs', async () => {
    const random = seededRandom(crypto, 13);
    const database = new WasmShardedDatabase(256, 64, { shardBytes: 4096 });
    database.load(random(256 * 64));
    const pool = new ScanThreadPool({ threads: 2, module: base.module });
    const kernel = pool.kernelFor(database);
    const selections = Array.from({ length: 3 }, () => random(32));
    const pending = [kernel.scanBatchAsync(database, selections), kernel.scanBatchAsync(database, selections.slice(1))];
    await pool.close();
    assert.deepEqual(await pending[0], selections.map((selection) => referenceScan(database, selection)));
    assert.deepEqual(await pending[1], selections.slice(1).map((selection) => referenceScan(database, selection)));
    assert.equal(pool.running, 0);
    assert.throws(() => pool.kernelFor(database), ScanError);
  });

  test('the default pool leaves a core to the event loop: min(cores - 1, 2), at least 1; 0 threads scans on the loop', () => {
    assert.deepEqual([1, 2, 3, 4, 64].map((cores) => defaultScanThreads(cores)), [1, 1, 2, 2, 2]);
    const none = new SnapshotScanKernels(base, 0, silentLog);
    const database = new WasmShardedDatabase(2048, 4096);
    assert.equal(none.kernelFor(database), base);
    assert.equal(none.threadsStarted, 0);
  });
});
