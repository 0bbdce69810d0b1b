import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import { backends, getCrypto, seededRandom } from '../../src/crypto/index.js';
import {
  decodeDpfKey,
  dpfDepth,
  dpfEval,
  dpfEvalAll,
  dpfGen,
  dpfKeyLength,
  MAX_DOMAIN,
  MAX_KEY_BYTES,
  MIN_KEY_BYTES,
  PirError,
  type PirErrorCode,
} from '../../src/pir/index.js';
import { bitAt, xorBytes } from './support.js';

const crypto = getCrypto('sodium');
const RUNS = { seed: 20250601, numRuns: 150 };

function isPirError(code: PirErrorCode): (error: unknown) => boolean {
  return (error: unknown) => error instanceof PirError && error.code === code;
}

/** Asserts that the XOR of the two shares is exactly the unit bitmap at `index` (bits >= N zero). */
function assertPoint(share0: Uint8Array, share1: Uint8Array, index: number, domain: number): void {
  assert.equal(share0.length, Math.ceil(domain / 8));
  assert.equal(share1.length, Math.ceil(domain / 8));
  const sum = xorBytes(share0, share1);
  const expected = new Uint8Array(sum.length);
  expected[index >> 3] = 1 << (index & 7);
  assert.deepEqual(sum, expected, `N=${domain} index=${index}`);
  if (domain % 8 !== 0) {
    const high = 0xff & ~((1 << (domain % 8)) - 1);
    assert.equal(share0[share0.length - 1] & high, 0, 'bits at and past N are zero');
    assert.equal(share1[share1.length - 1] & high, 0, 'bits at and past N are zero');
  }
}

describe('DPF correctness', () => {
  test('property: for every N (powers of two or not) and index, the shares XOR to the point', () => {
    const random = seededRandom(crypto, 1);
    const domainAndIndex = fc.integer({ min: 1, max: 5000 }).chain((domain) =>
      fc.tuple(fc.constant(domain), fc.integer({ min: 0, max: domain - 1 })));
    fc.assert(fc.property(domainAndIndex, ([domain, index]) => {
      const [key0, key1] = dpfGen(crypto, random, index, domain);
      assert.equal(key0.length, dpfKeyLength(domain));
      assertPoint(dpfEvalAll(crypto, key0, domain), dpfEvalAll(crypto, key1, domain), index, domain);
    }), RUNS);
  });

  test('larger and edge domains: 1, 127..129, 2^16 - 1, 2^16, 2^16 + 3, 2^17 + 1', () => {
    const random = seededRandom(crypto, 2);
    for (const domain of [1, 2, 127, 128, 129, 511, 512, 513, 1023, 1024, 1025, 2 ** 16 - 1, 2 ** 16, 2 ** 16 + 3, 2 ** 17 + 1]) {
      for (const index of new Set([0, 1 % domain, domain - 1, Math.floor(domain / 2), Math.floor(domain * 0.7)])) {
        const [key0, key1] = dpfGen(crypto, random, index, domain);
        assertPoint(dpfEvalAll(crypto, key0, domain), dpfEvalAll(crypto, key1, domain), index, domain);
      }
    }
  });

  test('single-point evaluation agrees with full-domain evaluation', () => {
    const random = seededRandom(crypto, 3);
    fc.assert(fc.property(fc.integer({ min: 1, max: 40000 }), fc.nat(), fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), (domain, rawIndex, points) => {
      const index = rawIndex % domain;
      const keys = dpfGen(crypto, random, index, domain);
      for (const key of keys) {
        const all = dpfEvalAll(crypto, key, domain);
        for (const raw of [...points, index]) {
          const x = raw % domain;
          assert.equal(dpfEval(crypto, key, domain, x), bitAt(all, x));
        }
      }
    }), { seed: 7, numRuns: 60 });
  });

  test('both crypto backends make identical keys from the same randomness and evaluate them alike', () => {
    const keys = Object.values(backends).map((backend) => dpfGen(backend, seededRandom(backend, 4), 40321, 70000));
    assert.deepEqual(keys[0], keys[1]);
    const shares = Object.values(backends).map((backend) => dpfEvalAll(backend, keys[0][0], 70000));
    assert.deepEqual(shares[0], shares[1]);
  });

  test('key sizes: 86 + 17 ceil(log2(ceil(N / 512))) bytes; 205 bytes at N = 2^16', () => {
    assert.equal(dpfKeyLength(1), 86);
    assert.equal(dpfKeyLength(512), 86);
    assert.equal(dpfKeyLength(513), 103);
    assert.equal(dpfDepth(2 ** 16), 7);
    assert.equal(dpfKeyLength(2 ** 16), 205);
    assert.equal(dpfKeyLength(2 ** 20), 273);
    assert.equal(dpfKeyLength(MAX_DOMAIN), MAX_KEY_BYTES);
    assert.equal(MAX_KEY_BYTES, 86 + 17 * 23);
    assert.equal(MIN_KEY_BYTES, 86);
  });

  test('the key format: version, party, big-endian domain, root seed, shared corrections', () => {
    const random = seededRandom(crypto, 5);
    const [key0, key1] = dpfGen(crypto, random, 1000, 0x012345);
    for (const [party, key] of [key0, key1].entries()) {
      assert.equal(key[0], 2);
      assert.equal(key[1], party);
      assert.deepEqual([...key.subarray(2, 6)], [0x00, 0x01, 0x23, 0x45]);
      const decoded = decodeDpfKey(key);
      assert.equal(decoded.party, party);
      assert.equal(decoded.domain, 0x012345);
      assert.equal(decoded.depth, dpfDepth(0x012345));
    }
    // Everything after the root seeds is the same correction material in both keys.
    assert.deepEqual(key0.subarray(22), key1.subarray(22));
    assert.notDeepEqual(key0.subarray(6, 22), key1.subarray(6, 22));
  });
});

