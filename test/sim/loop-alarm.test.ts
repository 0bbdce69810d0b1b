import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alarmsOf, binomialUpperTail, DEFAULT_LOOP_ALARM, lossesForAlarm, type LoopRecord } from '../../src/traffic/loop-alarm.js';
import { mixLoops } from '../../src/sim/mix-loops.js';
import { simRandom } from '../../src/sim/random.js';
import { buildTopology } from '../../src/sim/topology.js';
import { DEFAULT_SIM_CONFIG } from '../../src/sim/config.js';

/** Loops every `gapMs`, each lost with probability `loss` (seeded), due on time otherwise. */
function loops(count: number, gapMs: number, loss: number, seed: number): LoopRecord[] {
  const random = simRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const dueAt = i * gapMs;
    return { dueAt, returnedAt: random.uniform() < loss ? Infinity : dueAt };
  });
}

describe('loop-based detection', () => {
  it('the binomial tail matches its closed forms', () => {
    assert.equal(binomialUpperTail(5, 0, 0.3), 1);
    assert.equal(binomialUpperTail(5, 6, 0.3), 0);
    assert.ok(Math.abs(binomialUpperTail(5, 3, 0.5) - 0.5) < 1e-12);
    assert.ok(Math.abs(binomialUpperTail(10, 1, 0.1) - (1 - 0.9 ** 10)) < 1e-12);
    assert.ok(Math.abs(binomialUpperTail(20, 20, 0.2) - 0.2 ** 20) < 1e-24);
  });

  it('the alarm threshold is the least loss count whose tail is below α', () => {
    // n = 6, p0 = 0.01: P(≥ 2) ≈ 1.5e-3, P(≥ 3) ≈ 2.0e-5, so α = 1e-4 needs 3 lost loops.
    assert.equal(lossesForAlarm(6, DEFAULT_LOOP_ALARM), 3);
    assert.equal(lossesForAlarm(1, DEFAULT_LOOP_ALARM), 2); // one loop can never raise it
  });

  it('with only the baseline loss, alarms are at most α per verdict', () => {
    const options = { ...DEFAULT_LOOP_ALARM, baselineLoss: 0.05, alpha: 1e-3 };
    const verdicts = 200_000;
    const alarms = alarmsOf(loops(verdicts, 1000, 0.05, 3), options).length;
    assert.ok(alarms / verdicts <= options.alpha, `${alarms} alarms in ${verdicts} verdicts`);
  });

  it('a burst of lost loops raises an alarm, learnt when the party next looks', () => {
    const records = loops(200, 1000, 0, 1).map((loop) => (loop.dueAt >= 100_000 && loop.dueAt < 110_000 ? { ...loop, returnedAt: Infinity } : loop));
    const alarms = alarmsOf(records, DEFAULT_LOOP_ALARM, (t) => Math.ceil(t / 60_000) * 60_000);
    assert.ok(alarms.length > 0);
    assert.ok(alarms[0].verdictAt > 100_000 && alarms[0].verdictAt < 110_000 + DEFAULT_LOOP_ALARM.slackMs, `${alarms[0].verdictAt}`);
    assert.equal(alarms[0].at, 120_000);
    // Before the burst: nothing lost, no alarm.
    assert.equal(alarmsOf(records.slice(0, 100), DEFAULT_LOOP_ALARM).length, 0);
  });

  it("mixes' loops through an attacked node vanish: all of its own, a third of another layer's (3 mixes a layer)", () => {
    const topology = buildTopology({ gateways: 2, mixesPerLayer: 3, providers: 2 }, DEFAULT_SIM_CONFIG.network, DEFAULT_SIM_CONFIG.epochMs);
    const attacked = topology.nodes.find((n) => n.name === 'mix-1-1')!;
    const other = topology.nodes.find((n) => n.name === 'mix-2-1')!;
    const records = mixLoops(topology.nodes, [{ node: attacked.index, from: 0, to: Infinity }], {
      ratePerSecond: 10, meanDelayMs: 500, maxDelayMs: 10_000, fromMs: 0, toMs: 600_000, baselineLoss: 0, seed: 5,
    });
    const lostShare = (index: number): number => {
      const own = records.get(index)!;
      return own.filter((l) => l.returnedAt === Infinity).length / own.length;
    };
    assert.equal(lostShare(attacked.index), 1);
    assert.ok(Math.abs(lostShare(other.index) - 1 / 3) < 0.03, `${lostShare(other.index)}`);
  });
});
