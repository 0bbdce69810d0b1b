import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import {
  GF_EXP,
  GF_LOG,
  GF_MUL,
  gfDiv,
  gfInv,
  gfInvertMatrix,
  gfMul,
  gfPow,
} from '../../src/codec/galois.js';
import { ReedSolomon, ReedSolomonError } from '../../src/codec/reed-solomon.js';

/** Carry-less multiplication reduced by 0x11d, bit by bit: the definition the tables must match. */
function slowMul(a: number, b: number): number {
  let product = 0;
  for (let i = 0; i < 8; i++) if (b & (1 << i)) product ^= a << i;
  for (let bit = 15; bit >= 8; bit--) if (product & (1 << bit)) product ^= 0x11d << (bit - 8);
  return product;
}

const element = fc.integer({ min: 0, max: 255 });
const nonZero = fc.integer({ min: 1, max: 255 });
const RUNS = { seed: 20240601, numRuns: 300 };

describe('GF(2^8)', () => {
  test('the multiplication table is carry-less multiplication modulo 0x11d', () => {
    for (let a = 0; a < 256; a++) {
      for (let b = 0; b < 256; b++) assert.equal(GF_MUL[(a << 8) | b], slowMul(a, b));
    }
  });

  test('2 generates the multiplicative group; exp and log are inverse', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 255; i++) seen.add(GF_EXP[i]);
    assert.equal(seen.size, 255);
    assert.ok(!seen.has(0));
    for (let a = 1; a < 256; a++) assert.equal(GF_EXP[GF_LOG[a]], a);
    assert.equal(gfPow(2, 255), 1);
    assert.equal(gfPow(0, 0), 1);
  });

  test('field identities', () => {
    fc.assert(
      fc.property(element, element, element, (a, b, c) => {
        assert.equal(gfMul(a, b), gfMul(b, a));
        assert.equal(gfMul(a, gfMul(b, c)), gfMul(gfMul(a, b), c));
        assert.equal(gfMul(a, b ^ c), gfMul(a, b) ^ gfMul(a, c));
        assert.equal(gfMul(a, 1), a);
        assert.equal(gfMul(a, 0), 0);
        assert.equal(a ^ a, 0);
      }),
      RUNS,
    );
    fc.assert(
      fc.property(element, nonZero, (a, b) => {
        assert.equal(gfMul(b, gfInv(b)), 1);
        assert.equal(gfMul(gfDiv(a, b), b), a);
        assert.equal(gfPow(b, 3), gfMul(b, gfMul(b, b)));
      }),
      RUNS,
    );
    assert.throws(() => gfInv(0), RangeError);
    assert.throws(() => gfDiv(1, 0), RangeError);
  });

  test('matrix inversion: M · M⁻¹ = I, and singular matrices are reported', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }).chain((n) => fc.tuple(fc.constant(n), fc.uint8Array({ minLength: n * n, maxLength: n * n }))), ([n, m]) => {
        const inverse = gfInvertMatrix(m, n);
        if (inverse === undefined) return;
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) {
            let sum = 0;
            for (let t = 0; t < n; t++) sum ^= gfMul(m[i * n + t], inverse[t * n + j]);
            assert.equal(sum, i === j ? 1 : 0);
          }
        }
      }),
      RUNS,
    );
    assert.equal(gfInvertMatrix(Uint8Array.of(1, 2, 2, 4), 2), undefined);
  });
});

function randomShards(count: number, length: number, seed: number): Uint8Array[] {
  let state = seed >>> 0 || 1;
  return Array.from({ length: count }, () => {
    const shard = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      state ^= state << 13; state >>>= 0;
      state ^= state >>> 17;
      state ^= state << 5; state >>>= 0;
      shard[i] = state & 0xff;
    }
    return shard;
  });
}

function encoded(k: number, m: number, length: number, seed: number): { rs: ReedSolomon; shards: Uint8Array[] } {
  const rs = new ReedSolomon(k, m);
  const shards = [...randomShards(k, length, seed), ...Array.from({ length: m }, () => new Uint8Array(length))];
  rs.encode(shards);
  return { rs, shards };
}

