import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DecodeError } from '../../src/codec/errors.js';
import { getCrypto } from '../../src/crypto/index.js';
import { seededRandom } from '../../src/crypto/seeded-random.js';
import { consensusWeights, type NodeDescriptor } from '../../src/pki/index.js';
import {
  chooseGuard,
  decodeGuard,
  encodeGuard,
  GUARD_ABSENCE_GRACE_MS,
  GUARD_MAX_LIFETIME_MS,
  GUARD_MIN_LIFETIME_MS,
  guardGateway,
  newGuard,
  sameGuard,
  stepGuard,
  type GatewayScores,
  type Guard,
} from '../../src/traffic/guard.js';

/**
 * The guard's choice and rotation rule: drawn by bandwidth × score among the gateways at or above
 * the reliability floor (all when none is), kept for its lifetime while in the consensus and not
 * below the floor (unless every gateway is), then chosen anew.
 */
const crypto = getCrypto();
const T = 1_800_000_000_000;

const gateway = (n: number, bandwidth = 1000) => ({ nodeId: new Uint8Array(32).fill(n), name: `gw${n}`, bandwidth }) as unknown as NodeDescriptor;
const gateways = [gateway(1), gateway(2), gateway(3)];

/** Scores as a consensus document gives them (consensusWeights), with `floor`. */
function scoresOf(nodes: readonly NodeDescriptor[], scores: readonly number[], floor: number): GatewayScores {
  return consensusWeights({ nodes, scores, measured: nodes.map(() => 0), reliability: { mixLoopRate: 0, floor } });
}

const allGood = scoresOf(gateways, [1000, 1000, 1000], 800);

/** The gateway a client enters through with `guard` stored, and whether the record stays as it was. */
function step(guard: Guard, nodes: readonly NodeDescriptor[], scores: GatewayScores, now: number): { name: string; unchanged: boolean } {
  const next = stepGuard(guard, nodes, scores, now, seededRandom(crypto, 1));
  return { name: next.gateway.name, unchanged: sameGuard(next.guard, guard) };
}

test('a guard is kept until its lifetime ends; missing from the consensus, it is stood in for', () => {
  const guard = newGuard(gateway(2).nodeId, T, 0.5);
  assert.equal(guard.expiresMs - guard.chosenMs, (GUARD_MIN_LIFETIME_MS + GUARD_MAX_LIFETIME_MS) / 2);
  assert.deepEqual(step(guard, gateways, allGood, T), { name: 'gw2', unchanged: true });
  assert.deepEqual(step(guard, gateways, allGood, guard.expiresMs - 1), { name: 'gw2', unchanged: true });
  assert.equal(step(guard, gateways, allGood, guard.expiresMs).unchanged, false, 'expired');
  const missing = stepGuard(guard, [gateway(1), gateway(3)], allGood, T + 1000, seededRandom(crypto, 1));
  assert.notEqual(missing.gateway.name, 'gw2', 'gone from the consensus: another gateway stands in');
  assert.deepEqual(missing.guard.nodeId, guard.nodeId);
  assert.equal(step(guard, gateways, allGood, T - 1).unchanged, false, 'a guard from the future (a clock set back) is not trusted');
});

test('a guard below the floor is replaced while another gateway is above it; a lower score above the floor keeps it', () => {
  const guard = newGuard(gateway(2).nodeId, T, 0.5);
  const below = step(guard, gateways, scoresOf(gateways, [1000, 799, 1000], 800), T);
  assert.equal(below.unchanged, false, 'below the floor');
  assert.notEqual(below.name, 'gw2');
  assert.deepEqual(step(guard, gateways, scoresOf(gateways, [1000, 800, 1000], 800), T), { name: 'gw2', unchanged: true }, 'at the floor');
  assert.deepEqual(step(guard, gateways, scoresOf(gateways, [1000, 810, 1000], 800), T), { name: 'gw2', unchanged: true }, 'far below the others, still above the floor');
  assert.deepEqual(step(guard, gateways, scoresOf(gateways, [100, 500, 700], 800), T), { name: 'gw2', unchanged: true }, 'every gateway below the floor: no move');
});

const gatewaysArb = fc
  .array(fc.record({ bandwidth: fc.integer({ min: 1, max: 1_000_000 }), score: fc.integer({ min: 0, max: 1000 }) }), { minLength: 1, maxLength: 8 })
  .map((list) => ({ nodes: list.map((g, i) => gateway(i + 1, g.bandwidth)), scores: list.map((g) => g.score) }));

