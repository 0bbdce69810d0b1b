/**
 * The rotating replay filter under a flood of fresh tags. Checked against the filter before
 * rotation (one BloomReplayFilter per key, of the same memory): under the same flood it refused
 * over 90 % of fresh tags as replays, where the rotating filter stays under its sizing target.
 */
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { getCrypto, seededRandom } from '../../src/crypto/index.js';
import { BloomReplayFilter } from '../../src/mixing/bloom-replay.js';
import { expectedTagsPerKey, generationCapacity, REPLAY_FALSE_POSITIVE_TARGET, REPLAY_PROBES, replayFilterSizing } from '../../src/mixing/replay-sizing.js';
import { RotatingReplayFilter } from '../../src/mixing/rotating-replay.js';

const crypto = getCrypto('sodium');

/** The false-positive rate the sizing formula promises for a lookup over two full generations. */
function lookupRate(log2Bits: number, capacity: number, probes = REPLAY_PROBES): number {
  const perGeneration = (1 - Math.exp((-probes * capacity) / 2 ** log2Bits)) ** probes;
  return 1 - (1 - perGeneration) ** 2;
}

test('a generation holds the most tags that keep two full generations under 10^-6', () => {
  for (const log2Bits of [10, 16, 24, 32]) {
    const capacity = generationCapacity(log2Bits);
    assert.ok(lookupRate(log2Bits, capacity) <= REPLAY_FALSE_POSITIVE_TARGET, `2^${log2Bits}`);
    assert.ok(lookupRate(log2Bits, Math.ceil(capacity * 1.01)) > REPLAY_FALSE_POSITIVE_TARGET, `2^${log2Bits} is not wasteful`);
  }
  assert.ok(Math.abs(2 ** 24 / generationCapacity(24) - 44.9) < 0.1, 'about 45 bits per tag');
});

test('the sizing follows the expected traffic, within the configured bounds', () => {
  const traffic = { clientSendRate: 1, loopRate: 0.2, dropRate: 0.2, gatewayClientRate: 10 };
  const expected = expectedTagsPerKey({ traffic, clients: 1000, layerWidth: 2, keyLifetimeMs: 25 * 60_000 });
  assert.equal(expected, 1000 * 1.4 * 1500 / 2);
  const sizing = replayFilterSizing(expected, 26);
  assert.ok(sizing.capacity >= expected);
  assert.ok(generationCapacity(sizing.log2Bits - 1) < expected, 'the smallest power of two that fits');
  assert.equal(replayFilterSizing(expected, 16).log2Bits, 16, 'capped');
  assert.equal(replayFilterSizing(0, 24).log2Bits, 10);
  assert.throws(() => replayFilterSizing(1, 33), RangeError);
});

test('a flood of fresh tags rotates the generations: fresh tags pass, recent replays are still caught', () => {
  const random = seededRandom(crypto, 7);
  const log2Bits = 14;
  // A looser target than 10^-6 so that the rate can be measured on 100 000 lookups.
  const target = 1e-3;
  const capacity = generationCapacity(log2Bits, REPLAY_PROBES, target);
  let rotations = 0;
  const rotating = new RotatingReplayFilter(() => ({ log2Bits, probes: REPLAY_PROBES, capacity }), () => rotations++);
  const single = new BloomReplayFilter(log2Bits + 1, 6); // the same memory as two generations
  const flood = 50 * capacity;
  for (let i = 0; i < flood; i++) {
    const tag = random(32);
    rotating.testAndSet(tag);
    single.testAndSet(tag);
  }
  assert.equal(rotations, rotating.rotations);
  assert.ok(rotations >= 49, `${rotations} rotations`);
  assert.ok(rotating.bytes <= 2 * 2 ** (log2Bits - 3));

  const lookups = 100_000;
  let rotatingFalse = 0;
  let singleFalse = 0;
  for (let i = 0; i < lookups; i++) {
    const tag = random(32);
    if (single.has(tag)) singleFalse++;
    if (rotating.testAndSet(tag)) rotatingFalse++;
  }
  assert.ok(singleFalse / lookups > 0.9, `one filter: ${singleFalse} of ${lookups} fresh tags refused`);
  assert.ok(rotatingFalse / lookups < 2 * target, `rotating: ${rotatingFalse} of ${lookups} fresh tags refused`);

  // A replay within the last two generations is caught.
  const tag = random(32);
  assert.equal(rotating.testAndSet(tag), false);
  for (let i = 0; i < capacity / 2; i++) rotating.testAndSet(random(32));
  assert.equal(rotating.testAndSet(tag), true);
});

test('probes are the tag’s little-endian words, masked, wherever the tag lies in its buffer', () => {
  const filter = new BloomReplayFilter(10);
  const words = (low: number, high: number): Uint8Array => {
    const tag = new Uint8Array(32).fill(0xee);
    for (let i = 0; i < 6; i++) tag.set([low, high, 0, 0], 4 * i);
    return tag;
  };
  const holder = new Uint8Array(40);
  holder.set(words(1, 0), 3);
  assert.equal(filter.testAndSet(holder.subarray(3, 35)), false);
  assert.equal(filter.has(words(1, 0)), true);
  // 0x0401 & (2^10 − 1) = 1: the same positions; bytes past the probes do not count.
  const same = words(1, 4);
  same.fill(0, 24);
  assert.equal(filter.testAndSet(same), true);
  // Big-endian reading would take 0x01000000 & 1023 = 0 for words(1, 0): position 0 is still free.
  assert.equal(filter.has(words(0, 0)), false);
  assert.equal(filter.size, 1);
});
