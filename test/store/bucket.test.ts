import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sodiumCrypto } from '../../src/crypto/index.js';
import {
  BUCKET_HASH_LABEL,
  DUPLICATE_DIGEST_LABEL,
  MAX_BUCKETS,
  bucketHash,
  bucketOf,
  duplicateDigest,
} from '../../src/store/mailbox.js';

const counting = (start: number): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => (start + i) & 0xff);

/** The documented formula, computed independently through libsodium. */
function referenceHash(address: Uint8Array, epoch: number): number {
  const input = new Uint8Array(BUCKET_HASH_LABEL.length + 8 + 32);
  input.set(BUCKET_HASH_LABEL, 0);
  new DataView(input.buffer).setBigUint64(BUCKET_HASH_LABEL.length, BigInt(epoch), false);
  input.set(address, BUCKET_HASH_LABEL.length + 8);
  return Buffer.from(sodiumCrypto.blake2b(32, input)).readUInt32BE(0);
}

test('the labels are the documented ASCII strings', () => {
  assert.equal(new TextDecoder().decode(BUCKET_HASH_LABEL), 'umbra/mailbox-bucket/v1');
  assert.equal(new TextDecoder().decode(DUPLICATE_DIGEST_LABEL), 'umbra/mailbox-duplicate/v1');
});

test('bucketHash follows the documented formula (cross-checked with libsodium)', () => {
  for (const epoch of [0, 1, 7, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
    for (const start of [0, 1, 200]) {
      const address = counting(start);
      assert.equal(bucketHash(address, epoch), referenceHash(address, epoch));
    }
  }
});

test('bucketOf is stable: fixed vectors that a client and every server must reproduce', () => {
  // If these change, deployed clients would look in the wrong bucket: never change them, add a v2 label.
  assert.deepEqual([bucketHash(counting(0), 0), bucketHash(counting(0), 1), bucketHash(counting(1), 0)],
    [0xbf9c784f, 0xb356974f, 0xe8943c6c]);
  assert.deepEqual(VECTORS.map(({ start, epoch, buckets }) => bucketOf(counting(start), epoch, buckets)),
    VECTORS.map(({ bucket }) => bucket));
});

/** Computed once from the formula; pinned so that any change to the mapping fails loudly. */
const VECTORS = [
  { start: 0, epoch: 0, buckets: 1, bucket: 0 },
  { start: 0, epoch: 0, buckets: 16, bucket: 15 },
  { start: 0, epoch: 1, buckets: 16, bucket: 15 },
  { start: 1, epoch: 0, buckets: 16, bucket: 12 },
  { start: 0, epoch: 123456, buckets: 1000, bucket: 969 },
  { start: 200, epoch: 2 ** 40, buckets: MAX_BUCKETS, bucket: 800800 },
];

test('bucketOf is hash mod buckets, in range, deterministic and spread out', () => {
  const counts = new Array<number>(16).fill(0);
  for (let i = 0; i < 1600; i++) {
    const address = sodiumCrypto.blake2b(32, Uint8Array.of(i & 0xff, i >> 8));
    const bucket = bucketOf(address, 42, 16);
    assert.equal(bucket, bucketHash(address, 42) % 16);
    assert.equal(bucketOf(address.slice(), 42, 16), bucket);
    assert.ok(bucket >= 0 && bucket < 16);
    assert.equal(bucketOf(address, 42, 1), 0);
    counts[bucket]++;
  }
  for (const count of counts) assert.ok(count > 50 && count < 150, `bucket sizes ${counts.join(', ')}`);
});

test('the epoch is part of the hash: the same address moves between buckets across epochs', () => {
  const address = counting(9);
  const buckets = new Set(Array.from({ length: 64 }, (_, epoch) => bucketOf(address, epoch, 64)));
  assert.ok(buckets.size > 20, `only ${buckets.size} distinct buckets over 64 epochs`);
});

test('bucketOf rejects malformed arguments with RangeError', () => {
  assert.throws(() => bucketOf(new Uint8Array(31), 0, 4), RangeError);
  assert.throws(() => bucketOf(counting(0), -1, 4), RangeError);
  assert.throws(() => bucketOf(counting(0), 0.5, 4), RangeError);
  assert.throws(() => bucketOf(counting(0), 0, 0), RangeError);
  assert.throws(() => bucketOf(counting(0), 0, 2.5), RangeError);
  assert.throws(() => bucketOf(counting(0), 0, MAX_BUCKETS + 1), RangeError);
});

test('duplicateDigest is BLAKE2b-256 of label, address and ciphertext', () => {
  const address = counting(3);
  const ciphertext = Uint8Array.of(1, 2, 3);
  const input = Buffer.concat([DUPLICATE_DIGEST_LABEL, address, ciphertext]);
  assert.deepEqual(duplicateDigest(address, ciphertext), sodiumCrypto.blake2b(32, input));
  assert.notDeepEqual(duplicateDigest(address, ciphertext), duplicateDigest(counting(4), ciphertext));
});