describe('DPF input checks', () => {
  const random = seededRandom(crypto, 6);
  const [key] = dpfGen(crypto, random, 3, 1000);

  test('malformed keys raise PirError(malformed-key)', () => {
    const malformed = isPirError('malformed-key');
    const with_ = (at: number, value: number) => { const copy = key.slice(); copy[at] = value; return copy; };
    const cases: Uint8Array[] = [
      new Uint8Array(0),
      key.subarray(0, 5),
      key.subarray(0, key.length - 1),
      Uint8Array.from([...key, 0]),
      new Uint8Array(MAX_KEY_BYTES + 1),
      new Uint8Array(1 << 20),
      with_(0, 1), // version 1: 128-bit leaves, no longer read
      with_(0, 3), // unknown version
      with_(1, 2), // party 2
      with_(22 + 16, 4), // a control byte with an unused bit
      with_(22 + 16, 0x80),
      Uint8Array.from([2, 0, 0, 0, 0, 0, ...new Uint8Array(80)]), // domain 0
      Uint8Array.from([2, 0, 0xff, 0xff, 0xff, 0xff, ...new Uint8Array(80)]), // 2^32 - 1 needs 477 bytes
    ];
    for (const bad of cases) {
      assert.throws(() => decodeDpfKey(bad), malformed);
      assert.throws(() => dpfEvalAll(crypto, bad, 1000), (error: unknown) => error instanceof PirError);
    }
    assert.throws(() => decodeDpfKey('not a key' as unknown as Uint8Array), malformed);
  });

  test('fuzz: arbitrary bytes decode or raise PirError, never anything else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (bytes, header) => {
      const input = header && bytes.length >= 6 ? Uint8Array.from([2, bytes[0] & 1, 0, 0, 3, 0xe8, ...bytes.subarray(6)]) : bytes;
      try {
        decodeDpfKey(input);
      } catch (error) {
        assert.ok(error instanceof PirError, String(error));
      }
    }), { seed: 11, numRuns: 500 });
  });

  test('a key for another domain size raises PirError(domain-mismatch)', () => {
    assert.throws(() => dpfEvalAll(crypto, key, 1001), isPirError('domain-mismatch'));
    assert.throws(() => dpfEval(crypto, key, 999, 0), isPirError('domain-mismatch'));
  });

  test('bad domain sizes, indices and randomness raise typed errors', () => {
    for (const domain of [0, -1, 1.5, NaN, 2 ** 32, Infinity]) {
      assert.throws(() => dpfGen(crypto, random, 0, domain), isPirError('invalid-domain'));
      assert.throws(() => dpfEvalAll(crypto, key, domain), isPirError('invalid-domain'));
    }
    for (const index of [-1, 1000, 2.5, NaN]) assert.throws(() => dpfGen(crypto, random, index, 1000), isPirError('invalid-index'));
    assert.throws(() => dpfEval(crypto, key, 1000, 1000), isPirError('invalid-index'));
    assert.throws(() => dpfGen(crypto, (n) => new Uint8Array(n - 1), 0, 1000), isPirError('invalid-random'));
  });
});
