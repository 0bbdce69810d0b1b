import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { getCrypto, seededRandom, type RandomSource } from '../../src/crypto/index.js';
import { dpfGen } from '../../src/pir/index.js';

/**
 * One key alone reveals nothing about the index (docs/pir.md, "Security"): for two indices, the
 * distributions of server 0's key bytes must be indistinguishable. Three checks over thousands of
 * keys per index, each also run on a planted leak to show it would notice one:
 * - per-bit two-proportion z-tests (Bonferroni: every |z| < 5);
 * - per-byte chi-square tests of homogeneity (every Wilson-Hilferty z < 5);
 * - a naive Bayes classifier over all key bits, trained on half the keys, stays at chance on the rest.
 */
const crypto = getCrypto('sodium');
const DOMAIN = 2 ** 16;
const SAMPLES = 3000;
const HEADER = 6; // version, party, domain: the same for every key of the domain by design

function keys(random: RandomSource, index: number, count = SAMPLES): Uint8Array[] {
  return Array.from({ length: count }, () => dpfGen(crypto, random, index, DOMAIN)[0]);
}

function bits(key: Uint8Array): Uint8Array {
  const out = new Uint8Array((key.length - HEADER) * 8);
  for (let i = HEADER * 8; i < key.length * 8; i++) out[i - HEADER * 8] = (key[i >> 3] >> (i & 7)) & 1;
  return out;
}

/** The largest |z| of the per-bit two-proportion tests (bits constant in both samples skipped). */
function maxBitZ(a: Uint8Array[], b: Uint8Array[]): number {
  const width = a[0].length;
  let worst = 0;
  for (let j = 0; j < width; j++) {
    let ones = 0;
    let onesB = 0;
    for (const row of a) ones += row[j];
    for (const row of b) onesB += row[j];
    const pooled = (ones + onesB) / (a.length + b.length);
    if (pooled === 0 || pooled === 1) continue;
    const z = (ones / a.length - onesB / b.length) / Math.sqrt(pooled * (1 - pooled) * (1 / a.length + 1 / b.length));
    worst = Math.max(worst, Math.abs(z));
  }
  return worst;
}

/** The largest Wilson-Hilferty z of the per-byte-position 2 x 256 chi-square homogeneity tests. */
function maxByteChiZ(a: Uint8Array[], b: Uint8Array[]): number {
  let worst = 0;
  for (let position = HEADER; position < a[0].length; position++) {
    const countA = new Float64Array(256);
    const countB = new Float64Array(256);
    for (const key of a) countA[key[position]]++;
    for (const key of b) countB[key[position]]++;
    let chi = 0;
    let cells = 0;
    const total = a.length + b.length;
    for (let v = 0; v < 256; v++) {
      const column = countA[v] + countB[v];
      if (column === 0) continue;
      cells++;
      const expectA = (column * a.length) / total;
      const expectB = (column * b.length) / total;
      chi += (countA[v] - expectA) ** 2 / expectA + (countB[v] - expectB) ** 2 / expectB;
    }
    const k = cells - 1;
    if (k < 1) continue;
    const z = (Math.cbrt(chi / k) - (1 - 2 / (9 * k))) / Math.sqrt(2 / (9 * k));
    worst = Math.max(worst, z);
  }
  return worst;
}

/** Naive Bayes over bits: trained on the first half of each sample, accuracy on the second half. */
function classifierAccuracy(a: Uint8Array[], b: Uint8Array[]): number {
  const half = Math.floor(a.length / 2);
  const width = a[0].length;
  const weight = new Float64Array(width);
  const bias = new Float64Array(width);
  for (let j = 0; j < width; j++) {
    let onesA = 1;
    let onesB = 1;
    for (let i = 0; i < half; i++) { onesA += a[i][j]; onesB += b[i][j]; }
    const pA = onesA / (half + 2);
    const pB = onesB / (half + 2);
    weight[j] = Math.log(pA / pB) - Math.log((1 - pA) / (1 - pB));
    bias[j] = Math.log((1 - pA) / (1 - pB));
  }
  const score = (row: Uint8Array) => { let s = 0; for (let j = 0; j < width; j++) s += row[j] * weight[j] + bias[j]; return s; };
  let correct = 0;
  let tested = 0;
  for (let i = half; i < a.length; i++) { if (score(a[i]) > 0) correct++; tested++; }
  for (let i = half; i < b.length; i++) { if (score(b[i]) <= 0) correct++; tested++; }
  return correct / tested;
}

describe('one key reveals nothing about the index', () => {
  const random = seededRandom(crypto, 99);
  const byIndex = new Map<number, Uint8Array[]>();
  for (const index of [0, 1, DOMAIN - 1, 23456]) byIndex.set(index, keys(random, index));
  const pairs: [number, number][] = [[0, DOMAIN - 1], [0, 1], [1, 23456]];

  test('the header is the same for every key of a domain; keys differ everywhere else', () => {
    const all = [...byIndex.values()].flat();
    for (const key of all) assert.deepEqual(key.subarray(0, HEADER), all[0].subarray(0, HEADER));
    assert.equal(new Set(all.map((key) => Buffer.from(key).toString('hex'))).size, all.length);
  });

  for (const [x, y] of pairs) {
    test(`indices ${x} and ${y}: per-bit z, per-byte chi-square and a classifier see no difference`, (t) => {
      const a = byIndex.get(x)!;
      const b = byIndex.get(y)!;
      const bitsA = a.map(bits);
      const bitsB = b.map(bits);
      assert.ok(maxBitZ(bitsA, bitsB) < 5, `per-bit max |z| = ${maxBitZ(bitsA, bitsB)}`);
      assert.ok(maxByteChiZ(a, b) < 5, `per-byte chi-square max z = ${maxByteChiZ(a, b)}`);
      const accuracy = classifierAccuracy(bitsA, bitsB);
      t.diagnostic(`${x} vs ${y}: bit z ${maxBitZ(bitsA, bitsB).toFixed(2)}, byte chi z ${maxByteChiZ(a, b).toFixed(2)}, accuracy ${accuracy.toFixed(3)}`);
      assert.ok(Math.abs(accuracy - 0.5) < 0.05, `classifier accuracy ${accuracy}`);
    });
  }

  test('control: the same statistics catch a planted leak of a few biased bits', (t) => {
    const a = byIndex.get(0)!.map(bits);
    const leaky = byIndex.get(DOMAIN - 1)!.map(bits).map((row, i) => {
      const copy = row.slice();
      // Force 32 correction bits to 1 in a third of the keys: a leak of the kind a flawed correction word would have.
      if (i % 3 === 0) for (let j = 0; j < 32; j++) copy[200 + 17 * j] = 1;
      return copy;
    });
    t.diagnostic(`planted leak: bit z ${maxBitZ(a, leaky).toFixed(2)}, accuracy ${classifierAccuracy(a, leaky).toFixed(3)}`);
    assert.ok(maxBitZ(a, leaky) > 5, `per-bit max |z| = ${maxBitZ(a, leaky)}`);
    assert.ok(classifierAccuracy(a, leaky) > 0.6, `classifier accuracy ${classifierAccuracy(a, leaky)}`);
    const leakyBytes = byIndex.get(DOMAIN - 1)!.map((key, i) => { const copy = key.slice(); if (i % 5 === 0) copy[40] = 0; return copy; });
    assert.ok(maxByteChiZ(byIndex.get(0)!, leakyBytes) > 5);
  });
});
