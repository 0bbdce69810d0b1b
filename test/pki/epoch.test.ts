import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import * as fc from 'fast-check';
import { BEFORE_GENESIS, epochAt, epochEnd, epochStart, PkiError } from '../../src/pki/index.js';

const timing = { genesisMs: 1_700_000_000_000, epochMs: 2000 };

test('epochAt, epochStart and epochEnd agree at and around the boundaries', () => {
  assert.equal(epochAt(timing.genesisMs, timing), 0);
  assert.equal(epochAt(timing.genesisMs + 1999, timing), 0);
  assert.equal(epochAt(timing.genesisMs + 2000, timing), 1);
  assert.equal(epochAt(timing.genesisMs + 2000.5, timing), 1);
  assert.equal(epochStart(0, timing), timing.genesisMs);
  assert.equal(epochEnd(0, timing), timing.genesisMs + 2000);
  assert.equal(epochEnd(7, timing), epochStart(8, timing));
});

test('every time lies in [epochStart, epochEnd) of its epoch', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e12 }), fc.integer({ min: 1, max: 7 * 24 * 3600 * 1000 }), fc.integer({ min: 0, max: 1e12 }), (genesisMs, epochMs, offset) => {
      const t = { genesisMs, epochMs };
      const now = genesisMs + offset;
      const epoch = epochAt(now, t);
      assert.ok(epochStart(epoch, t) <= now && now < epochEnd(epoch, t));
    }),
    { seed: 7, numRuns: 500 },
  );
});

test('every time before genesis is BEFORE_GENESIS (-1), whose next epoch is 0', () => {
  assert.equal(BEFORE_GENESIS, -1);
  assert.equal(epochAt(timing.genesisMs - 1, timing), BEFORE_GENESIS);
  assert.equal(epochAt(timing.genesisMs - timing.epochMs, timing), BEFORE_GENESIS);
  assert.equal(epochAt(timing.genesisMs - 10 * timing.epochMs - 1, timing), BEFORE_GENESIS);
  assert.equal(epochAt(0, timing), BEFORE_GENESIS);
  assert.equal(epochAt(-1e15, timing), BEFORE_GENESIS);
  assert.equal(epochStart(BEFORE_GENESIS + 1, timing), timing.genesisMs);
});

test('a time that is not finite, a bad timing or a bad epoch is invalid', () => {
  const invalid = (run: () => unknown) => assert.throws(run, (e: unknown) => e instanceof PkiError && e.code === 'invalid');
  invalid(() => epochAt(Number.NEGATIVE_INFINITY, timing));
  invalid(() => epochAt(Number.NaN, timing));
  invalid(() => epochAt(0, { genesisMs: 0, epochMs: 0 }));
  invalid(() => epochAt(0, { genesisMs: -1, epochMs: 10 }));
  invalid(() => epochAt(0, { genesisMs: 0, epochMs: 1.5 }));
  invalid(() => epochStart(-1, timing));
  invalid(() => epochStart(0.5, timing));
  invalid(() => epochStart(Number.MAX_SAFE_INTEGER, timing));
});
