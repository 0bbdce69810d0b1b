import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import { backends, seededRandom, type Crypto, type RandomSource } from '../../src/crypto/index.js';
import { createIdentity, migrateReplySecret } from '../../src/e2e/identity.js';
import { ByteWriter } from '../../src/codec/bytes.js';
import { MailEndpoint, type Delivery, type Outgoing } from '../../src/e2e/mail-endpoint.js';
import { stripeLayout, type Stripe } from '../../src/e2e/fragment.js';
import { E2eError, type E2eErrorCode } from '../../src/e2e/errors.js';
import { flipBit } from '../support/bytes.js';
import { parseHeaders, rfc5322 } from '../support/mail.js';

/** Whole mails through the end-to-end layer: seal, fragment, lose, reorder, tamper, replay, open. */

function endpoint(crypto: Crypto, random: RandomSource, name: string, options = {}): MailEndpoint {
  return new MailEndpoint(crypto, random, createIdentity(crypto, random, { name, servers: [`${name.toLowerCase()}.example:7000`] }), {
    cardCreatedAt: 1_790_000_000,
    ...options,
  });
}

/** Feeds fragments in the given order; returns the delivery, if one completed the message. */
function deliver(to: MailEndpoint, fragments: Uint8Array[], now = 0): Extract<Delivery, { status: 'delivered' }> | undefined {
  let delivered: Extract<Delivery, { status: 'delivered' }> | undefined;
  for (const fragment of fragments) {
    const result = to.receive(fragment, now);
    if (result.status === 'delivered') {
      assert.equal(delivered, undefined, 'a message is delivered once');
      delivered = result;
    }
  }
  return delivered;
}

function throwsE2e(fn: () => unknown, codes: readonly E2eErrorCode[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof E2eError, `expected an E2eError, got ${String(error)}`);
    assert.ok(codes.includes(error.code), `expected ${codes.join(' or ')}, got ${error.code}`);
    return true;
  });
}

/** Every shard index of a stripe: its data shards, then its parity shards. */
function stripeIndices(stripe: Stripe): number[] {
  const data = Array.from({ length: stripe.dataShards }, (_, i) => stripe.firstData + i);
  const parity = Array.from({ length: stripe.parityShards }, (_, i) => stripe.firstParity + i);
  return [...data, ...parity];
}

function shuffled<T>(items: T[], random: RandomSource): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = new DataView(random(4).buffer).getUint32(0) % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

