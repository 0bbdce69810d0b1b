import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_SIM_CONFIG, type SimConfig } from '../../src/sim/config.js';
import { danezisRounds, disclosureConfig, runDisclosure, type DisclosureResult } from '../../src/sim/disclosure.js';
import { singleMixConfig } from '../../src/sim/single-mix.js';
import { buildTopology } from '../../src/sim/topology.js';

/**
 * The statistical disclosure attack, checked against Danezis's bound for a threshold mix, and on
 * the full network: client cover makes it slower, and with every node corrupt (the planted leak:
 * every mix reveals its mapping) it needs next to no rounds. Seeded: every run is the same.
 */
function thresholdRounds(batch: number, seed: number): DisclosureResult {
  const users = 200;
  const mailsPerSecond = 100;
  const base = singleMixConfig({ strategy: { kind: 'threshold', batch }, packetsPerSecond: 0, users, durationMs: ((400 * batch) / mailsPerSecond) * 1000, warmupMs: 1000, seed });
  const config: SimConfig = {
    ...base,
    clientCover: false,
    measureCover: false,
    // Four equally likely contacts each; the target sends one mail per batch on average.
    workload: { mailsPerUserPerDay: (mailsPerSecond * 86_400) / users, contacts: 4, zipfExponent: 0, focus: { user: 0, share: 1 / batch } },
  };
  return runDisclosure(config).result;
}

/** Rounds to find all contacts, a run that never does counting as one more than it observed. */
const roundsOrAll = (r: DisclosureResult, which: 'roundsToAllContacts' | 'roundsToHalfContacts'): number => (Number.isFinite(r[which]) ? r[which] : r.rounds + 1);

function network(clientCover: boolean, seed: number, corrupt: readonly string[] = []): DisclosureResult {
  const users = 50;
  const base: SimConfig = {
    ...DEFAULT_SIM_CONFIG,
    users,
    seed,
    clientCover,
    warmupMs: 5_000,
    adversary: { corrupt },
    workload: { ...DEFAULT_SIM_CONFIG.workload, mailsPerUserPerDay: (4.5 * 86_400) / users },
  };
  return runDisclosure(disclosureConfig(base, 0.5, 200)).result;
}

describe('statistical disclosure attack', () => {
  it("a threshold mix: within a factor 2 of Danezis's bound (l = 2), and more rounds for a larger batch", () => {
    const mean = (batch: number): number => [1, 2, 3].reduce((s, seed) => s + roundsOrAll(thresholdRounds(batch, seed), 'roundsToAllContacts'), 0) / 3;
    const small = mean(4);
    const large = mean(64);
    for (const [batch, measured] of [[4, small], [64, large]]) {
      const bound = danezisRounds(batch, 200, 4, 2);
      assert.ok(measured > bound / 2 && measured < bound * 2, `batch ${batch}: ${measured} rounds, bound ${bound}`);
    }
    assert.ok(large > 2 * small, `${small} rounds at batch 4, ${large} at 64`);
  });

  it('client cover makes the attack slower', () => {
    const mean = (cover: boolean): number => [1, 2].reduce((s, seed) => s + roundsOrAll(network(cover, seed), 'roundsToHalfContacts'), 0) / 2;
    const without = mean(false);
    const withCover = mean(true);
    assert.ok(without < withCover - 50, `half the contacts after ${without} rounds without cover, ${withCover} with`);
  });

  it('planted leak: with every node corrupt the contacts are found within a few dozen rounds', () => {
    const all = buildTopology(DEFAULT_SIM_CONFIG.topology, DEFAULT_SIM_CONFIG.network, DEFAULT_SIM_CONFIG.epochMs).nodes.map((n) => n.name);
    const r = network(true, 1, all);
    assert.ok(r.roundsToFirstContact <= 2, `${r.roundsToFirstContact}`);
    assert.ok(r.roundsToAllContacts <= 40, `${r.roundsToAllContacts}`);
  });
});
