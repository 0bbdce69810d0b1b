import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import * as fc from 'fast-check';
import { assembleScanKernel, ensureScanKernel } from '../../src/codec/pir-scan/build-kernel.js';
import { jsScanKernel } from '../../src/codec/pir-scan/js-kernel.js';
import { ParallelScanKernel } from '../../src/codec/pir-scan/parallel.js';
import { ScanError, type PirDatabase, type ScanErrorCode, type ScanKernel } from '../../src/codec/pir-scan/types.js';
import { loadScanModule, loadWasmScanKernel, SCAN_KERNEL_PATH, WasmScanKernel, WasmShardedDatabase } from '../../src/codec/pir-scan/wasm-kernel.js';
import { getCrypto, seededRandom } from '../../src/crypto/index.js';
import { referenceScan } from './support.js';

const crypto = getCrypto('sodium');

function isScanError(code: ScanErrorCode): (error: unknown) => boolean {
  return (error: unknown) => error instanceof ScanError && error.code === code;
}

describe('scan kernels', () => {
  let wasm: WasmScanKernel;
  before(async () => {
    await ensureScanKernel();
    wasm = loadWasmScanKernel();
  });

  test('the built scan.wasm is what scan.wat assembles to', async () => {
    assert.deepEqual(new Uint8Array(readFileSync(SCAN_KERNEL_PATH)), await assembleScanKernel());
  });

  test('property: WASM (in place and copied) and JS equal the reference scan for every shape', () => {
    const shape = fc.record({
      rows: fc.integer({ min: 1, max: 160 }),
      rowBytes: fc.integer({ min: 1, max: 300 }),
      shardBytes: fc.integer({ min: 1, max: 6000 }),
      offset: fc.integer({ min: 0, max: 7 }),
      density: fc.integer({ min: 0, max: 4 }),
      seed: fc.nat(),
    });
    fc.assert(fc.property(shape, ({ rows, rowBytes, shardBytes, offset, density, seed }) => {
      const random = seededRandom(crypto, seed);
      const flatBytes = random(rows * rowBytes + offset);
      const flat: PirDatabase = { rows, rowBytes, data: flatBytes.subarray(offset) }; // offset: unaligned rows
      const sharded = new WasmShardedDatabase(rows, rowBytes, { shardBytes });
      sharded.load(flat.data);
      // density 0: none selected, 4: all selected, else random bits.
      const selection = density === 0 ? new Uint8Array(Math.ceil(rows / 8)) : density === 4 ? new Uint8Array(Math.ceil(rows / 8)).fill(0xff) : random(Math.ceil(rows / 8) + density);
      const expected = referenceScan(flat, selection);
      const plainShards = { rows, rowBytes, shards: sharded.shards.map(({ firstRow, rows: count, data }) => ({ firstRow, rows: count, data })) };
      for (const kernel of [wasm, jsScanKernel] as ScanKernel[]) {
        assert.deepEqual(kernel.scan(flat, selection), expected, `${kernel.name} flat`);
        assert.deepEqual(kernel.scan(sharded, selection), expected, `${kernel.name} sharded`);
        assert.deepEqual(kernel.scan(plainShards, selection), expected, `${kernel.name} plain shards`);
      }
    }), { seed: 424242, numRuns: 250 });
  });

  test('WASM fold is the XOR of all 16-byte words (the benchmark floor)', () => {
    const random = seededRandom(crypto, 8);
    const database = new WasmShardedDatabase(37, 208, { shardBytes: 1 << 20 });
    database.load(random(37 * 208));
    const expected = new Uint8Array(16);
    const data = database.shards[0].data;
    for (let i = 0; i < data.length; i++) expected[i & 15] ^= data[i];
    assert.deepEqual(wasm.fold(database.shards[0]), expected);
  });

  test('databases larger than one scratch chunk are copied through in pieces', () => {
    const random = seededRandom(crypto, 9);
    const rows = 1300;
    const rowBytes = 4096; // 5.1 MiB: more than the 4 MiB scratch memory
    const flat: PirDatabase = { rows, rowBytes, data: random(rows * rowBytes) };
    const selection = random(Math.ceil(rows / 8));
    assert.deepEqual(wasm.scan(flat, selection), jsScanKernel.scan(flat, selection));
  });

  test('malformed databases and selections raise ScanError', () => {
    const data = new Uint8Array(100);
    const selection = new Uint8Array(2);
    for (const kernel of [wasm, jsScanKernel] as ScanKernel[]) {
      for (const bad of [
        { rows: 0, rowBytes: 10, data },
        { rows: 10, rowBytes: 0, data },
        { rows: 10, rowBytes: 11, data },
        { rows: 1.5, rowBytes: 10, data },
        { rows: 10, rowBytes: 10, data: [] as unknown as Uint8Array },
        { rows: 10, rowBytes: 10, shards: [] },
        { rows: 10, rowBytes: 10, shards: [{ firstRow: 0, rows: 5, data: data.subarray(0, 50) }] },
        { rows: 10, rowBytes: 10, shards: [{ firstRow: 0, rows: 5, data: data.subarray(0, 50) }, { firstRow: 6, rows: 4, data: data.subarray(0, 40) }] },
        { rows: 10, rowBytes: 10, shards: [{ firstRow: 0, rows: 10, data: data.subarray(0, 90) }] },
      ]) {
        assert.throws(() => kernel.scan(bad as PirDatabase, selection), isScanError('invalid-database'), `${kernel.name} ${JSON.stringify(bad)}`);
      }
      assert.throws(() => kernel.scan({ rows: 10, rowBytes: 10, data }, new Uint8Array(1)), isScanError('invalid-selection'));
    }
    assert.throws(() => new WasmShardedDatabase(10, 10, { shardBytes: 2 ** 31 }), isScanError('invalid-database'));
  });

  test('a missing kernel binary raises ScanError(kernel-unavailable)', () => {
    assert.throws(() => loadScanModule('/nonexistent/scan.wasm'), isScanError('kernel-unavailable'));
  });
});

describe('parallel scan (worker threads)', () => {
  const random = seededRandom(crypto, 10);
  const rows = 2000;
  const rowBytes = 300;
  let database: WasmShardedDatabase;
  let kernel: ParallelScanKernel;
  before(async () => {
    await ensureScanKernel();
    database = new WasmShardedDatabase(rows, rowBytes, { shardBytes: 7000 }); // 86 shards of 23 rows
    database.load(random(rows * rowBytes));
    kernel = new ParallelScanKernel(database, { threads: 3 });
  });
  after(async () => {
    await kernel.close();
  });

  test('matches the reference scan, scan after scan', () => {
    assert.equal(kernel.threads, 3);
    for (let i = 0; i < 40; i++) {
      const selection = random(Math.ceil(rows / 8));
      assert.deepEqual(kernel.scan(database, selection), referenceScan(database, selection));
    }
  });

  test('refuses a database it was not created for, and scans nothing once closed', async () => {
    const other = new WasmShardedDatabase(rows, rowBytes, { shardBytes: 7000 });
    assert.throws(() => kernel.scan(other, new Uint8Array(250)), isScanError('foreign-database'));
    const single = new ParallelScanKernel(other, { threads: 1 });
    assert.deepEqual(single.scan(other, new Uint8Array(250).fill(0xff)), new Uint8Array(rowBytes));
    await single.close();
    assert.throws(() => single.scan(other, new Uint8Array(250)), isScanError('worker-failed'));
  });
});