for (const crypto of Object.values(backends)) {
  const fast = crypto.name === 'sodium';
  describe(`mail on ${crypto.name}`, () => {
    test('a conversation: first contacts until answered, then the ratchet; headers and bodies intact', () => {
      const random = seededRandom(crypto, 11);
      const alice = endpoint(crypto, random, 'Alice');
      const bob = endpoint(crypto, random, 'Bob');
      const turns: [MailEndpoint, MailEndpoint][] = [[alice, bob], [alice, bob], [bob, alice], [alice, bob], [bob, alice], [bob, alice], [alice, bob]];
      turns.forEach(([from, to], n) => {
        const mail = rfc5322(random, 200 + n * 300, n);
        const out = from.seal(to.card, mail.bytes);
        const delivered = deliver(to, shuffled(out.fragments, random));
        assert.ok(delivered, `turn ${n} delivered`);
        assert.deepEqual(delivered.mail, mail.bytes);
        assert.deepEqual(parseHeaders(delivered.mail), mail.headers);
        assert.equal(delivered.from.name, from.card.name);
        assert.equal(delivered.newContact, n === 0, 'only the very first message introduces its sender');
      });
    });

    test('round trips of random content and sizes, headers recovered, fragments all the same size', () => {
      const random = seededRandom(crypto, 12);
      const alice = endpoint(crypto, random, 'Alice');
      const bob = endpoint(crypto, random, 'Bob');
      const sizes = fast ? [0, 1, 1000, 1900, 1960, 4000, 100 * 1024, 1024 * 1024] : [0, 1, 1960, 20 * 1024];
      for (const size of sizes) {
        const mail = rfc5322(random, size);
        const out = alice.seal(bob.card, mail.bytes);
        assert.ok(out.fragments.every((f) => f.length === alice.params.fragmentLength));
        assert.equal(out.fragments.length, alice.totalFragments(out.dataShards));
        assert.equal(out.dataShards & (out.dataShards - 1), 0, 'the data shard count is a power of two (the size class)');
        const delivered = deliver(bob, out.fragments);
        assert.ok(delivered);
        assert.deepEqual(delivered.mail, mail.bytes);
        assert.deepEqual(parseHeaders(delivered.mail), mail.headers);
      }
    });

    if (fast) {
      test('a 10 MiB mail arrives intact', () => {
        const random = seededRandom(crypto, 13);
        const alice = endpoint(crypto, random, 'Alice');
        const bob = endpoint(crypto, random, 'Bob');
        const mail = rfc5322(random, 10 * 1024 * 1024);
        const delivered = deliver(bob, alice.seal(bob.card, mail.bytes).fragments);
        assert.ok(delivered);
        assert.equal(delivered.mail.length, mail.bytes.length);
        assert.deepEqual(delivered.mail, mail.bytes);
      });
    }

    test('size leaks only the size class: mails of different lengths in one size class give the same fragment count', () => {
      const random = seededRandom(crypto, 14);
      const alice = endpoint(crypto, random, 'Alice');
      const bob = endpoint(crypto, random, 'Bob');
      const counts = [5000, 5500, 7000].map((size) => alice.seal(bob.card, random(size)).fragments.length);
      assert.equal(new Set(counts).size, 1);
    });

    test('any tampered byte of a fragment is detected; the message still completes from the intact ones', () => {
      const random = seededRandom(crypto, 15);
      const alice = endpoint(crypto, random, 'Alice');
      const bob = endpoint(crypto, random, 'Bob');
      const mail = rfc5322(random, 3000);
      const out = alice.seal(bob.card, mail.bytes);
      fc.assert(fc.property(fc.integer({ min: 0, max: out.fragments.length - 1 }), fc.nat(), (index, bit) => {
        const fragment = out.fragments[index];
        throwsE2e(() => bob.receive(flipBit(fragment, bit % (fragment.length * 8)), 0), ['not-for-me']);
      }), { seed: 15, numRuns: fast ? 200 : 30 });
      const delivered = deliver(bob, out.fragments);
      assert.deepEqual(delivered?.mail, mail.bytes);
    });

    test('a replayed message is rejected: by reassembly while remembered, by the ratchet after', () => {
      const random = seededRandom(crypto, 16);
      const alice = endpoint(crypto, random, 'Alice');
      const bob = endpoint(crypto, random, 'Bob', { reassembly: { rememberCompleted: 1 } });
      const first = alice.seal(bob.card, rfc5322(random, 100, 1).bytes);
      assert.ok(deliver(bob, first.fragments));
      for (const fragment of first.fragments) assert.equal(bob.receive(fragment, 0).status, 'already-complete');
      // Another message pushes the first out of reassembly's memory; its replay reaches the ratchet.
      assert.ok(deliver(bob, alice.seal(bob.card, rfc5322(random, 100, 2).bytes).fragments));
      const [head, ...rest] = first.fragments;
      let replayed: unknown;
      try {
        deliver(bob, [head, ...rest]);
      } catch (error) {
        replayed = error;
      }
      assert.ok(replayed instanceof E2eError && replayed.code === 'replay', `expected replay, got ${String(replayed)}`);
      // A replayed answer (ratchet message, not first contact) is rejected the same way.
      const answer = bob.seal(alice.card, rfc5322(random, 100, 3).bytes);
      assert.ok(deliver(alice, answer.fragments));
    });

    test('loss up to each stripe’s parity is survived; beyond it a NACK names what is missing and the resend completes', () => {
      const random = seededRandom(crypto, 17);
      const alice = endpoint(crypto, random, 'Alice');
      const bob = endpoint(crypto, random, 'Bob');
      const size = fast ? 150_000 : 30_000;
      fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
        const pick = seededRandom(crypto, seed);
        const mail = random(size);
        const out: Outgoing = alice.seal(bob.card, mail);
        const layout = stripeLayout(alice.params, out.dataShards);
        // Lose exactly each stripe's parity count of fragments, anywhere in the stripe.
        const lost = new Set<number>();
        for (const stripe of layout.stripes) {
          for (const i of shuffled(stripeIndices(stripe), pick).slice(0, stripe.parityShards)) lost.add(i);
        }
        const survivors = out.fragments.filter((_, i) => !lost.has(i));
        assert.deepEqual(deliver(bob, shuffled(survivors, pick))?.mail, mail);

        // One more loss in one stripe: the message cannot complete; the NACK names data shards to resend.
        const again = alice.seal(bob.card, mail);
        const stripe = layout.stripes[0];
        const dropped = new Set(shuffled(stripeIndices(stripe), pick).slice(0, stripe.parityShards + 1));
        const partial = again.fragments.filter((_, i) => !dropped.has(i));
        assert.equal(deliver(bob, partial), undefined);
        const nack = bob.acknowledgement(again.messageId);
        assert.equal(nack.kind, 'nack');
        assert.ok(nack.missing.length >= 1 && nack.missing.every((i) => dropped.has(i)), 'the NACK names only lost data shards');
        const fresh = alice.resend(again, nack.missing);
        fresh.forEach((fragment, i) => assert.notDeepEqual(fragment.subarray(0, 32), again.fragments[nack.missing[i]].subarray(0, 32)));
        const resent = deliver(bob, fresh);
        assert.deepEqual(resent?.mail, mail);
        assert.equal(bob.acknowledgement(again.messageId).kind, 'ack');
      }), { seed: 17, numRuns: fast ? 6 : 2 });
    });

    test('exported state restores the endpoint: the conversation goes on after a restart', () => {
      const random = seededRandom(crypto, 19);
      let alice = endpoint(crypto, random, 'Alice');
      let bob = endpoint(crypto, random, 'Bob');
      const say = (from: MailEndpoint, to: MailEndpoint, text: string): void => {
        const delivered = deliver(to, from.seal(to.card, new TextEncoder().encode(text)).fragments);
        assert.equal(new TextDecoder().decode(delivered?.mail), text);
      };
      say(alice, bob, 'one');
      say(alice, bob, 'two'); // still a first contact: Bob has not answered
      alice = MailEndpoint.restore(crypto, random, alice.exportState());
      bob = MailEndpoint.restore(crypto, random, bob.exportState());
      say(bob, alice, 'three');
      say(alice, bob, 'four');
      alice = MailEndpoint.restore(crypto, random, alice.exportState());
      say(alice, bob, 'five');
      say(bob, alice, 'six');
      assert.deepEqual(alice.contactList().map((c) => c.card.name), ['Bob']);
      const state = bob.exportState();
      throwsE2e(() => MailEndpoint.restore(crypto, random, state.subarray(0, state.length - 1)), ['bad-state']);
      throwsE2e(() => MailEndpoint.restore(crypto, random, random(300)), ['bad-state']);
      fc.assert(fc.property(fc.nat(state.length * 8 - 1), (bit) => {
        try {
          MailEndpoint.restore(crypto, random, flipBit(state, bit));
        } catch (error) {
          assert.ok(error instanceof E2eError && error.code === 'bad-state', String(error));
        }
      }), { seed: 19, numRuns: fast ? 100 : 10 });
    });

    test('garbage, fragments for someone else and unknown sessions are typed errors and change nothing', () => {
      const random = seededRandom(crypto, 18);
      const alice = endpoint(crypto, random, 'Alice');
      const bob = endpoint(crypto, random, 'Bob');
      const carol = endpoint(crypto, random, 'Carol');
      const length = alice.params.fragmentLength;
      fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 2 * length }), (bytes) => {
        throwsE2e(() => bob.receive(bytes, 0), ['not-for-me']);
      }), { seed: 18, numRuns: fast ? 100 : 20 });
      for (const fragment of alice.seal(carol.card, random(500)).fragments) throwsE2e(() => bob.receive(fragment, 0), ['not-for-me']);
      // Bob never met Carol: her ratchet message to Alice, re-sealed to Bob, opens no session of his.
      const mail = rfc5322(random, 100);
      assert.ok(deliver(bob, alice.seal(bob.card, mail.bytes).fragments));
    });
  });
}

