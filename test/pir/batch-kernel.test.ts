import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as fc from 'fast-check';
import { ensureScanKernel } from '../../src/codec/pir-scan/build-kernel.js';
import { jsScanKernel } from '../../src/codec/pir-scan/js-kernel.js';
import { ParallelScanKernel } from '../../src/codec/pir-scan/parallel.js';
import { MAX_BATCH, ScanError, scanMany, type PirDatabase, type ScanKernel } from '../../src/codec/pir-scan/types.js';
import { loadWasmScanKernel, WasmScanKernel, WasmShardedDatabase } from '../../src/codec/pir-scan/wasm-kernel.js';
import { getCrypto, seededRandom } from '../../src/crypto/index.js';
import { dpfEvalAll, pirAnswer, pirAnswers, pirDecode, pirQuery } from '../../src/pir/index.js';
import { referenceScan } from './support.js';

/** The batched scan (docs/pir.md, "Batched answers"): result q is byte for byte the single scan of selection q. */
const crypto = getCrypto('sodium');

function selectionsOf(random: (n: number) => Uint8Array, rows: number, count: number, density: number): Uint8Array[] {
  return Array.from({ length: count }, (_, q) => {
    const bytes = Math.ceil(rows / 8) + (q % 3);
    if (density === 0) return new Uint8Array(bytes);
    if (density === 4) return new Uint8Array(bytes).fill(0xff);
    return random(bytes);
  });
}

describe('batched scan', () => {
  let wasm: WasmScanKernel;
  before(async () => {
    await ensureScanKernel();
    wasm = loadWasmScanKernel();
  });

  test('property: WASM (in place and copied) and JS batches equal the single scans for every shape', () => {
    const shape = fc.record({
      rows: fc.integer({ min: 1, max: 140 }),
      rowBytes: fc.integer({ min: 1, max: 200 }),
      shardBytes: fc.integer({ min: 1, max: 5000 }),
      batch: fc.integer({ min: 1, max: MAX_BATCH }),
      offset: fc.integer({ min: 0, max: 7 }),
      density: fc.integer({ min: 0, max: 4 }),
      seed: fc.nat(),
    });
    fc.assert(fc.property(shape, ({ rows, rowBytes, shardBytes, batch, offset, density, seed }) => {
      const random = seededRandom(crypto, seed);
      const flat: PirDatabase = { rows, rowBytes, data: random(rows * rowBytes + offset).subarray(offset) };
      const sharded = new WasmShardedDatabase(rows, rowBytes, { shardBytes });
      sharded.load(flat.data);
      const selections = selectionsOf(random, rows, batch, density);
      const expected = selections.map((selection) => referenceScan(flat, selection));
      for (const kernel of [wasm, jsScanKernel] as ScanKernel[]) {
        assert.deepEqual(kernel.scanBatch!(sharded, selections), expected, `${kernel.name} sharded`);
        assert.deepEqual(kernel.scanBatch!(flat, selections), expected, `${kernel.name} flat`);
      }
    }), { seed: 515151, numRuns: 150 });
  });

  test('scanMany splits long lists into passes and equals one scan each', () => {
    const random = seededRandom(crypto, 3);
    const database = new WasmShardedDatabase(77, 64, { shardBytes: 1024 });
    database.load(random(77 * 64));
    const selections = selectionsOf(random, 77, MAX_BATCH * 2 + 5, 1);
    const expected = selections.map((selection) => wasm.scan(database, selection));
    assert.deepEqual(scanMany(wasm, database, selections), expected);
    assert.deepEqual(scanMany({ name: 'single', scan: (db, s) => wasm.scan(db, s) }, database, selections), expected);
  });

  test('property: pirAnswers equals pirAnswer key by key, and decodes to the rows asked for', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 20 }), fc.nat(), (rows, batch, seed) => {
      const random = seededRandom(crypto, seed);
      const database = new WasmShardedDatabase(rows, 48, { shardBytes: 1000 });
      database.load(random(rows * 48));
      const indices = Array.from({ length: batch }, (_, q) => (seed + q * 7919) % rows);
      const queries = indices.map((index) => pirQuery(crypto, random, index, rows));
      const answers0 = pirAnswers(crypto, queries.map((query) => query.keys[0]), database, wasm);
      const answers1 = pirAnswers(crypto, queries.map((query) => query.keys[1]), database, jsScanKernel);
      queries.forEach((query, q) => {
        assert.deepEqual(answers0[q], pirAnswer(crypto, query.keys[0], database, wasm));
        assert.deepEqual(pirDecode(answers0[q], answers1[q]), database.row(indices[q]));
      });
    }), { seed: 616161, numRuns: 40 });
  });

  test('an empty or oversized batch raises ScanError(invalid-selection)', () => {
    const database = new WasmShardedDatabase(10, 16);
    for (const kernel of [wasm, jsScanKernel] as ScanKernel[]) {
      assert.throws(() => kernel.scanBatch!(database, []), (error) => error instanceof ScanError && error.code === 'invalid-selection');
      assert.throws(() => kernel.scanBatch!(database, selectionsOf(seededRandom(crypto, 1), 10, MAX_BATCH + 1, 1)), ScanError);
      assert.throws(() => kernel.scanBatch!(database, [new Uint8Array(1)]), ScanError);
    }
  });
});

describe('batched parallel scan (worker threads)', () => {
  let database: WasmShardedDatabase;
  let parallel: ParallelScanKernel;
  const random = seededRandom(crypto, 99);
  before(async () => {
    await ensureScanKernel();
    database = new WasmShardedDatabase(1003, 100, { shardBytes: 9000 });
    database.load(random(1003 * 100));
    parallel = new ParallelScanKernel(database, { threads: 3 });
  });
  after(async () => {
    await parallel.close();
  });

  test('property: every batch equals the single scans, with single scans in between', () => {
    const flat: PirDatabase = { rows: 1003, rowBytes: 100, data: new Uint8Array(1003 * 100) };
    for (let r = 0; r < 1003; r++) flat.data.set(database.row(r), r * 100);
    fc.assert(fc.property(fc.integer({ min: 1, max: MAX_BATCH }), fc.integer({ min: 0, max: 4 }), fc.nat(), (batch, density, seed) => {
      const selections = selectionsOf(seededRandom(crypto, seed), 1003, batch, density);
      assert.deepEqual(parallel.scanBatch(database, selections), selections.map((selection) => referenceScan(flat, selection)));
      assert.deepEqual(parallel.scan(database, selections[0]), referenceScan(flat, selections[0]));
    }), { seed: 717171, numRuns: 30 });
  });

  test('DPF selections through the parallel kernel decode to the rows', () => {
    const index = 777;
    const query = pirQuery(crypto, random, index, 1003);
    const [a0] = pirAnswers(crypto, [query.keys[0], query.keys[0]], database, parallel);
    const a1 = parallel.scan(database, dpfEvalAll(crypto, query.keys[1], 1003));
    assert.deepEqual(pirDecode(a0, a1), database.row(index));
  });
});
