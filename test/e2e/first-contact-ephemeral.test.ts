import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hexOf } from '../../src/codec/bytes.js';
import { backends, seededRandom, type Crypto, type RandomSource } from '../../src/crypto/index.js';
import { EnvelopeKind } from '../../src/e2e/envelope.js';
import { openFragment } from '../../src/e2e/fragment.js';
import { createIdentity } from '../../src/e2e/identity.js';
import { MailEndpoint, type Outgoing } from '../../src/e2e/mail-endpoint.js';
import { unframe } from '../../src/e2e/padding.js';

/**
 * First contacts of one unanswered session are each sealed under a fresh ephemeral key, so no two
 * share Noise's payload key, nonce and associated data (which would give away the XOR of the two
 * plaintexts and Poly1305's one-time key). Resent shards are new seals too. Without the fix (every
 * first contact re-sealed from the session's one stored ephemeral secret, as in the version-1
 * endpoint) the envelope ephemerals below are equal and the first assertion fails.
 */

function endpoint(crypto: Crypto, random: RandomSource, name: string): MailEndpoint {
  const identity = createIdentity(crypto, random, { name, servers: [`${name.toLowerCase()}.example:7000`] });
  return new MailEndpoint(crypto, random, identity, { cardCreatedAt: 1_790_000_000 });
}

/** The sealed first contact's ephemeral public key, as the recipient sees it after opening the fragments. */
function envelopeEphemeral(crypto: Crypto, recipient: MailEndpoint, out: Outgoing): string {
  const chunks = out.fragments
    .map((fragment) =>
      openFragment(crypto, recipient.params, recipient.identity.x25519Secret, recipient.identity.x25519Public, fragment),
    )
    .filter((opened) => opened.shardIndex < out.dataShards)
    .sort((a, b) => a.shardIndex - b.shardIndex)
    .map((opened) => opened.chunk);
  const data = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  chunks.reduce((offset, chunk) => (data.set(chunk, offset), offset + chunk.length), 0);
  const { kind, envelope } = unframe(data);
  assert.equal(kind, EnvelopeKind.firstContact);
  return hexOf(envelope.subarray(0, 32));
}

for (const crypto of Object.values(backends)) {
  describe(`first contact ephemerals on ${crypto.name}`, () => {
    test('two first contacts of one content and their resends never share an ephemeral key, and all open', () => {
      const random = seededRandom(crypto, 91);
      const alice = endpoint(crypto, random, 'Alice');
      const bob = endpoint(crypto, random, 'Bob');
      const mail = new TextEncoder().encode('Subject: hello\r\n\r\nthe same words twice\r\n');
      const first = alice.seal(bob.card, mail);
      const second = alice.seal(bob.card, mail); // Bob has not answered: a first contact again
      const e1 = envelopeEphemeral(crypto, bob, first);
      const e2 = envelopeEphemeral(crypto, bob, second);
      assert.notEqual(e1, e2, 'each first contact is sealed under its own ephemeral key');

      const resent = alice.resend(first, [0]);
      const outer = [...first.fragments, ...second.fragments, ...resent].map((fragment) => hexOf(fragment.subarray(0, 32)));
      assert.equal(new Set([...outer, e1, e2]).size, outer.length + 2, 'no fragment or envelope ephemeral repeats');

      // Both open, in either order, into one session: the resent shard completes the first message.
      const secondDelivery = second.fragments.map((fragment) => bob.receive(fragment, 0)).find((d) => d.status === 'delivered');
      assert.ok(secondDelivery !== undefined && secondDelivery.status === 'delivered');
      assert.deepEqual(secondDelivery.mail, mail);
      const firstDelivery = [...resent, ...first.fragments.slice(1)].map((fragment) => bob.receive(fragment, 0)).find((d) => d.status === 'delivered');
      assert.ok(firstDelivery !== undefined && firstDelivery.status === 'delivered');
      assert.deepEqual(firstDelivery.mail, mail);
      assert.equal(firstDelivery.newContact, false, 'the second first contact already made Alice a contact');

      // Bob's answer reaches Alice in the same session, after which she writes ratchet messages.
      const answer = bob.seal(alice.card, mail);
      const answered = answer.fragments.map((fragment) => alice.receive(fragment, 0)).find((d) => d.status === 'delivered');
      assert.ok(answered !== undefined && answered.status === 'delivered');
      const third = alice.seal(bob.card, mail);
      assert.equal(unframe(third.frame).kind, EnvelopeKind.ratchet);
      const delivered = third.fragments.map((fragment) => bob.receive(fragment, 0)).find((d) => d.status === 'delivered');
      assert.ok(delivered !== undefined && delivered.status === 'delivered');
    });

    test('an exported unanswered session keeps announcing the same session under fresh ephemerals', () => {
      const random = seededRandom(crypto, 92);
      const alice = endpoint(crypto, random, 'Alice');
      const bob = endpoint(crypto, random, 'Bob');
      const mail = new TextEncoder().encode('Subject: again\r\n\r\nbody\r\n');
      const before = alice.seal(bob.card, mail);
      const restored = MailEndpoint.restore(crypto, random, alice.exportState());
      const after = restored.seal(bob.card, mail);
      assert.notEqual(envelopeEphemeral(crypto, bob, before), envelopeEphemeral(crypto, bob, after));
      for (const out of [after, before]) {
        const delivered = out.fragments.map((fragment) => bob.receive(fragment, 0)).find((d) => d.status === 'delivered');
        assert.ok(delivered !== undefined && delivered.status === 'delivered');
        assert.deepEqual(delivered.mail, mail);
      }
    });
  });
}
