import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { hexOf } from '../../../src/codec/bytes.js';
import { mixRecognizer } from '../../../src/node/gateway/mix-recognizer.js';
import type { ConsensusDocument } from '../../../src/pki/index.js';

/**
 * A gateway names a connection's mix from the link key it presented (docs/network.md, "Mix loops").
 * A mix can hold a document listing itself, and connect, before the gateway holds that document:
 * the connection must be recognised once the gateway's newest document lists the mix, not judged
 * once at connection time and left in its address's bucket (seen at startup in CI, where
 * `umbra_node_gateway_mix_connections_total` stayed under the number of mixes).
 */
const mixKey = new Uint8Array(32).fill(7);
const mixId = new Uint8Array(32).fill(9);

function documentOf(epoch: number, withMix: boolean): ConsensusDocument {
  const nodes = [{ role: 'gateway', linkPublicKey: new Uint8Array(32).fill(1), nodeId: new Uint8Array(32).fill(2) }];
  if (withMix) nodes.push({ role: 'mix', linkPublicKey: mixKey, nodeId: mixId });
  return { epoch, nodes } as unknown as ConsensusDocument;
}

test('a mix connected before the gateway held a document listing it is recognised once one does, and counted once', () => {
  let docs = [documentOf(1, false)];
  let lookups = 0;
  let counted = 0;
  const mix = mixRecognizer(mixKey, () => (lookups++, docs), () => counted++);
  assert.equal(mix(), undefined);
  assert.equal(mix(), undefined);
  assert.equal(lookups, 2, 'each packet asks for the held documents');
  docs = [documentOf(2, true), documentOf(1, false)];
  assert.equal(mix(), hexOf(mixId));
  assert.equal(mix(), hexOf(mixId));
  assert.equal(lookups, 3, 'once recognised, the documents are not read again');
  assert.equal(counted, 1);
});

test('a stranger\'s key or no key is never a mix; the documents are searched once per newest epoch', () => {
  let counted = 0;
  let docs = [documentOf(1, true)];
  const stranger = mixRecognizer(new Uint8Array(32).fill(3), () => docs, () => counted++);
  for (let i = 0; i < 5; i++) assert.equal(stranger(), undefined);
  docs = [documentOf(2, true)];
  assert.equal(stranger(), undefined);
  const none = mixRecognizer(undefined, () => assert.fail('no key: nothing to look up'), () => counted++);
  assert.equal(none(), undefined);
  assert.equal(counted, 0);
});

test('control: a lookup made only at connection time misses the mix for good', () => {
  let docs = [documentOf(1, false)];
  const atConnection = mixRecognizer(mixKey, () => docs, () => undefined)();
  docs = [documentOf(2, true)];
  assert.equal(atConnection, undefined);
  assert.equal(mixRecognizer(mixKey, () => docs, () => undefined)(), hexOf(mixId));
});
