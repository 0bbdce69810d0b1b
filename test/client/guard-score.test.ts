import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { GatewayConnections, type GuardStore } from '../../src/client/agent/gateways.js';
import { Network } from '../../src/client/routes.js';
import { getCrypto } from '../../src/crypto/index.js';
import { seededRandom } from '../../src/crypto/seeded-random.js';
import type { WebSocketConnection } from '../../src/net/websocket.js';
import type { ConsensusDocument, NodeDescriptor } from '../../src/pki/index.js';
import type { Guard } from '../../src/traffic/guard.js';
import { FakeClock } from '../node/authority/fake-clock.js';
import { makeFixtureNetwork } from '../pki/network-fixture.js';

/**
 * The agent's gateway connections against consensus documents whose scores the test sets: the
 * guard is kept while its score stays at or above the floor (however it moves there), replaced
 * once it falls below it, not moved back when it recovers, kept when every gateway is below the
 * floor, and kept across a restart. Before scores counted, the guard below the floor was kept.
 */
const crypto = getCrypto();
const FLOOR = 800;
const NODES = makeFixtureNetwork(crypto, { epoch: 0, gateways: 4, label: 'guard-score' }).map((node) => node.descriptor);
const GATEWAYS = NODES.filter((node) => node.layer === 0);

/** A network whose gateways score `gatewayScores` (by gateway name) and every other node 1000. */
function networkWith(gatewayScores: ReadonlyMap<string, number>): Network {
  const scores = NODES.map((node) => gatewayScores.get(node.name) ?? 1000);
  return new Network({ epoch: 0, nodes: NODES, scores, measured: NODES.map(() => 0), reliability: { mixLoopRate: 0, floor: FLOOR }, mixing: { meanDelayMs: 10, maxDelayMs: 100 } } as unknown as ConsensusDocument);
}

function memoryStore(): GuardStore & { saved: Guard[] } {
  const saved: Guard[] = [];
  return { saved, load: () => saved.at(-1), save: (guard) => void saved.push(guard) };
}

test('the agent replaces a guard that falls below the reliability floor, and only then', () => {
  const clock = new FakeClock(1_800_000_000_000);
  const store = memoryStore();
  const dialled: string[] = [];
  // Connections never complete: the test watches where the agent dials, not the socket.
  const connect = (target: { url: string }): Promise<WebSocketConnection> => {
    dialled.push(target.url);
    return new Promise(() => undefined);
  };
  const start = () => new GatewayConnections(clock, seededRandom(crypto, 31), 1000, () => undefined, store, connect);
  const urlOf = (node: NodeDescriptor) => `wss://${node.addresses.ws}`;

  let gateways = start();
  gateways.onConsensus(networkWith(new Map()), true);
  const guard = gateways.main.node;
  assert.equal(store.saved.length, 1);

  // A lower score that stays at or above the floor moves nothing.
  for (const score of [950, 850, FLOOR]) {
    clock.advanceTo(clock.now() + 3_600_000);
    gateways.onConsensus(networkWith(new Map([[guard.name, score]])), false);
    assert.equal(gateways.main.node.name, guard.name, `score ${score}`);
  }
  assert.equal(store.saved.length, 1, 'no new guard');
  assert.deepEqual(dialled, []);

  // Below the floor, with other gateways above it: a new guard, stored and dialled.
  clock.advanceTo(clock.now() + 3_600_000);
  gateways.onConsensus(networkWith(new Map([[guard.name, FLOOR - 1]])), false);
  const replacement = gateways.main.node;
  assert.notEqual(replacement.name, guard.name);
  assert.equal(store.saved.length, 2);
  assert.equal(store.saved[1].chosenMs, clock.now());
  assert.deepEqual(dialled, [urlOf(replacement)]);

  // The old guard recovers: the agent does not go back (a switch is a signal of its own).
  clock.advanceTo(clock.now() + 3_600_000);
  gateways.onConsensus(networkWith(new Map()), false);
  assert.equal(gateways.main.node.name, replacement.name);

  // Every gateway below the floor: nothing better to move to, the guard stays.
  clock.advanceTo(clock.now() + 3_600_000);
  gateways.onConsensus(networkWith(new Map(GATEWAYS.map((node) => [node.name, 300]))), false);
  assert.equal(gateways.main.node.name, replacement.name);
  assert.equal(store.saved.length, 2);

  // A restart takes the stored guard.
  gateways.close();
  gateways = start();
  gateways.onConsensus(networkWith(new Map()), true);
  assert.equal(gateways.main.node.name, replacement.name);
  assert.equal(store.saved.length, 2);
  gateways.close();
});

test('new guards are never drawn below the floor while a gateway is above it', () => {
  const below = new Map([[GATEWAYS[0].name, 500], [GATEWAYS[1].name, 799]]);
  const chosen = new Set<string>();
  for (let seed = 0; seed < 200; seed++) {
    const gateways = new GatewayConnections(new FakeClock(1_800_000_000_000), seededRandom(crypto, seed), 1000, () => undefined, memoryStore());
    gateways.onConsensus(networkWith(below), true);
    chosen.add(gateways.main.node.name);
    gateways.close();
  }
  assert.deepEqual([...chosen].sort(), [GATEWAYS[2].name, GATEWAYS[3].name].sort());
});
