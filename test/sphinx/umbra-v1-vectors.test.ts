import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backends } from '../../src/crypto/index.js';
import { Sphinx, umbraV1Suite } from '../../src/sphinx/index.js';
import { generateUmbraVectors, type UmbraVectorCase } from '../support/umbra-vectors.js';
import { hex, readVectors, toHex } from '../support/vectors.js';

/** umbra-v1 known answers, committed once as data; every backend must reproduce them exactly. */
const cases = readVectors<UmbraVectorCase[]>('umbra-v1/sphinx_vectors.json');

test('the umbra-v1 vector file holds 5 forward and 5 SURB cases', () => {
  assert.equal(cases.length, 10);
  assert.equal(cases.filter((c) => c.Surb !== '').length, 5);
});

for (const crypto of Object.values(backends)) {
  describe(`umbra-v1 on ${crypto.name}`, () => {
    test('creation from the recorded seeds reproduces every byte', () => {
      assert.deepEqual(generateUmbraVectors(crypto), cases);
    });

    cases.forEach((c, index) => {
      test(`case ${index}: every hop unwraps to the recorded packet`, () => {
        const sphinx = new Sphinx(umbraV1Suite(crypto), c.Geometry);
        const hops = c.Nodes.length;
        for (let i = 0; i < hops; i++) {
          const result = sphinx.unwrap(hex(c.Nodes[i].PrivateKey), hex(c.Packets[i]));
          if (i < hops - 1) {
            assert.equal(result.kind, 'forward');
            if (result.kind === 'forward') assert.equal(toHex(result.packet), c.Packets[i + 1]);
          } else if (c.Surb !== '') {
            assert.equal(result.kind, 'surb-reply');
            if (result.kind === 'surb-reply') assert.equal(toHex(sphinx.decryptSurbPayload(result.payload, hex(c.SurbKeys))), c.Payload);
          } else {
            assert.equal(result.kind, 'deliver');
            if (result.kind === 'deliver') assert.equal(toHex(result.payload), c.Payload);
          }
        }
      });
    });
  });
}
