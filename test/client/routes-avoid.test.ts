import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import * as fc from 'fast-check';
import { getCrypto } from '../../src/crypto/index.js';
import { seededRandom } from '../../src/crypto/seeded-random.js';
import { Network, nodeKey } from '../../src/client/routes.js';
import { compareBytes } from '../../src/pki/fields.js';
import type { ConsensusDocument } from '../../src/pki/index.js';
import { makeFixtureNetwork } from '../pki/network-fixture.js';

/**
 * High alert's path filter (docs/network.md, "Alerts"): a path leaves out the mixes to avoid
 * whenever its layer has another, and a layer whose every mix is to be avoided keeps them all (the
 * traffic never stops). Without the filter the first property fails: uniform paths use every mix.
 */
const crypto = getCrypto();
const EPOCH = 0;
const POOL = makeFixtureNetwork(crypto, { epoch: EPOCH, gateways: 1, mixesPerLayer: 2, providers: 1, label: 'avoid' })
  .map((node, i) => ({ ...node.descriptor, family: `family-${i}` }))
  .sort((a, b) => compareBytes(a.nodeId, b.nodeId));
const network = new Network({ epoch: EPOCH, nodes: POOL, scores: POOL.map(() => 1000), measured: POOL.map(() => 0), reliability: { mixLoopRate: 0, floor: 0 }, mixing: { meanDelayMs: 10, maxDelayMs: 100 } } as unknown as ConsensusDocument);
const mixes = [1, 2, 3].flatMap((layer) => network.layers[layer]);

test('paths leave the avoided mixes out while each layer keeps another; a layer all avoided keeps all', () => {
  fc.assert(
    fc.property(fc.subarray(mixes.map(nodeKey)), fc.integer(), (avoided, seed) => {
      const avoid = new Set(avoided);
      const random = seededRandom(crypto, seed >>> 0);
      const seen = new Set<string>();
      for (let i = 0; i < 40; i++) {
        const hops = network.path(random, EPOCH, network.gateways[0], network.providers[0], [], avoid);
        for (const hop of hops.slice(0, 3)) seen.add(nodeKey(network.findById(hop.id)!));
      }
      for (const layer of [1, 2, 3]) {
        const keys = network.layers[layer].map(nodeKey);
        const emptied = keys.every((key) => avoid.has(key));
        for (const key of keys) {
          // 40 paths over two mixes a layer: each usable mix shows up (the chance one does not is 2^-40).
          if (emptied || !avoid.has(key)) assert.ok(seen.has(key), `layer ${layer}: a usable mix was never chosen`);
          else assert.ok(!seen.has(key), `layer ${layer}: an avoided mix was used`);
        }
      }
    }),
    { seed: 20261206, numRuns: 100 },
  );
});
