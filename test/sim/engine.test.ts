import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_SIM_CONFIG, parametersFromJson, SimConfigError, type SimConfig } from '../../src/sim/config.js';
import { simulate } from '../../src/sim/engine.js';
import { analyse } from '../../src/sim/measure.js';
import { buildTopology } from '../../src/sim/topology.js';

const small: SimConfig = {
  ...DEFAULT_SIM_CONFIG,
  users: 200,
  durationMs: 12_000,
  warmupMs: 4_000,
  workload: { mailsPerUserPerDay: 20_000, contacts: 4, zipfExponent: 1 },
  maxMeasured: 60,
  seed: 11,
};
const allNodes = buildTopology(small.topology, small.network, small.epochMs).nodes.map((n) => n.name);

describe('simulator engine and attacks', () => {
  it('is deterministic under a seed', () => {
    const a = analyse(simulate(small), 1);
    const b = analyse(simulate(small), 1);
    assert.deepEqual(a.sender, b.sender);
    assert.deepEqual(a.packets, b.packets);
  });

  it('clients emit the consensus rates: cover per real packet follows λ', () => {
    const run = simulate(small);
    const seconds = small.durationMs / 1000;
    const { clientSendRate, loopRate, dropRate } = small.network.traffic;
    const expected = small.users * seconds * (clientSendRate + loopRate + dropRate);
    const total = run.sent.real + run.sent.loop + run.sent.drop;
    assert.ok(Math.abs(total - expected) < 0.05 * expected, `${total} packets, expected about ${expected}`);
    assert.ok(run.sent.real > 0 && run.mailsWritten >= run.sent.real);
  });

  it('the timing attack names every sender when every node is corrupt, few when none is', () => {
    const honest = analyse(simulate(small), 1);
    const corrupt = analyse(simulate({ ...small, adversary: { corrupt: allNodes } }), 1);
    assert.equal(corrupt.timingAttackSuccess, 1);
    assert.equal(corrupt.sender.entropy.mean, 0);
    assert.equal(corrupt.receiver.entropy.mean, 0);
    assert.ok(honest.timingAttackSuccess < 0.2, `${honest.timingAttackSuccess}`);
    assert.ok(honest.sender.entropy.mean > 5, `${honest.sender.entropy.mean} bits`);
  });

  it('without client cover a lone sender stands out', () => {
    const noCover = analyse(simulate({ ...small, clientCover: false, workload: { ...small.workload, mailsPerUserPerDay: 200 } , durationMs: 60_000, warmupMs: 10_000 }), 1);
    const cover = analyse(simulate(small), 1);
    assert.ok(noCover.sender.entropy.mean < cover.sender.entropy.mean - 2, `${noCover.sender.entropy.mean} vs ${cover.sender.entropy.mean}`);
  });

  it('reads an authority configuration or a bare network object, and rejects bad parameters', () => {
    const fromAuthority = parametersFromJson({ epochMs: 60_000, network: { mixing: { meanDelayMs: 300, maxDelayMs: 9000 } } });
    assert.equal(fromAuthority.epochMs, 60_000);
    assert.equal(fromAuthority.network.mixing.meanDelayMs, 300);
    assert.equal(fromAuthority.network.traffic.clientSendRate, DEFAULT_SIM_CONFIG.network.traffic.clientSendRate);
    assert.equal(parametersFromJson({ traffic: { loopRate: 3 } }).network.traffic.loopRate, 3);
    assert.throws(() => parametersFromJson({ mixing: { meanDelayMs: 10, maxDelayMs: 5 } }), SimConfigError);
    assert.throws(() => parametersFromJson([]), SimConfigError);
  });
});
