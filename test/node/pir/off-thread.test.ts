/**
 * The provider's PIR scan runs off the event loop (docs/pir.md, "Sharding and threads"): a
 * ParallelScanKernel with offThread, and the provider's scan-thread pool, answer batches in worker
 * threads only, and the provider's query batcher awaits them, so the event loop keeps turning while
 * the database is read. The planted-leak control runs the same pass with the main-thread kernel and
 * sees the loop stand still.
 */
import * as assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import fc from 'fast-check';
import { ensureScanKernel } from '../../../src/codec/pir-scan/build-kernel.js';
import { ParallelScanKernel } from '../../../src/codec/pir-scan/parallel.js';
import { MAX_BATCH, type ScanDatabase, type ScanKernel } from '../../../src/codec/pir-scan/types.js';
import { loadWasmScanKernel, WasmShardedDatabase, type WasmScanKernel } from '../../../src/codec/pir-scan/wasm-kernel.js';
import { getCrypto, seededRandom } from '../../../src/crypto/index.js';
import { silentLog } from '../../../src/node/log.js';
import { Metrics } from '../../../src/node/metrics.js';
import { PirQueryBatcher, type AsyncScanKernel } from '../../../src/node/provider/pir-query-batch.js';
import { SnapshotScanKernels } from '../../../src/node/provider/pir-scan-threads.js';
import { PooledScanKernel } from '../../../src/codec/pir-scan/scan-pool.js';
import { pirAnswer, pirQuery } from '../../../src/pir/index.js';
import { referenceScan } from '../../pir/support.js';

const crypto = getCrypto('sodium');

/** Counts event-loop turns (one setImmediate callback per turn) until stopped. */
function turnCounter(): { readonly turns: () => number; stop(): void } {
  let turns = 0;
  let running = true;
  const tick = (): void => {
    turns++;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  return { turns: () => turns, stop: () => { running = false; } };
}

/** Wraps a kernel so that each scan records the turns counted when it started and when it ended. */
function instrumented(kernel: ScanKernel, turns: () => number, spans: number[]): ScanKernel {
  const offThread = kernel as Partial<AsyncScanKernel>;
  const parallel = typeof offThread.scanBatchAsync === 'function' ? offThread as AsyncScanKernel : undefined;
  return {
    name: kernel.name,
    scan: (database, selection) => kernel.scan(database, selection),
    scanBatch(database, selections) {
      const start = turns();
      const outs = kernel.scanBatch === undefined ? selections.map((s) => kernel.scan(database, s)) : kernel.scanBatch(database, selections);
      spans.push(turns() - start);
      return outs;
    },
    ...(parallel === undefined ? {} : {
      async scanBatchAsync(database: ScanDatabase, selections: readonly Uint8Array[]) {
        const start = turns();
        const outs = await parallel.scanBatchAsync(database, selections);
        spans.push(turns() - start);
        return outs;
      },
    }),
  };
}

describe('PIR scan off the event loop', () => {
  let base: WasmScanKernel;
  before(async () => {
    await ensureScanKernel();
    base = loadWasmScanKernel();
  });

  test('property: off-thread batches equal the reference scan, several passes queued at once', async () => {
    const random = seededRandom(crypto, 5);
    const database = new WasmShardedDatabase(517, 72, { shardBytes: 5000 });
    database.load(random(517 * 72));
    const kernel = new ParallelScanKernel(database, { threads: 2, module: base.module, offThread: true });
    try {
      await fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 1, max: MAX_BATCH }), { minLength: 1, maxLength: 3 }), fc.nat(), async (sizes, seed) => {
        const pick = seededRandom(crypto, seed);
        const batches = sizes.map((size) => Array.from({ length: size }, () => pick(Math.ceil(517 / 8))));
        const results = await Promise.all(batches.map((selections) => kernel.scanBatchAsync(database, selections)));
        results.forEach((outs, b) => assert.deepEqual(outs, batches[b].map((selection) => referenceScan(database, selection))));
      }), { numRuns: 25, seed: Number(process.env.FC_SEED ?? 1), path: process.env.FC_PATH });
    } finally {
      await kernel.close();
    }
  });

  test('the provider batcher answers while the event loop keeps turning; the main-thread kernel (planted control) stops it', async () => {
    const random = seededRandom(crypto, 6);
    const rows = 4096;
    const database = new WasmShardedDatabase(rows, 4096, { shardBytes: 4 * 2 ** 20 }); // 16 MiB in 4 shards
    database.load(random(rows * 4096));
    const keys = Array.from({ length: 16 }, (_, q) => pirQuery(crypto, random, (q * 977) % rows, rows).keys[0]);
    const expected = keys.map((key) => pirAnswer(crypto, key, database, base));

    const run = async (kernelFor: (turns: () => number, spans: number[]) => ScanKernel): Promise<number[]> => {
      const counter = turnCounter();
      const spans: number[] = [];
      const kernel = kernelFor(counter.turns, spans);
      const batcher = new PirQueryBatcher(crypto, () => kernel, new Metrics());
      try {
        const answers = await Promise.all(keys.map((key) => batcher.answer(database, key)));
        assert.deepEqual(answers, expected);
      } finally {
        counter.stop();
      }
      return spans;
    };

    const threads = new SnapshotScanKernels(base, 2, silentLog);
    try {
      const offThread = threads.kernelFor(database);
      assert.ok(offThread instanceof PooledScanKernel, 'the provider scans a WebAssembly database on its scan-thread pool');
      const spans = await run((turns, recorded) => instrumented(offThread, turns, recorded));
      assert.ok(spans.length >= 1 && spans.every((turns) => turns >= 1), `the event loop turned during every pass (${spans.join(', ')})`);
    } finally {
      await threads.close();
    }
    // Control: the same pass on the main thread leaves no turn between its start and its end.
    const blocking = await run((turns, recorded) => instrumented(base, turns, recorded));
    assert.ok(blocking.length >= 1 && blocking.every((turns) => turns === 0), 'a main-thread scan blocks the loop');
  });
});
