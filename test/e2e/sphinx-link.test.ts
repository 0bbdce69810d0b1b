import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { backends, seededRandom } from '../../src/crypto/index.js';
import { createIdentity } from '../../src/e2e/identity.js';
import { MailEndpoint } from '../../src/e2e/mail-endpoint.js';
import { ackReplyPacket, fragmentPacket, fragmentParamsFor, readAckReply } from '../../src/e2e/sphinx-link.js';
import { DEFAULT_GEOMETRY, Sphinx, SphinxError, umbraV1Suite, type PathHop, type UnwrapResult } from '../../src/sphinx/index.js';
import { makeNode, type TestNode } from '../support/sphinx-nodes.js';

/**
 * The e2e layer over real Sphinx packets: each fragment is one packet's whole payload and carries a
 * real SURB inside its seal; the recipient acknowledges through that SURB (NACK while fragments are missing, ACK
 * once complete) and only the sender can read the answer.
 */
for (const crypto of Object.values(backends)) {
  test(`fragments in Sphinx packets, ACK and NACK back through real SURBs (${crypto.name})`, () => {
    const random = seededRandom(crypto, 21);
    const sphinx = new Sphinx(umbraV1Suite(crypto), DEFAULT_GEOMETRY);
    const params = fragmentParamsFor(sphinx.geometry);
    const nodes: TestNode[] = Array.from({ length: 5 }, () => makeNode(crypto, random));
    const alice = new MailEndpoint(crypto, random, createIdentity(crypto, random, { name: 'Alice', servers: [] }), { fragment: params });
    const bob = new MailEndpoint(crypto, random, createIdentity(crypto, random, { name: 'Bob', servers: [] }), { fragment: params });
    const path = (order: TestNode[], last: PathHop['commands']): PathHop[] =>
      order.map((node, i) => ({ id: node.id, publicKey: node.publicKey, commands: i < order.length - 1 ? [{ type: 'delay', delayMs: 5 }] : last }));
    const through = (order: TestNode[], packet: Uint8Array): UnwrapResult => {
      let result = sphinx.unwrap(order[0].privateKey, packet);
      for (let i = 1; i < order.length && result.kind === 'forward'; i++) result = sphinx.unwrap(order[i].privateKey, result.packet);
      return result;
    };
    const bobMailbox = random(32);
    const aliceMailbox = random(32);
    const surbId = random(16);
    const replyOrder = [...nodes].reverse();

    const mail = random(3 * params.fragmentLength);
    const out = alice.seal(bob.card, mail);
    const tokens: Uint8Array[] = [];
    const delivered: { surb: Uint8Array; fragment: Uint8Array }[] = [];
    // Everything but the last fragment crosses the network first.
    const chunks = alice.shards(out, Array.from({ length: alice.totalFragments(out.dataShards) }, (_, i) => i));
    assert.deepEqual(out.fragments, [], 'fragments that carry a SURB are sealed as they leave');
    chunks.forEach((chunk, shard) => {
      const { surb, decryptionToken } = sphinx.newSurb(path(replyOrder, [{ type: 'recipient', recipient: aliceMailbox }, { type: 'surb-reply', surbId }]), random);
      tokens.push(decryptionToken);
      const fragment = alice.sealShard(out, shard, chunk, { epoch: 7, bytes: surb });
      assert.equal(fragment.length, sphinx.geometry.payloadLength);
      const storedId = random(16);
      const packet = fragmentPacket(sphinx, path(nodes, [{ type: 'recipient', recipient: bobMailbox }, { type: 'surb-reply', surbId: storedId }]), fragment, random);
      const result = through(nodes, packet);
      // The last hop hands it on as it hands on a reply: the whole payload, nothing checked or readable.
      assert.equal(result.kind, 'surb-reply');
      if (result.kind !== 'surb-reply') return;
      assert.deepEqual(result.recipient, bobMailbox);
      assert.deepEqual(result.surbId, storedId);
      assert.deepEqual(result.payload, fragment);
      const opened = bob.open(result.payload);
      assert.equal(opened.surb?.epoch, 7);
      assert.deepEqual(opened.surb?.bytes, surb);
      delivered.push({ surb: opened.surb!.bytes, fragment: result.payload });
    });
    const ackThrough = (surb: Uint8Array, token: Uint8Array, messageId: Uint8Array) => {
      const { firstHop, packet } = ackReplyPacket(sphinx, surb, bob.acknowledgement(messageId));
      assert.deepEqual(firstHop, replyOrder[0].id);
      const reply = through(replyOrder, packet);
      assert.equal(reply.kind, 'surb-reply');
      if (reply.kind !== 'surb-reply') throw new Error('unreachable');
      assert.deepEqual(reply.surbId, surbId);
      return readAckReply(sphinx, reply.payload, token);
    };

    // Withhold the first data fragment and all parity: Bob NACKs through the SURB he holds.
    const firstParity = out.dataShards;
    for (let i = 1; i < firstParity; i++) assert.equal(bob.receive(delivered[i].fragment, 0).status, 'pending');
    const nack = ackThrough(delivered[1].surb, tokens[1], out.messageId);
    assert.equal(nack.kind, 'nack');
    assert.deepEqual(nack.missing, [0]);
    assert.deepEqual(nack.messageId, out.messageId);
    // The resent fragment completes the message; the ACK goes back through its SURB.
    const done = bob.receive(delivered[0].fragment, 0);
    assert.equal(done.status, 'delivered');
    if (done.status === 'delivered') assert.deepEqual(done.mail, mail);
    const ack = ackThrough(delivered[0].surb, tokens[0], out.messageId);
    assert.equal(ack.kind, 'ack');
    // Only the SURB's creator reads the answer: another token does not open it.
    assert.throws(() => ackThrough(delivered[2].surb, tokens[3], out.messageId), (e: unknown) => e instanceof SphinxError && e.code === 'bad-payload');
  });
}
