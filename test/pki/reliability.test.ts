import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { hexOf } from '../../src/codec/bytes.js';
import { getCrypto } from '../../src/crypto/index.js';
import { seededRandom } from '../../src/crypto/seeded-random.js';
import { decodeLoopReport, excessLoss, makeLoopReport, MIN_PROBES, MIN_REPORTERS, PkiError, probeScore, reliabilityScores, reporterScores, type LoopReport } from '../../src/pki/index.js';
import { uniformUnit } from '../../src/pki/path-choice.js';

/** Loop reports (codec, signature) and the authorities' reliability scores (docs/network.md, "Reliability"). */
const crypto = getCrypto();
const seeds = Array.from({ length: 8 }, (_, i) => new Uint8Array(32).fill(i + 1));
const ids = seeds.map((seed) => crypto.ed25519PublicKey(seed));

test('a loop report round-trips; a changed byte, a self-entry or more lost than sent is refused', () => {
  fc.assert(
    fc.property(
      fc.nat({ max: 2 ** 40 }),
      fc.array(fc.tuple(fc.integer({ min: 1, max: 7 }), fc.nat({ max: 1000 }), fc.nat({ max: 1000 })), { maxLength: 7 }),
      (epoch, raw) => {
        const entries = new Map<number, { sent: number; lost: number }>();
        for (const [index, a, b] of raw) entries.set(index, { sent: Math.max(a, b), lost: Math.min(a, b) });
        const nodes = [...entries].map(([index, counts]) => ({ nodeId: ids[index], ...counts }));
        const total = { sent: 5000, lost: 3000 };
        const { report, bytes } = makeLoopReport(crypto, seeds[0], { epoch, serial: 7, total, nodes });
        const decoded = decodeLoopReport(crypto, bytes);
        assert.deepEqual(decoded, report);
        const flipped = bytes.slice();
        flipped[20] ^= 1;
        assert.throws(() => decodeLoopReport(crypto, flipped), PkiError);
      },
    ),
    { numRuns: 50 },
  );
  assert.throws(() => makeLoopReport(crypto, seeds[0], { epoch: 1, serial: 1, total: { sent: 10, lost: 0 }, nodes: [{ nodeId: ids[0], sent: 1, lost: 0 }] }), /itself/);
  assert.throws(() => makeLoopReport(crypto, seeds[0], { epoch: 1, serial: 1, total: { sent: 10, lost: 11 }, nodes: [] }), /more loops lost/);
  assert.throws(() => decodeLoopReport(crypto, new Uint8Array(10)), (error: unknown) => error instanceof PkiError && error.code === 'malformed');
});

/**
 * A layered network of 2 mixes per layer (ids 0..5: layer 1 = 0,1; 2 = 2,3; 3 = 4,5) where each
 * mix sends `loops` loops through one random mix of each other layer; `dropper` loses `rate` of
 * what it forwards. Returns each mix's honest report.
 */
function simulate(loops: number, dropper: number, rate: number, seed: number): LoopReport[] {
  const random = seededRandom(crypto, seed);
  const layerOf = (i: number): number => Math.floor(i / 2);
  const reports: LoopReport[] = [];
  for (let reporter = 0; reporter < 6; reporter++) {
    const counts = new Map<number, { sent: number; lost: number }>();
    const total = { sent: 0, lost: 0 };
    for (let n = 0; n < loops; n++) {
      const path = [0, 1, 2].filter((layer) => layer !== layerOf(reporter)).map((layer) => 2 * layer + (uniformUnit(random) < 0.5 ? 0 : 1));
      const lost = path.some((node) => node === dropper && uniformUnit(random) < rate) || uniformUnit(random) < 0.02;
      total.sent++;
      if (lost) total.lost++;
      for (const node of path) {
        const entry = counts.get(node) ?? { sent: 0, lost: 0 };
        entry.sent++;
        if (lost) entry.lost++;
        counts.set(node, entry);
      }
    }
    const nodes = [...counts].map(([index, c]) => ({ nodeId: ids[index], ...c }));
    reports.push(makeLoopReport(crypto, seeds[reporter], { epoch: 3, serial: 1, total, nodes }).report);
  }
  return reports;
}

