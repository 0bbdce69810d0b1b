import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { getCrypto } from '../../src/crypto/index.js';
import { seededRandom } from '../../src/crypto/seeded-random.js';
import type { NodeDescriptor } from '../../src/pki/descriptor.js';
import { choosePath, consensusWeights, layerCandidates, PathChoiceError, weightedPick } from '../../src/pki/path-choice.js';

/**
 * Path choice (docs/network.md, "Path choice"): weighted by bandwidth × score, no repeats, no two
 * nodes of one family, nodes below the floor left out unless a layer would be empty.
 */
const crypto = getCrypto();

interface TestNode {
  readonly id: string;
  readonly family: string;
  readonly weight: number;
  readonly excluded: boolean;
}

const nodeArb = (layer: number) =>
  fc.record({
    family: fc.constantFrom('a', 'b', 'c', 'd', 'e', `own-${layer}`),
    weight: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1_000_000 })),
    excluded: fc.boolean(),
  });

const layersArb = fc.tuple(...[1, 2, 3].map((layer) => fc.array(nodeArb(layer), { minLength: 1, maxLength: 6 }))).map((layers) =>
  layers.map((layer, l) => layer.map((node, i): TestNode => ({ ...node, id: `${l}-${i}` }))),
);

const options = (seed: number, used: string[] = []) => ({
  weight: (node: TestNode) => node.weight,
  family: (node: TestNode) => node.family,
  excluded: (node: TestNode) => node.excluded,
  usedFamilies: used,
  random: seededRandom(crypto, seed),
});

test('a path has one node per layer, no repeats, distinct families, none excluded where the layer allows', () => {
  fc.assert(
    fc.property(layersArb, fc.integer({ min: 0, max: 2 ** 31 }), fc.subarray(['a', 'b']), (layers, seed, used) => {
      let path: TestNode[];
      try {
        path = choosePath(layers, options(seed, used));
      } catch (error) {
        assert.ok(error instanceof PathChoiceError);
        return;
      }
      assert.equal(path.length, 3);
      path.forEach((node, i) => {
        assert.ok(layers[i].includes(node));
        assert.ok(!used.includes(node.family));
        // Excluded only when the layer has nothing else.
        if (node.excluded) assert.ok(layers[i].every((other) => other.excluded));
      });
      assert.equal(new Set(path.map((node) => node.id)).size, 3);
      assert.equal(new Set(path.map((node) => node.family)).size, 3);
    }),
    { numRuns: 500 },
  );
});

test('no path is refused when one keeping the families apart exists', () => {
  fc.assert(
    fc.property(layersArb, fc.integer({ min: 0, max: 2 ** 31 }), (layers, seed) => {
      const candidates = layers.map((layer) => layerCandidates(layer, (node) => node.excluded));
      const exists = candidates[0].some((a) => candidates[1].some((b) => b.family !== a.family && candidates[2].some((c) => c.family !== a.family && c.family !== b.family)));
      let found = true;
      try {
        choosePath(layers, options(seed));
      } catch {
        found = false;
      }
      assert.equal(found, exists);
    }),
    { numRuns: 300 },
  );
});

test('nodes are drawn in proportion to their weights (chi-square, seeded)', () => {
  const weights = [1, 2, 3, 4, 10];
  const nodes = weights.map((weight, i) => ({ id: String(i), family: String(i), weight, excluded: false }));
  const random = seededRandom(crypto, 7);
  const draws = 40_000;
  const counts = new Array<number>(nodes.length).fill(0);
  for (let i = 0; i < draws; i++) counts[Number(weightedPick(nodes, (node) => node.weight, random).id)]++;
  const total = weights.reduce((a, b) => a + b, 0);
  const chi = counts.reduce((sum, count, i) => sum + (count - (draws * weights[i]) / total) ** 2 / ((draws * weights[i]) / total), 0);
  // 4 degrees of freedom: P(χ² > 18.47) = 0.001.
  assert.ok(chi < 18.47, `χ² = ${chi.toFixed(2)}, counts ${counts.join(',')}`);
});

test('a whole path follows the weights of each layer, and a node below the floor never appears', () => {
  const layer = (l: number) => [
    { id: `${l}-heavy`, family: `f${l}`, weight: 3000, excluded: false },
    { id: `${l}-light`, family: `f${l}`, weight: 1000, excluded: false },
    { id: `${l}-floor`, family: `f${l}`, weight: 5000, excluded: true },
  ];
  const layers = [layer(1), layer(2), layer(3)];
  const opts = options(11);
  let heavy = 0;
  const runs = 4000;
  for (let i = 0; i < runs; i++) {
    const path = choosePath(layers, opts);
    assert.ok(path.every((node) => !node.excluded));
    heavy += path.filter((node) => node.id.endsWith('heavy')).length;
  }
  // Expected share 3/4 of 3 × runs draws; 5 standard deviations of slack.
  const expected = 0.75 * 3 * runs;
  const sd = Math.sqrt(3 * runs * 0.75 * 0.25);
  assert.ok(Math.abs(heavy - expected) < 5 * sd, `${heavy} heavy draws, ${expected} expected`);
});

test('a layer whose nodes are all below the floor keeps them all (no path would be worse)', () => {
  const layers = [
    [{ id: 'a', family: 'x', weight: 1, excluded: true }],
    [{ id: 'b', family: 'y', weight: 1, excluded: false }],
  ];
  assert.deepEqual(
    choosePath(layers, options(3)).map((node) => node.id),
    ['a', 'b'],
  );
  // Weight 0 everywhere: uniform, still a path.
  const zero = [[{ id: 'z1', family: 'p', weight: 0, excluded: false }, { id: 'z2', family: 'q', weight: 0, excluded: false }]];
  const seen = new Set<string>();
  const opts = options(5);
  for (let i = 0; i < 64; i++) seen.add(choosePath(zero, opts)[0].id);
  assert.deepEqual([...seen].sort(), ['z1', 'z2']);
});

test('a consensus weighs a node by min(declared, measured) bandwidth × score; unmeasured, by the declared one', () => {
  const node = (n: number, bandwidth: number) => ({ nodeId: new Uint8Array(32).fill(n), bandwidth }) as unknown as NodeDescriptor;
  const nodes = [node(1, 1000), node(2, 4_000_000_000), node(3, 1000), node(4, 500)];
  const weights = consensusWeights({ nodes, scores: [1000, 1000, 900, 1000], measured: [250, 3000, 0, 9000], reliability: { mixLoopRate: 0, floor: 800 } });
  assert.deepEqual(nodes.map(weights.bandwidth), [250, 3000, 1000, 500]);
  assert.deepEqual(nodes.map(weights.weight), [250_000, 3_000_000, 900_000, 500_000]);
  // The overstating node is drawn by what was measured, not by what it claims (seeded).
  const random = seededRandom(crypto, 5);
  let drawn = 0;
  for (let i = 0; i < 2000; i++) if (weightedPick(nodes, weights.weight, random) === nodes[1]) drawn++;
  const share = 3_000_000 / (250_000 + 3_000_000 + 900_000 + 500_000);
  assert.ok(Math.abs(drawn / 2000 - share) < 0.05, `drawn ${drawn} of 2000, expected about ${Math.round(share * 2000)}`);
});
