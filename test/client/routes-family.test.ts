import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import * as fc from 'fast-check';
import { getCrypto } from '../../src/crypto/index.js';
import { seededRandom } from '../../src/crypto/seeded-random.js';
import { Network, RouteError } from '../../src/client/routes.js';
import { compareBytes } from '../../src/pki/fields.js';
import type { ConsensusDocument, NodeDescriptor } from '../../src/pki/index.js';
import { makeFixtureNetwork } from '../pki/network-fixture.js';

const crypto = getCrypto();
const EPOCH = 0;
/** 2 gateways, 3 mixes per layer, 2 providers: 13 signed descriptors whose families the runs reassign. */
const POOL = makeFixtureNetwork(crypto, { epoch: EPOCH, gateways: 2, mixesPerLayer: 3, providers: 2, label: 'fam' }).map((node) => node.descriptor);

function networkOf(families: readonly string[]): Network {
  const nodes = POOL.map((node, i) => ({ ...node, family: families[i] })).sort((a, b) => compareBytes(a.nodeId, b.nodeId));
  const reliability = { mixLoopRate: 0, floor: 0 };
  return new Network({ epoch: EPOCH, nodes, scores: nodes.map(() => 1000), measured: nodes.map(() => 0), reliability, mixing: { meanDelayMs: 10, maxDelayMs: 100 } } as unknown as ConsensusDocument);
}

/** Whether one mix per layer 1..3 can be chosen, of distinct families and none of the gateway's or the provider's. */
function pathExists(network: Network, gateway: NodeDescriptor, provider: NodeDescriptor): boolean {
  const ends = new Set([gateway.family, provider.family]);
  for (const a of network.layers[1]) for (const b of network.layers[2]) for (const c of network.layers[3]) {
    if (new Set([...ends, a.family, b.family, c.family]).size === ends.size + 3) return true;
  }
  return false;
}

// With the mixes drawn uniformly per layer regardless of family (the path before families), the
// first property fails: a path repeats a family.
test('paths never use two nodes of one family; RouteError exactly when no such path exists', () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom('op-a', 'op-b', 'op-c', 'op-d', 'op-e', 'op-f'), { minLength: POOL.length, maxLength: POOL.length }), fc.integer(), (families, seed) => {
      const network = networkOf(families);
      const random = seededRandom(crypto, seed >>> 0);
      for (const gateway of network.gateways) {
        for (const provider of network.providers) {
          const possible = pathExists(network, gateway, provider);
          for (let i = 0; i < 5; i++) {
            let hops;
            try {
              hops = network.path(random, EPOCH, gateway, provider, []);
            } catch (error) {
              assert.ok(error instanceof RouteError);
              assert.equal(possible, false, 'a path existed but none was found');
              break;
            }
            assert.ok(possible);
            // The gateway is no Sphinx hop, but its family stays off the mixes too; the gateway and
            // the provider (neither chosen here) may share one.
            const mixes = hops.slice(0, 3).map((hop) => network.findById(hop.id)!.family);
            const used = [...new Set([gateway.family, provider.family]), ...mixes];
            assert.equal(new Set(used).size, used.length, `families on the path: ${gateway.family}, ${mixes.join(', ')}, ${provider.family}`);
          }
        }
      }
    }),
    { seed: 20261204, numRuns: 300 },
  );
});

// A client's guard and a recipient's server are both fixed: when one operator runs both, the mail
// still goes (this threw a RouteError for every such mail), through mixes of other families.
test('a gateway and provider of one family: a path whose mixes are of neither', () => {
  const families = POOL.map((_, i) => `op-${i}`);
  const network = networkOf(families);
  const gateway = network.gateways[0];
  const provider = { ...network.providers[0], family: gateway.family };
  const random = seededRandom(crypto, 1);
  for (let i = 0; i < 50; i++) {
    const hops = network.path(random, EPOCH, gateway, provider, []);
    assert.ok(hops.slice(0, 3).every((hop) => network.findById(hop.id)!.family !== gateway.family));
  }
});

test('every mix of a layer can be drawn when families allow', () => {
  const network = networkOf(POOL.map((_, i) => `op-${i}`));
  const random = seededRandom(crypto, 7);
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    for (const hop of network.path(random, EPOCH, network.gateways[0], network.providers[0], []).slice(0, 3)) seen.add(network.findById(hop.id)!.name);
  }
  assert.equal(seen.size, 9);
});
