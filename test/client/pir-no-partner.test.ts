import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { NoPirPartnerError, retrievalFor } from '../../src/client/agent/retrieval.js';
import { getCrypto } from '../../src/crypto/index.js';
import { compareBytes } from '../../src/pki/fields.js';
import { DEFAULT_NETWORK_PARAMETERS, type ConsensusDocument } from '../../src/pki/index.js';
import { makeFixtureNode } from '../pki/network-fixture.js';

const crypto = getCrypto();
const options = { crypto, timeoutMs: 1000, buckets: 4, maxCiphertextBytes: 1 << 16, maxBuckets: 256 };

function pirDoc(families: readonly string[]): ConsensusDocument {
  const nodes = families
    .map((family, i) => makeFixtureNode(crypto, `nopartner-provider-${i}`, 'provider', 4, 0, 41000 + 10 * i, 1, family).descriptor)
    .sort((a, b) => compareBytes(a.nodeId, b.nodeId));
  return { epoch: 0, retrieval: 'pir', pir: DEFAULT_NETWORK_PARAMETERS.pir, nodes } as unknown as ConsensusDocument;
}

// With the partner chosen by node ID alone, the second provider (same operator) becomes the partner: this test fails.
test('PIR with only same-operator providers is refused with NoPirPartnerError, no query is sent', async () => {
  const doc = pirDoc(['one-operator', 'one-operator']);
  const retrieval = retrievalFor(doc, doc.nodes[0], undefined, options);
  assert.equal(retrieval.partner, undefined);
  await assert.rejects(retrieval.fetch([]), (error: unknown) => error instanceof NoPirPartnerError && /another operator/.test(error.message) && /one-operator/.test(error.message));
  retrieval.close();
});

test('PIR with a provider of another operator has that provider as the partner', () => {
  const doc = pirDoc(['operator-a', 'operator-b']);
  const retrieval = retrievalFor(doc, doc.nodes[0], undefined, options);
  assert.deepEqual(retrieval.partner?.nodeId, doc.nodes[1].nodeId);
  retrieval.close();
});
