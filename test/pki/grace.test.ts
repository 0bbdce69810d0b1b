import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import * as fc from 'fast-check';
import { DEFAULT_NETWORK_PARAMETERS, gammaTailMeans, graceFor, HOP_SLACK_MS, keptGraceMs, PATH_DELAY_TAIL, pathDelayBoundMs } from '../../src/pki/index.js';
import { TESTNET_NETWORK } from '../../src/testnet/plan.js';

/** P(sum of `layers` unit exponentials > k). */
const survival = (layers: number, k: number): number => {
  let term = 1;
  let sum = 1;
  for (let i = 1; i < layers; i++) {
    term *= k / i;
    sum += term;
  }
  return Math.exp(-k) * sum;
};

test('the tail multiple is the first quarter step whose Gamma survival is under the tail', () => {
  for (const layers of [1, 2, 3, 5, 8]) {
    const k = gammaTailMeans(layers);
    assert.ok(survival(layers, k) <= PATH_DELAY_TAIL, `${layers} layers at ${k}`);
    assert.ok(survival(layers, k - 0.25) > PATH_DELAY_TAIL, `${layers} layers below ${k}`);
  }
  assert.equal(gammaTailMeans(1), 11.75); // ln(10^5) = 11.51
  assert.equal(gammaTailMeans(3), 16.75);
  assert.throws(() => gammaTailMeans(0), RangeError);
});

test('the grace of umbra up: the whole 8 s epoch for 500 ms delays; the quarter epoch for 20-minute epochs', () => {
  const recommended = DEFAULT_NETWORK_PARAMETERS.mixing;
  assert.equal(pathDelayBoundMs(recommended), 8375 + 4 * HOP_SLACK_MS);
  assert.equal(graceFor(8_000, recommended), 8_000);
  assert.equal(graceFor(20 * 60_000, recommended), 5 * 60_000);
  // The fast set's 20 ms delays: 335 ms of delays and 1 s of slack, more than a quarter of 4 s.
  assert.equal(graceFor(4_000, TESTNET_NETWORK.mixing), 1_335);
  // Never beyond three capped delays.
  assert.equal(pathDelayBoundMs({ meanDelayMs: 1_000, maxDelayMs: 100 }), 300 + 4 * HOP_SLACK_MS);
});

test('the grace lies between the quarter epoch and the epoch, and grows with the delays', () => {
  fc.assert(
    fc.property(fc.integer({ min: 100, max: 7 * 24 * 3600 * 1000 }), fc.integer({ min: 0, max: 600_000 }), fc.integer({ min: 0, max: 600_000 }), (epochMs, meanDelayMs, extra) => {
      const mixing = { meanDelayMs, maxDelayMs: meanDelayMs + extra };
      const grace = graceFor(epochMs, mixing);
      assert.ok(grace >= Math.floor(epochMs / 4) && grace <= epochMs);
      assert.ok(grace === epochMs || grace >= pathDelayBoundMs(mixing));
      assert.ok(graceFor(epochMs, { ...mixing, meanDelayMs: meanDelayMs + 1 }) >= grace);
    }),
    { seed: 20261207, numRuns: 500 },
  );
});

test('a node keeps the longer of its configured grace and the needed one, at most an epoch', () => {
  assert.equal(keptGraceMs(2_000, 8_000, undefined), 2_000, 'no document: the configured grace');
  assert.equal(keptGraceMs(2_000, 8_000, 6_025), 6_025);
  assert.equal(keptGraceMs(5_000, 8_000, 3_000), 5_000);
  assert.equal(keptGraceMs(2_000, 8_000, 9_000), 8_000);
});