test('an endpoint state holding a version 1 identity (a keystore from before reply secrets) restores with a derived reply secret and is written back as version 2', () => {
  const crypto = backends.sodium;
  const random = seededRandom(crypto, 77);
  const alice = endpoint(crypto, random, 'Alice');
  const bob = endpoint(crypto, random, 'Bob');
  alice.addContact(bob.card);
  const state = alice.exportState();
  const id = alice.identity;
  // The state is "UMBE" ‖ version ‖ u32 length ‖ identity ‖ …: put the version 1 identity in its place.
  const identityLength = new DataView(state.buffer, state.byteOffset).getUint32(5);
  const v1 = new ByteWriter().bytes(new TextEncoder().encode('UMBI')).u8(1);
  for (const key of [id.x25519Secret, id.x25519Public, id.ed25519Seed, id.ed25519Public, id.mailboxSecret]) v1.bytes(key);
  v1.text(1, id.name).u8(id.servers.length);
  for (const server of id.servers) v1.text(1, server);
  const oldIdentity = v1.finish();
  const old = new ByteWriter().bytes(state.subarray(0, 5)).prefixed(4, oldIdentity).bytes(state.subarray(9 + identityLength)).finish();

  const restored = MailEndpoint.restore(crypto, random, old);
  assert.deepEqual(restored.identity.replySecret, migrateReplySecret(crypto, id.x25519Secret));
  assert.deepEqual(restored.identity.mailboxSecret, id.mailboxSecret);
  assert.equal(restored.contactList().length, 1, 'the contacts came along');
  const rewritten = restored.exportState();
  assert.equal(rewritten[9 + 4], 2, 'the identity is written as version 2');
  assert.deepEqual(MailEndpoint.restore(crypto, random, rewritten).identity, restored.identity);
});