test('a new guard is never below the floor when a gateway at or above it exists; else it is one of all', () => {
  fc.assert(
    fc.property(gatewaysArb, fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 2 ** 31 }), ({ nodes, scores }, floor, seed) => {
      const weights = scoresOf(nodes, scores, floor);
      const random = seededRandom(crypto, seed);
      const anyAbove = scores.some((score) => score >= floor);
      for (let i = 0; i < 4; i++) {
        const { guard, gateway: chosen } = chooseGuard(nodes, weights, T, random);
        assert.ok(nodes.includes(chosen));
        assert.deepEqual(guard.nodeId, chosen.nodeId);
        if (anyAbove) assert.ok(!weights.belowFloor(chosen), `score ${scores[nodes.indexOf(chosen)]} < floor ${floor}`);
        assert.ok(guard.expiresMs >= T + GUARD_MIN_LIFETIME_MS && guard.expiresMs < T + GUARD_MAX_LIFETIME_MS);
      }
    }),
    { seed: 20261206, numRuns: 400 },
  );
});

test('the client enters through its guard exactly when it is in the consensus, in its lifetime, and not below the floor (or all are)', () => {
  fc.assert(
    fc.property(
      gatewaysArb,
      fc.integer({ min: 0, max: 1000 }),
      fc.nat(7),
      fc.boolean(),
      fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
      ({ nodes, scores }, floor, index, present, age) => {
        const weights = scoresOf(nodes, scores, floor);
        const own = nodes[index % nodes.length];
        const guard = newGuard(own.nodeId, T, 0.5);
        const now = T + Math.floor(age * (guard.expiresMs - T));
        const inConsensus = present ? nodes : nodes.filter((node) => node !== own);
        const below = weights.belowFloor(own);
        fc.pre(inConsensus.length > 0); // a consensus always lists a gateway (its topology is refused otherwise)
        const next = stepGuard(guard, inConsensus, weights, now, seededRandom(crypto, index));
        const expected = present && (!below || inConsensus.every((node) => weights.belowFloor(node)));
        assert.equal(next.gateway === own, expected);
        if (expected) assert.ok(sameGuard(next.guard, guard), 'the kept guard\'s record is unchanged');
      },
    ),
    { seed: 20261207, numRuns: 400 },
  );
});

test('new guards follow bandwidth × score among the gateways above the floor (chi-square, seeded)', () => {
  // Weights 1000×1000, 2000×900, 3000×1000, 4000×850; the fifth is heavy but below the floor.
  const nodes = [gateway(1, 1000), gateway(2, 2000), gateway(3, 3000), gateway(4, 4000), gateway(5, 50_000)];
  const scores = [1000, 900, 1000, 850, 799];
  const weights = scoresOf(nodes, scores, 800);
  const expectedWeights = [1000 * 1000, 2000 * 900, 3000 * 1000, 4000 * 850];
  const random = seededRandom(crypto, 13);
  const draws = 40_000;
  const counts = new Array<number>(nodes.length).fill(0);
  for (let i = 0; i < draws; i++) counts[nodes.indexOf(guardGateway(nodes, weights, random))]++;
  assert.equal(counts[4], 0, 'the gateway below the floor is never drawn');
  const total = expectedWeights.reduce((a, b) => a + b, 0);
  const chi = expectedWeights.reduce((sum, w, i) => sum + (counts[i] - (draws * w) / total) ** 2 / ((draws * w) / total), 0);
  // 3 degrees of freedom: P(χ² > 16.27) = 0.001.
  assert.ok(chi < 16.27, `χ² = ${chi.toFixed(2)}, counts ${counts.join(',')}`);
});

test('with every gateway below the floor, new guards still follow the weights (least unreliable likeliest)', () => {
  const nodes = [gateway(1), gateway(2)];
  const weights = scoresOf(nodes, [100, 700], 800);
  const random = seededRandom(crypto, 17);
  let second = 0;
  const draws = 8000;
  for (let i = 0; i < draws; i++) if (guardGateway(nodes, weights, random) === nodes[1]) second++;
  const p = 700 / 800;
  const sd = Math.sqrt(draws * p * (1 - p));
  assert.ok(Math.abs(second - draws * p) < 5 * sd, `${second} of ${draws}, ${draws * p} expected`);
});

test('the choice is deterministic under a seed', () => {
  const weights = scoresOf(gateways, [900, 1000, 950], 800);
  const a = chooseGuard(gateways, weights, T, seededRandom(crypto, 5));
  const b = chooseGuard(gateways, weights, T, seededRandom(crypto, 5));
  assert.deepEqual(a.guard, b.guard);
});

