import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import * as fc from 'fast-check';
import { getCrypto, seededRandom } from '../../src/crypto/index.js';
import { BloomReplayFilter } from '../../src/mixing/bloom-replay.js';
import { delayMs, exponential } from '../../src/mixing/exponential.js';
import { MixSchedule } from '../../src/mixing/schedule.js';

const crypto = getCrypto('sodium');

test('exponential samples have the requested mean and shape', () => {
  const random = seededRandom(crypto, 1);
  const n = 40_000;
  const mean = 50;
  const samples = Array.from({ length: n }, () => exponential(random, mean));
  const average = samples.reduce((a, b) => a + b, 0) / n;
  assert.ok(Math.abs(average - mean) < 0.03 * mean, `mean ${average}`);
  // P(X ≤ mean) = 1 − 1/e for an exponential distribution.
  const below = samples.filter((x) => x <= mean).length / n;
  assert.ok(Math.abs(below - (1 - Math.exp(-1))) < 0.01, `P(X ≤ mean) ${below}`);
  assert.ok(samples.every((x) => x >= 0 && Number.isFinite(x)));
  assert.equal(exponential(random, 0), 0);
  assert.throws(() => exponential(random, -1), RangeError);
});

test('per-hop delays are whole milliseconds, capped at the maximum', () => {
  const random = seededRandom(crypto, 2);
  for (let i = 0; i < 5000; i++) {
    const d = delayMs(random, 100, 250);
    assert.ok(Number.isInteger(d) && d >= 0 && d <= 250);
  }
});

test('the schedule releases every packet at its time, in time order, never early', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(10_000), fc.nat(5_000)), { maxLength: 200 }), (arrivals) => {
    const schedule = new MixSchedule<number>(1000, 3_000);
    const sorted = [...arrivals].sort((a, b) => a[0] - b[0]);
    const releaseAt = new Map<number, number>();
    sorted.forEach(([at, delay], id) => {
      assert.ok(schedule.hold(at, delay, id));
      releaseAt.set(id, at + Math.min(delay, 3_000));
    });
    let last = -Infinity;
    const released: number[] = [];
    for (let now = 0; now <= 20_000; now += 250) {
      for (const id of schedule.due(now)) {
        const due = releaseAt.get(id) as number;
        assert.ok(due <= now, 'never released early');
        assert.ok(due > now - 250, 'released on the first check after it is due');
        assert.ok(due >= last, 'in order of release time');
        last = due;
        released.push(id);
      }
    }
    assert.equal(released.length, arrivals.length);
    assert.equal(schedule.size, 0);
  }), { seed: 3, numRuns: 200 });
});

test('a full schedule refuses and counts new packets, keeping the ones it holds', () => {
  const schedule = new MixSchedule<string>(2, 1000);
  assert.ok(schedule.hold(0, 10, 'a'));
  assert.ok(schedule.hold(0, 5, 'b'));
  assert.equal(schedule.hold(0, 1, 'c'), false);
  assert.equal(schedule.dropped, 1);
  assert.deepEqual(schedule.due(100), ['b', 'a']);
  assert.equal(schedule.nextRelease(), undefined);
});

test('the Bloom replay filter never forgets a tag and keeps to its false-positive budget', () => {
  const random = seededRandom(crypto, 4);
  const filter = new BloomReplayFilter(20, 6); // 2^20 bits = 128 KiB
  const tags = Array.from({ length: 50_000 }, () => random(32));
  for (const tag of tags) filter.testAndSet(tag);
  assert.ok(tags.every((tag) => filter.testAndSet(tag)), 'every recorded tag is a replay');
  let falsePositives = 0;
  const trials = 50_000;
  for (let i = 0; i < trials; i++) if (filter.testAndSet(random(32))) falsePositives++;
  // 50k then up to 100k tags in 2^20 bits with 6 probes: under 1 %.
  assert.ok(falsePositives / trials < 0.01, `false positives ${falsePositives / trials}`);
  assert.equal(filter.bytes, 2 ** 17);
});