test('a mix dropping 30 % scores about 700; the mixes sharing its paths stay near 1000 (seeded)', () => {
  for (const seed of [1, 2, 3]) {
    const scores = reliabilityScores(simulate(200, 4, 0.3, seed));
    const score = (i: number): number => scores.get(hexOf(ids[i]))!;
    assert.ok(score(4) < 800 && score(4) > 550, `dropper ${score(4)}`);
    for (const i of [0, 1, 2, 3, 5]) assert.ok(score(i) >= 900, `mix ${i}: ${score(i)}`);
  }
});

test('control: with no dropper every mix stays above the floor', () => {
  const scores = reliabilityScores(simulate(200, -1, 0.3, 9));
  for (let i = 0; i < 6; i++) assert.ok(scores.get(hexOf(ids[i]))! >= 900, `mix ${i}: ${scores.get(hexOf(ids[i]))}`);
});

test('one lying reporter neither sinks an honest mix nor rescues the dropper', () => {
  const honest = simulate(200, 4, 0.3, 5);
  // Reporter 0 claims every loop through mix 5 was lost and none through the dropper.
  const liar = makeLoopReport(crypto, seeds[0], {
    epoch: 3, serial: 2, total: { sent: 200, lost: 100 },
    nodes: [{ nodeId: ids[4], sent: 100, lost: 0 }, { nodeId: ids[5], sent: 100, lost: 100 }],
  }).report;
  const scores = reliabilityScores([liar, ...honest.slice(1)]);
  assert.ok(scores.get(hexOf(ids[4]))! < 800, `dropper ${scores.get(hexOf(ids[4]))}`);
  assert.ok(scores.get(hexOf(ids[5]))! >= 900, `honest ${scores.get(hexOf(ids[5]))}`);
  // A reporter's claims about itself never count.
  assert.equal(reliabilityScores([liar]).get(hexOf(ids[0])), undefined);
});

/** Unsigned reports (the score does not verify signatures; the authority did on arrival). */
const FLOOR = 800;
const target = new Uint8Array(32).fill(200);
const targetHex = hexOf(target);
const countsArb = fc
  .tuple(fc.integer({ min: 8, max: 300 }), fc.nat({ max: 300 }), fc.integer({ min: 8, max: 300 }), fc.nat({ max: 300 }))
  .map(([throughSent, a, otherSent, b]) => ({ throughSent, throughLost: a % (throughSent + 1), otherSent, otherLost: b % (otherSent + 1) }));
type Counts = { throughSent: number; throughLost: number; otherSent: number; otherLost: number };

function unsignedReport(reporter: number, c: Counts): LoopReport {
  return {
    epoch: 3, serial: 1, reporter: new Uint8Array(32).fill(reporter),
    total: { sent: c.throughSent + c.otherSent, lost: c.throughLost + c.otherLost },
    nodes: [{ nodeId: target, sent: c.throughSent, lost: c.throughLost }],
    signature: new Uint8Array(64),
  };
}

/** What one reporter's counts alone say of the target: 1000 × (1 − its excess loss), rounded. */
const alone = (report: LoopReport): number => Math.round(1000 * (1 - excessLoss(report.total, report.nodes[0])!));

test('property: fewer than MIN_REPORTERS reporters say nothing of a node, so one liar or one unlucky sample cannot score it', () => {
  fc.assert(
    fc.property(fc.array(countsArb, { minLength: 1, maxLength: MIN_REPORTERS - 1 }), (counts) => {
      assert.equal(reporterScores(counts.map((c, i) => unsignedReport(i + 1, c))).has(targetHex), false);
    }),
    { numRuns: 200, seed: 12 },
  );
  // As in a network's first seconds (umbra up, a layer-3 mix dropping 30 %): a layer-2 mix with 20
  // loops through a healthy layer-1 mix, 6 lost (at the dropper, which half its loops crossed),
  // against 1 of its 11 others, says 791 alone: below the floor.
  const unlucky = unsignedReport(1, { throughSent: 20, throughLost: 6, otherSent: 11, otherLost: 1 });
  assert.ok(alone(unlucky) < FLOOR);
  assert.equal(reporterScores([unlucky]).has(targetHex), false);
  const clean = [2, 3].map((r) => unsignedReport(r, { throughSent: 20, throughLost: 0, otherSent: 20, otherLost: 0 }));
  assert.equal(reporterScores([unlucky, ...clean]).get(targetHex), 1000);
  // A reporter with fewer than 8 other loops has no baseline and says nothing: as a mix that drops
  // all it forwards, whose own loops all vanish (it would otherwise blame each node they crossed).
  const noBaseline = [4, 5, 6].map((r) => unsignedReport(r, { throughSent: 20, throughLost: 20, otherSent: 7, otherLost: 7 }));
  assert.equal(excessLoss(noBaseline[0].total, noBaseline[0].nodes[0]), undefined);
  assert.equal(reporterScores(noBaseline).has(targetHex), false);
  assert.equal(reporterScores([...noBaseline, unlucky, ...clean]).get(targetHex), 1000);
});

