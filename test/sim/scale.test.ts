import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_SIM_CONFIG, type SimConfig } from '../../src/sim/config.js';
import { simulate } from '../../src/sim/engine.js';
import { EventQueue } from '../../src/sim/event-queue.js';
import { analyse } from '../../src/sim/measure.js';
import { deliveryWeights } from '../../src/sim/posterior.js';
import { PRESETS } from '../../src/sim/presets.js';
import { simRandom } from '../../src/sim/random.js';
import { buildTopology } from '../../src/sim/topology.js';

/**
 * The simulator at scale: the posterior at 10^5 users, the log window, the agenda, the engine's
 * path choice against Network.path, and the cited presets.
 */
describe('simulator at scale', () => {
  it('10^5 users give a many-bit sender entropy, below log2 of the users', () => {
    // Checked against the earlier posterior (pool masses below an absolute 10^-7 dropped at every
    // arrival): this configuration measured 0 bits for sender entropy and min-entropy.
    const config: SimConfig = { ...DEFAULT_SIM_CONFIG, users: 100_000, durationMs: 4_000, warmupMs: 2_500, maxMeasured: 4, seed: 3, workload: { ...DEFAULT_SIM_CONFIG.workload, mailsPerUserPerDay: 400 } };
    const summary = analyse(simulate(config), 1);
    assert.ok(summary.measured >= 2, `${summary.measured} measured`);
    assert.ok(summary.sender.entropy.mean > 14 && summary.sender.entropy.mean <= Math.log2(100_000), `${summary.sender.entropy.mean} bits`);
    assert.ok(summary.sender.minEntropy.mean > 10, `${summary.sender.minEntropy.mean} bits min-entropy`);
  });

  it('a log window keeps the figures and bounds the log', () => {
    const base: SimConfig = { ...DEFAULT_SIM_CONFIG, users: 2_000, durationMs: 40_000, warmupMs: 10_000, maxMeasured: 60, seed: 5, workload: { ...DEFAULT_SIM_CONFIG.workload, mailsPerUserPerDay: 2_000 } };
    const whole = simulate(base);
    const windowed = simulate({ ...base, logWindowMs: 16_000 });
    assert.ok(windowed.log.size < whole.log.size / 1.5, `${windowed.log.size} vs ${whole.log.size} events`);
    const a = analyse(whole, 1).sender.entropy.mean;
    const b = analyse(windowed, 1).sender.entropy.mean;
    assert.ok(Math.abs(a - b) < 0.25, `${a} vs ${b} bits`);
  });

  it('grouped targets are carried as the sum of their own distributions', () => {
    const config: SimConfig = { ...DEFAULT_SIM_CONFIG, users: 200, durationMs: 20_000, warmupMs: 2_000, seed: 4 };
    const run = simulate(config);
    const sent = run.delivered.filter((d) => d.sentAt > 3_000).slice(0, 3).map((d) => d.firstTx);
    const linked = run.topology.nodes.map(() => false);
    const alone = deliveryWeights(run.log, linked.length, linked, sent);
    const [together] = deliveryWeights(run.log, linked.length, linked, sent, [0, 0, 0]);
    const summed = new Map<number, number>();
    for (const m of alone) for (const [tx, w] of m) summed.set(tx, (summed.get(tx) ?? 0) + w);
    let total = 0;
    for (const [tx, w] of summed) {
      total += w;
      assert.ok(Math.abs((together.get(tx) ?? 0) - w) < 1e-6, `delivery ${tx}`);
    }
    assert.ok(Math.abs(total - 3) < 0.01, `${total}`);
  });

  it('the agenda: time order, ties in push order, an actor rescheduled earlier comes once, one-shot entries', () => {
    const queue = new EventQueue(3);
    queue.schedule(0, 50);
    queue.schedule(1, 20);
    queue.push(7, 20);
    queue.schedule(0, 10);
    queue.push(5, 30);
    queue.schedule(2, Infinity);
    const order: [number, number][] = [];
    for (let id = queue.pop(); id >= 0; id = queue.pop()) order.push([id, queue.at]);
    assert.deepEqual(order, [[0, 10], [1, 20], [7, 20], [5, 30]]);
  });

  it("the engine's mixes are Network.path's choice: uniform over each layer", () => {
    const config: SimConfig = { ...DEFAULT_SIM_CONFIG, users: 300, durationMs: 6_000, warmupMs: 1_000, seed: 9 };
    const run = simulate(config);
    const topology = buildTopology(config.topology, config.network, config.epochMs);
    const perNode = (counts: Map<number, number>, layer: number): number[] =>
      topology.nodes.filter((n) => n.layer === layer).map((n) => counts.get(n.index) ?? 0);
    const engine = new Map<number, number>();
    for (let i = 0; i < run.log.size; i++) if (run.log.kind(i) === 0) engine.set(run.log.node(i), (engine.get(run.log.node(i)) ?? 0) + 1);
    const random = simRandom(1);
    const reference = new Map<number, number>();
    const gateway = topology.nodes[0].descriptor;
    const provider = topology.nodes[topology.nodes.length - 1].descriptor;
    for (let i = 0; i < 20_000; i++) {
      for (const hop of topology.network.path(random.bytes, 0, gateway, provider, []).slice(0, 3)) {
        const index = topology.indexOf({ nodeId: hop.id } as never);
        reference.set(index, (reference.get(index) ?? 0) + 1);
      }
    }
    for (const layer of [1, 2, 3]) {
      const share = (counts: number[]): number[] => counts.map((c) => c / counts.reduce((s, v) => s + v, 0));
      const got = share(perNode(engine, layer));
      const want = share(perNode(reference, layer));
      got.forEach((g, i) => assert.ok(Math.abs(g - want[i]) < 0.02, `layer ${layer}: ${got} vs ${want}`));
    }
  });

  it('the Katzenpost and Loopix presets carry the values their sources give', () => {
    const k = PRESETS.katzenpost.network;
    assert.deepEqual(k.mixing, { meanDelayMs: 4000, maxDelayMs: 46_051 });
    assert.deepEqual([k.traffic.clientSendRate, k.traffic.loopRate, k.traffic.dropRate], [0.25, 0.25, 0.25]);
    const l = PRESETS.loopix.network;
    assert.deepEqual(l.mixing, { meanDelayMs: 1, maxDelayMs: 12 });
    assert.deepEqual([l.traffic.clientSendRate, l.traffic.loopRate, l.traffic.dropRate], [0.5, 0.5, 0.5]);
    assert.match(PRESETS.katzenpost.source ?? '', /config\.go/);
    assert.match(PRESETS.loopix.source ?? '', /config\.json/);
  });
});