test('lifetimes spread over [30, 60) days; the encoding round-trips; bad input is a typed error', () => {
  assert.equal(newGuard(gateway(1).nodeId, T, 0).expiresMs, T + GUARD_MIN_LIFETIME_MS);
  assert.ok(newGuard(gateway(1).nodeId, T, 0.999999).expiresMs < T + GUARD_MAX_LIFETIME_MS);
  assert.throws(() => newGuard(gateway(1).nodeId, T, 1), RangeError);
  assert.throws(() => newGuard(new Uint8Array(31), T, 0), RangeError);
  const guard = newGuard(gateway(3).nodeId, T, 0.25);
  assert.deepEqual(decodeGuard(encodeGuard(guard)), guard);
  const bytes = encodeGuard(guard);
  assert.throws(() => decodeGuard(bytes.subarray(1)), DecodeError);
  assert.throws(() => decodeGuard(Uint8Array.of(3, ...bytes.subarray(1))), DecodeError);
  const v1 = Uint8Array.of(1, ...bytes.subarray(1, 1 + 32 + 16));
  assert.deepEqual(decodeGuard(v1), guard, 'a record of version 1 (no absence) still decodes');
  const missing = { ...guard, absence: { sinceMs: T + 5, standInId: gateway(1).nodeId } };
  assert.deepEqual(decodeGuard(encodeGuard(missing)), missing);
  const strayStandIn = encodeGuard(guard);
  strayStandIn[strayStandIn.length - 1] = 7;
  assert.throws(() => decodeGuard(strayStandIn), DecodeError, 'a stand-in without an absence');
});

test('a guard missing from the consensus: a stand-in carries the traffic, the guard comes back when listed, the stand-in becomes the guard only after the grace', () => {
  const random = seededRandom(crypto, 11);
  const guard = newGuard(gateway(2).nodeId, T, 0.5);
  const without = [gateway(1), gateway(3)];
  const scores = scoresOf(gateways, [1000, 1000, 1000], 800);
  const first = stepGuard(guard, without, scores, T + 1000, random);
  assert.notEqual(first.gateway.name, 'gw2');
  assert.deepEqual(first.guard.nodeId, guard.nodeId, 'the guard is kept');
  assert.equal(first.guard.absence?.sinceMs, T + 1000);
  assert.deepEqual(first.guard.absence?.standInId, first.gateway.nodeId);
  // Later consensuses without it: the same stand-in, the same start of the absence.
  for (const later of [T + 60_000, T + GUARD_ABSENCE_GRACE_MS]) {
    const next = stepGuard(first.guard, without, scores, later, random);
    assert.equal(next.gateway.name, first.gateway.name);
    assert.ok(sameGuard(next.guard, first.guard));
  }
  // Listed again: back to the guard, the absence over.
  const back = stepGuard(first.guard, gateways, scores, T + 120_000, random);
  assert.equal(back.gateway.name, 'gw2');
  assert.deepEqual(back.guard, guard);
  // A stand-in that leaves too is drawn again; the absence keeps its start.
  const standInGone = stepGuard(first.guard, [gateway(4), gateway(5)], scoresOf([gateway(4), gateway(5)], [1000, 1000], 800), T + 3000, random);
  assert.ok(['gw4', 'gw5'].includes(standInGone.gateway.name));
  assert.equal(standInGone.guard.absence?.sinceMs, T + 1000);
  // Missing for the whole grace: the stand-in becomes the guard, with a lifetime of its own.
  const after = stepGuard(first.guard, without, scores, T + 1000 + GUARD_ABSENCE_GRACE_MS, random);
  assert.equal(after.gateway.name, first.gateway.name);
  assert.deepEqual(after.guard.nodeId, first.gateway.nodeId);
  assert.equal(after.guard.absence, undefined);
  assert.equal(after.guard.chosenMs, T + 1000 + GUARD_ABSENCE_GRACE_MS);
});

test('property: stepGuard keeps a listed usable guard, never enters through a gateway outside the consensus, and never replaces the guard before the grace ends', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 6 }), fc.nat(2 * GUARD_ABSENCE_GRACE_MS), fc.boolean(), fc.nat(1000), (ids, guardId, elapsedMs, wasMissing, seed) => {
      const listed = [...new Set(ids)].map((n) => gateway(n));
      const scores = scoresOf(listed, listed.map(() => 1000), 800);
      const base = newGuard(gateway(guardId).nodeId, T, 0.5);
      const stored = wasMissing ? { ...base, absence: { sinceMs: T, standInId: gateway(((guardId + 1) % 6) + 1).nodeId } } : base;
      const now = T + elapsedMs;
      const { guard, gateway: entry } = stepGuard(stored, listed, scores, now, seededRandom(crypto, seed));
      assert.ok(listed.some((g) => g.name === entry.name), 'enters through a listed gateway');
      const guardListed = listed.some((g) => g.name === `gw${guardId}`);
      if (now >= base.expiresMs) return;
      if (guardListed) assert.equal(entry.name, `gw${guardId}`);
      else if (now - (stored.absence?.sinceMs ?? now) < GUARD_ABSENCE_GRACE_MS) assert.deepEqual(guard.nodeId, base.nodeId, 'kept through the grace');
      else assert.deepEqual(guard.nodeId, entry.nodeId, 'the stand-in became the guard');
    }),
    { seed: 20261206, numRuns: 300 },
  );
});