test('property: liars fewer than half the reporters keep the score within the honest reporters\' range; half cannot sink it', () => {
  fc.assert(
    fc.property(fc.array(countsArb, { minLength: 1, maxLength: 7 }), fc.array(countsArb, { maxLength: 7 }), (honestCounts, liarCounts) => {
      const honest = honestCounts.map((c, i) => unsignedReport(i + 1, c));
      const own = honest.map(alone);
      const low = Math.min(...own);
      const high = Math.max(...own);
      const liars = liarCounts.slice(0, honest.length).map((c, i) => unsignedReport(100 + i, c)); // at most half
      const scored = reliabilityScores([...honest, ...liars]).get(targetHex);
      if (honest.length + liars.length < MIN_REPORTERS) return assert.equal(scored, undefined);
      const score = scored!;
      assert.ok(score >= low, `half the reporters or fewer sank it: ${score} < ${low}`);
      if (liars.length < honest.length) {
        assert.ok(score <= high, `a minority lifted it: ${score} > ${high}`);
        // Hence across the floor in neither direction.
        if (low >= FLOOR) assert.ok(score >= FLOOR);
        if (high < FLOOR) assert.ok(score < FLOOR);
      }
    }),
    { numRuns: 300, seed: 13 },
  );
});

test('property: no number of reporters holds a node above what the authority\'s probes found; answered probes change nothing', () => {
  fc.assert(
    fc.property(fc.array(countsArb, { maxLength: 9 }), fc.integer({ min: MIN_PROBES, max: 200 }), fc.nat({ max: 200 }), (counts, sent, lostRaw) => {
      const reports = counts.map((c, i) => unsignedReport(i + 1, c));
      const lost = lostRaw % (sent + 1);
      const probed = probeScore({ sent, lost })!;
      const score = reliabilityScores(reports, new Map([[targetHex, { sent, lost }]])).get(targetHex)!;
      assert.equal(score, Math.min(reporterScores(reports).get(targetHex) ?? 1000, probed));
      assert.ok(score <= probed);
      // A node that answers under 80 % of the probes is below the floor, whatever anyone reports.
      if (sent - lost < 0.795 * sent) assert.ok(score < FLOOR);
      // All answered: exactly the reporters' score (1000 with none).
      assert.equal(reliabilityScores(reports, new Map([[targetHex, { sent, lost: 0 }]])).get(targetHex), reporterScores(reports).get(targetHex) ?? 1000);
    }),
    { numRuns: 300, seed: 14 },
  );
});

test('gateways and providers, which no mix loop crosses, are scored by the probes alone; too few probes say nothing', () => {
  const gateway = hexOf(new Uint8Array(32).fill(201));
  const provider = hexOf(new Uint8Array(32).fill(202));
  const fresh = hexOf(new Uint8Array(32).fill(203));
  const probes = new Map([[gateway, { sent: 20, lost: 0 }], [provider, { sent: 20, lost: 20 }], [fresh, { sent: MIN_PROBES - 1, lost: MIN_PROBES - 1 }]]);
  const scores = reliabilityScores([], probes);
  assert.equal(scores.get(gateway), 1000);
  assert.equal(scores.get(provider), 0);
  assert.equal(scores.has(fresh), false);
  assert.equal(probeScore({ sent: 8, lost: 1 }), 875);
});