describe('Reed–Solomon', () => {
  test('parity is the documented Cauchy matrix times the data', () => {
    for (const [k, m] of [[1, 1], [3, 2], [32, 8], [200, 56]]) {
      const { shards } = encoded(k, m, 7, k * 31 + m);
      for (let i = 0; i < m; i++) {
        for (let b = 0; b < 7; b++) {
          let sum = 0;
          for (let j = 0; j < k; j++) sum ^= slowMul(gfInv((k + i) ^ j), shards[j][b]);
          assert.equal(shards[k + i][b], sum, `k=${k} m=${m} parity ${i} byte ${b}`);
        }
      }
    }
  });

  test('any k of n shards rebuild the data (random k ≤ 64, m ≤ 32, lengths, losses)', () => {
    const scenario = fc
      .record({
        k: fc.integer({ min: 1, max: 64 }),
        m: fc.integer({ min: 1, max: 32 }),
        length: fc.integer({ min: 0, max: 300 }),
        offset: fc.integer({ min: 0, max: 3 }),
        seed: fc.integer(),
      })
      .chain((s) =>
        fc.record({
          s: fc.constant(s),
          // a random subset of exactly k shards kept
          kept: fc.shuffledSubarray([...Array(s.k + s.m).keys()], { minLength: s.k, maxLength: s.k }),
        }),
      );
    fc.assert(
      fc.property(scenario, ({ s, kept }) => {
        const { rs, shards } = encoded(s.k, s.m, s.length, s.seed);
        // shards at odd byte offsets exercise the unaligned paths
        const given = shards.map((shard, i) => {
          if (!kept.includes(i)) return undefined;
          const holder = new Uint8Array(shard.length + s.offset);
          holder.set(shard, s.offset);
          return holder.subarray(s.offset);
        });
        const before = given.map((shard) => shard?.slice());
        const data = rs.reconstruct(given);
        assert.equal(data.length, s.k);
        data.forEach((shard, i) => assert.deepEqual(shard, shards[i]));
        given.forEach((shard, i) => assert.deepEqual(shard, before[i]), 'the input is not modified');
      }),
      { seed: 7, numRuns: 400 },
    );
  });

  test('encoding into unaligned parity buffers gives the same parity', () => {
    const { shards } = encoded(10, 4, 101, 5);
    const rs = new ReedSolomon(10, 4);
    const backing = new Uint8Array(14 * 101 + 1);
    const unaligned = shards.map((shard, i) => {
      const view = backing.subarray(1 + i * 101, 1 + (i + 1) * 101);
      if (i < 10) view.set(shard);
      return view;
    });
    rs.encode(unaligned);
    unaligned.forEach((view, i) => assert.deepEqual(view, shards[i]));
  });

  test('k + m = 256 at the limit, and every single erasure pattern of a small code', () => {
    const big = encoded(200, 56, 33, 9);
    const lost = big.shards.map((shard, i) => (i < 56 ? undefined : shard));
    big.rs.reconstruct(lost).forEach((shard, i) => assert.deepEqual(shard, big.shards[i]));

    const { rs, shards } = encoded(4, 3, 16, 11);
    for (let mask = 0; mask < 1 << 7; mask++) {
      const given = shards.map((shard, i) => (mask & (1 << i) ? shard : undefined));
      const present = given.filter((shard) => shard !== undefined).length;
      if (present >= 4) rs.reconstruct(given).forEach((shard, i) => assert.deepEqual(shard, shards[i]));
      else assert.throws(() => rs.reconstruct(given), (error: unknown) => error instanceof ReedSolomonError && error.code === 'too-few-shards');
    }
  });

  test('fewer than k shards, wrong counts and sizes are typed errors', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 20 }), fc.integer(), (k, m, seed) => {
        const { rs, shards } = encoded(k, m, 9, seed);
        const given: (Uint8Array | undefined)[] = shards.slice();
        // drop m + 1 shards: one too many
        for (let i = 0; i <= m; i++) given[(seed >>> 0) % 7 === 0 ? i : k + m - 1 - i] = undefined;
        assert.throws(() => rs.reconstruct(given), (error: unknown) => error instanceof ReedSolomonError && error.code === 'too-few-shards');
      }),
      { seed: 3, numRuns: 100 },
    );
    const { rs, shards } = encoded(3, 2, 8, 1);
    const isCode = (code: string) => (error: unknown) => error instanceof ReedSolomonError && error.code === code;
    assert.throws(() => rs.reconstruct(shards.slice(0, 4)), isCode('shard-count'));
    assert.throws(() => rs.reconstruct([shards[0], new Uint8Array(7), shards[2], undefined, undefined]), isCode('shard-size'));
    assert.throws(() => rs.encode([...shards.slice(0, 4), new Uint8Array(3)]), isCode('shard-size'));
    assert.throws(() => new ReedSolomon(0, 1), RangeError);
    assert.throws(() => new ReedSolomon(200, 57), RangeError);
    assert.throws(() => new ReedSolomon(1.5, 1), RangeError);
  });

  test('repeated use across many erasure patterns stays correct (decoder cache eviction)', () => {
    const { rs, shards } = encoded(32, 8, 64, 77);
    for (let round = 0; round < 300; round++) {
      const given: (Uint8Array | undefined)[] = shards.slice();
      for (let t = 0; t < 8; t++) given[(round * 7 + t * 13) % 40] = undefined;
      rs.reconstruct(given).forEach((shard, i) => assert.deepEqual(shard, shards[i]));
    }
  });

  test('no parity: encode is a no-op and reconstruct needs every data shard', () => {
    const { rs, shards } = encoded(5, 0, 10, 2);
    assert.deepEqual(rs.reconstruct(shards), shards);
    assert.throws(() => rs.reconstruct([undefined, ...shards.slice(1)]), ReedSolomonError);
  });
});
