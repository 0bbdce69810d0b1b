import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareBytes } from '../../src/pki/fields.js';
import { getCrypto } from '../../src/crypto/index.js';
import { pirPartner } from '../../src/wire/pir-partner.js';
import { makeFixtureNode, testSeed, type FixtureNode } from '../pki/network-fixture.js';

const crypto = getCrypto();

function provider(label: string, family: string, identitySeed?: Uint8Array, port = 40000): FixtureNode {
  return makeFixtureNode(crypto, label, 'provider', 4, 0, port, 1, family, identitySeed ?? testSeed(crypto, `${label} identity`));
}

/**
 * An operator grinds identity keys until one sorts directly after its own provider `target`
 * (before every other provider): under "the next provider by node ID", that key would be the
 * target's PIR partner, and the operator would hold both halves of every query.
 */
function grindNextTo(target: FixtureNode, others: readonly FixtureNode[]): Uint8Array {
  const after = others.map((node) => node.descriptor.nodeId).filter((id) => compareBytes(id, target.descriptor.nodeId) > 0);
  for (let i = 0; ; i++) {
    const seed = testSeed(crypto, `grind ${i}`);
    const id = crypto.ed25519PublicKey(seed);
    if (compareBytes(id, target.descriptor.nodeId) > 0 && after.every((other) => compareBytes(id, other) < 0)) return seed;
  }
}

// Reverting pirPartner to "the next provider by node ID" makes the ground key the partner: this test fails.
test('a key ground to sort next to a provider, of the same family, is not its PIR partner', () => {
  const own = provider('evil-provider', 'evil-operator');
  const honest = [provider('honest-a', 'operator-a', undefined, 40010), provider('honest-b', 'operator-b', undefined, 40020)];
  const ground = provider('evil-sybil', 'evil-operator', grindNextTo(own, honest), 40030);
  // A consensus document lists its nodes in node-ID order.
  const doc = { nodes: [own, ...honest, ground].map((node) => node.descriptor).sort((x, y) => compareBytes(x.nodeId, y.nodeId)) };
  const partner = pirPartner(doc, own.descriptor.nodeId);
  assert.ok(partner !== undefined);
  assert.notEqual(partner.family, 'evil-operator');
  assert.ok(honest.some((node) => compareBytes(node.descriptor.nodeId, partner.nodeId) === 0));
  // The sybil's own partner is not its operator's other provider either.
  assert.notEqual(pirPartner(doc, ground.descriptor.nodeId)?.family, 'evil-operator');
  // Every provider's partner is of another family.
  for (const node of doc.nodes) assert.notEqual(pirPartner(doc, node.nodeId)?.family, node.family);
});

test('providers of one family only: no PIR partner at all', () => {
  const a = provider('solo-a', 'one-operator');
  const b = provider('solo-b', 'one-operator', undefined, 40010);
  const doc = { nodes: [a.descriptor, b.descriptor] };
  assert.equal(pirPartner(doc, a.descriptor.nodeId), undefined);
  assert.equal(pirPartner(doc, b.descriptor.nodeId), undefined);
});
