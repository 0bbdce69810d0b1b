import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backends } from '../../src/crypto/index.js';
import { encodeCommand, katzenpostSuite, Sphinx } from '../../src/sphinx/index.js';
import { hex, readVectors, toHex } from '../support/vectors.js';

/** Katzenpost's published Sphinx vectors (test/vectors/katzenpost/README.md describes them). */
interface VectorCase {
  Nodes: { ID: string; PrivateKey: string }[];
  Path: { ID: string; PublicKey: string; Commands: string[] }[];
  Packets: string[];
  Payload: string;
  Surb: string;
  SurbKeys: string;
}
interface CommandVectors {
  NextHopID: string; NextHopMAC: string; NextHopCmdWant: string;
  RecipientID: string; RecipientCmdWant: string;
  SURBReplyID: string; SURBReplyCmdWant: string;
  NodeDelay: number; NodeDelayCmdWant: string;
}

const cases = readVectors<VectorCase[]>('katzenpost/sphinx_vectors.json');
const geometry = { hops: 5, userForwardPayloadLength: 103, withSurb: false };

test('the vector file holds 10 cases: 5 forward, 5 SURB replies', () => {
  assert.equal(cases.length, 10);
  assert.equal(cases.filter((c) => c.Surb === '').length, 5);
});

for (const crypto of Object.values(backends)) {
  describe(`katzenpost-x25519 on ${crypto.name}`, () => {
    const sphinx = new Sphinx(katzenpostSuite(crypto), geometry);

    test('geometry matches: 611-byte packets, 476-byte header, 572-byte SURB', () => {
      assert.equal(sphinx.geometry.packetLength, 611);
      assert.equal(sphinx.geometry.headerLength, 476);
      assert.equal(sphinx.geometry.surbLength, 572);
    });

    cases.forEach((c, index) => {
      const isSurb = c.Surb !== '';
      const hops = c.Nodes.length;
      test(`case ${index}: ${isSurb ? 'SURB reply' : 'forward'} over ${hops} hop(s), byte for byte at every hop`, () => {
        if (isSurb) {
          const { packet, firstHop } = sphinx.newPacketFromSurb(hex(c.Surb), hex(c.Payload));
          assert.equal(toHex(packet), c.Packets[0], 'reply packet built from the SURB');
          assert.equal(toHex(firstHop), c.Nodes[0].ID);
        }
        for (let i = 0; i < hops; i++) {
          const result = sphinx.unwrap(hex(c.Nodes[i].PrivateKey), hex(c.Packets[i]));
          // The commands each hop reads are the path's commands (plus next hop for non-final hops).
          const own = result.commands.filter((command) => command.type !== 'next-hop');
          assert.deepEqual(own.map((command) => toHex(encodeCommand(command, 32))), c.Path[i].Commands);
          if (i < hops - 1) {
            assert.equal(result.kind, 'forward');
            if (result.kind !== 'forward') return;
            assert.equal(toHex(result.nextHop), c.Nodes[i + 1].ID);
            assert.equal(toHex(result.packet), c.Packets[i + 1], `packet after hop ${i}`);
          } else if (isSurb) {
            assert.equal(result.kind, 'surb-reply');
            if (result.kind !== 'surb-reply') return;
            assert.equal(toHex(sphinx.decryptSurbPayload(result.payload, hex(c.SurbKeys))), c.Payload);
          } else {
            assert.equal(result.kind, 'deliver');
            if (result.kind !== 'deliver') return;
            assert.equal(toHex(result.payload), c.Payload);
          }
        }
      });
    });
  });
}

test('routing command encodings match sphinx_commands_vectors.json', () => {
  const v = readVectors<CommandVectors>('katzenpost/sphinx_commands_vectors.json');
  assert.equal(toHex(encodeCommand({ type: 'next-hop', nodeId: hex(v.NextHopID), mac: hex(v.NextHopMAC) }, 32)), v.NextHopCmdWant);
  assert.equal(toHex(encodeCommand({ type: 'recipient', recipient: hex(v.RecipientID) }, 32)), v.RecipientCmdWant);
  assert.equal(toHex(encodeCommand({ type: 'surb-reply', surbId: hex(v.SURBReplyID) }, 32)), v.SURBReplyCmdWant);
  assert.equal(toHex(encodeCommand({ type: 'delay', delayMs: v.NodeDelay }, 32)), v.NodeDelayCmdWant);
});
