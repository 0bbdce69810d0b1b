import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as fc from 'fast-check';
import { ensureScanKernel } from '../../src/codec/pir-scan/build-kernel.js';
import { ParallelScanKernel } from '../../src/codec/pir-scan/parallel.js';
import { loadWasmScanKernel, WasmShardedDatabase } from '../../src/codec/pir-scan/wasm-kernel.js';
import { getCrypto, seededRandom } from '../../src/crypto/index.js';
import { dpfKeyLength, jsScanKernel, pirAnswer, pirDecode, PirError, pirQuery, type ScanKernel } from '../../src/pir/index.js';
import { rowOf } from './support.js';

const crypto = getCrypto('sodium');

describe('two-server PIR', () => {
  const random = seededRandom(crypto, 20);
  let kernels: ScanKernel[];
  let parallel: ParallelScanKernel;
  const rows = 3001; // not a power of two
  const rowBytes = 96;
  let database: WasmShardedDatabase;
  before(async () => {
    await ensureScanKernel();
    database = new WasmShardedDatabase(rows, rowBytes, { shardBytes: 20000 });
    database.load(random(rows * rowBytes));
    parallel = new ParallelScanKernel(database, { threads: 2 });
    kernels = [jsScanKernel, loadWasmScanKernel(), parallel];
  });
  after(async () => {
    await parallel.close();
  });

  test('property: decoding the two answers gives the queried row, with every kernel', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: rows - 1 }), (index) => {
      const { keys } = pirQuery(crypto, random, index, rows);
      assert.equal(keys[0].length, dpfKeyLength(rows));
      for (const kernel of kernels) {
        const answers = keys.map((key) => pirAnswer(crypto, key, database, kernel));
        assert.equal(answers[0].length, rowBytes);
        assert.deepEqual(pirDecode(answers[0], answers[1]), rowOf(database, index), kernel.name);
      }
    }), { seed: 5, numRuns: 40 });
  });

  test('a flat database and 4 KiB rows at N = 2^16 (the mailbox geometry)', () => {
    const n = 2 ** 16;
    const flat = { rows: n, rowBytes: 64, data: random(n * 64) };
    for (const index of [0, 4097, n - 1]) {
      const { keys } = pirQuery(crypto, random, index, n);
      assert.ok(keys[0].length <= 1024 && keys[1].length <= 1024);
      const answer = pirDecode(pirAnswer(crypto, keys[0], flat, jsScanKernel), pirAnswer(crypto, keys[1], flat, jsScanKernel));
      assert.deepEqual(answer, rowOf(flat, index));
    }
  });

  test('decoding works on unaligned answers too', () => {
    const a = random(101);
    const b = random(101);
    const expected = Uint8Array.from(a.subarray(1), (byte, j) => byte ^ b[j + 1]);
    assert.deepEqual(pirDecode(a.subarray(1), b.subarray(1)), expected);
    assert.deepEqual(pirDecode(a.subarray(1, 97), b.subarray(1, 97)), expected.subarray(0, 96));
  });

  test('errors: a key for another size, a malformed database, answers of different lengths', () => {
    const { keys } = pirQuery(crypto, random, 5, 100);
    assert.throws(() => pirAnswer(crypto, keys[0], database, jsScanKernel), (e: unknown) => e instanceof PirError && e.code === 'domain-mismatch');
    const broken = { rows: 100, rowBytes: 10, data: new Uint8Array(999) };
    assert.throws(() => pirAnswer(crypto, keys[0], broken, jsScanKernel), (e: unknown) => e instanceof PirError && e.code === 'scan-failed');
    assert.throws(() => pirDecode(new Uint8Array(4), new Uint8Array(5)), (e: unknown) => e instanceof PirError && e.code === 'answer-mismatch');
  });
});
