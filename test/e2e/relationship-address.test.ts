import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ByteReader, ByteWriter, hexOf } from '../../src/codec/bytes.js';
import { getCrypto, seededRandom, type Crypto, type RandomSource } from '../../src/crypto/index.js';
import { createIdentity } from '../../src/e2e/identity.js';
import { MailEndpoint, type Outgoing } from '../../src/e2e/mail-endpoint.js';
import { mailboxAddress } from '../../src/e2e/mailbox-address.js';
import { deliveryAddress, relationshipAddress, relationshipKey } from '../../src/e2e/relationship-address.js';

/**
 * Mailbox addresses after first contact (docs/e2e-card.md, "Relationship and own addresses"): the
 * card's address serves first contact only; session mail goes to addresses keyed from the session,
 * which both ends compute alike and a card holder cannot; ACK SURBs and loops go to an own address
 * no card carries; a rotated card's old address is polled through its grace period only.
 */
const crypto: Crypto = getCrypto('sodium');
const EPOCH = 1234;
const NOW = 1_790_000_000_000;

function endpoint(random: RandomSource, name: string): MailEndpoint {
  return new MailEndpoint(crypto, random, createIdentity(crypto, random, { name, servers: [`${name}.example:7000`] }), { cardCreatedAt: 1_790_000_000 });
}

function deliverAll(to: MailEndpoint, outgoing: Outgoing): void {
  const statuses = outgoing.fragments.map((fragment) => to.receive(fragment, NOW).status);
  assert.ok(statuses.includes('delivered'), 'the message opens');
}

function addressOf(from: MailEndpoint, outgoing: Outgoing, epoch = EPOCH): Uint8Array {
  const card = from.contactList().find((c) => hexOf(c.card.x25519Public) === hexOf(outgoing.recipient))!.card;
  return deliveryAddress(crypto, { addressKey: outgoing.addressKey, recipient: outgoing.recipient, cardMailboxSecret: card.mailboxSecret }, epoch);
}

function polls(endpoint: MailEndpoint, address: Uint8Array, epoch = EPOCH, now = NOW): boolean {
  return endpoint.pollAddresses(epoch, now).some((a) => hexOf(a) === hexOf(address));
}

const mail = new TextEncoder().encode('From: a\r\nTo: b\r\nSubject: s\r\n\r\nhello\r\n');

/** Alice writes first; Bob answers; Alice writes again. */
function conversation(random: RandomSource) {
  const alice = endpoint(random, 'alice');
  const bob = endpoint(random, 'bob');
  const first = alice.seal(bob.card, mail);
  deliverAll(bob, first);
  const reply = bob.seal(alice.card, mail);
  deliverAll(alice, reply);
  const second = alice.seal(bob.card, mail);
  return { alice, bob, first, reply, second };
}

/** A version-2 state from a version-3 one: no retired secrets, no address keys (the layout of docs/e2e.md before). */
function downgradeToV2(state: Uint8Array): Uint8Array {
  const r = new ByteReader(state, 'state');
  const w = new ByteWriter(state.length);
  w.bytes(r.bytesOf(4, 'magic'));
  assert.equal(r.u8('version'), 3);
  w.u8(2).prefixed(4, r.prefixed(4, 1 << 16, 'identity')).u64(r.u64('card')).u64(r.u64('clock'));
  assert.equal(r.u8('retired'), 0);
  const contacts = r.u32('contacts');
  w.u32(contacts);
  for (let i = 0; i < contacts; i++) w.prefixed(2, r.prefixed(2, 4096, 'card'));
  const sessions = r.u32('sessions');
  w.u32(sessions);
  for (let i = 0; i < sessions; i++) {
    w.text(1, r.text(1, 64, 'id')).text(1, r.text(1, 64, 'peer')).u64(r.u64('used'));
    const flag = r.u8('flag');
    w.u8(flag);
    if (flag === 1) w.bytes(r.bytesOf(32, 'secret'));
    r.bytesOf(32, 'address key');
    w.prefixed(4, r.prefixed(4, 1 << 20, 'ratchet'));
  }
  r.end();
  return w.finish();
}

describe('relationship addresses', () => {
  test('a first contact goes to the card address; every later message to a session address only the two ends compute', () => {
    const { alice, bob, first, reply, second } = conversation(seededRandom(crypto, 1));
    const bobCardAddress = mailboxAddress(crypto, bob.card.mailboxSecret, EPOCH);
    assert.equal(first.addressKey, undefined, 'the first contact has no session the recipient holds');
    assert.equal(hexOf(addressOf(alice, first)), hexOf(bobCardAddress));
    // Bob answers in the session Alice started: Alice polls its address for her.
    assert.ok(reply.addressKey !== undefined);
    assert.ok(polls(alice, addressOf(bob, reply)));
    // Alice's next message goes to the session's address for Bob, which Bob polls; not to his card's.
    assert.ok(second.addressKey !== undefined);
    const sessionAddress = addressOf(alice, second);
    assert.notEqual(hexOf(sessionAddress), hexOf(bobCardAddress));
    assert.ok(polls(bob, sessionAddress));
    deliverAll(bob, second);
    // The two directions differ, and the address changes every epoch.
    assert.notEqual(hexOf(addressOf(bob, reply)), hexOf(sessionAddress));
    assert.notEqual(hexOf(addressOf(alice, second, EPOCH + 1)), hexOf(sessionAddress));
    assert.ok(polls(bob, addressOf(alice, second, EPOCH + 1), EPOCH + 1));
  });

  test('a card holder computes the card address alone: not the own address, not any session address', () => {
    const { alice, bob, second } = conversation(seededRandom(crypto, 2));
    const holderView = new Set([EPOCH, EPOCH - 1].map((e) => hexOf(mailboxAddress(crypto, bob.card.mailboxSecret, e))));
    const bobPolls = bob.pollAddresses(EPOCH, NOW).map(hexOf);
    assert.equal(bobPolls.filter((a) => holderView.has(a)).length, 1, 'of what Bob polls, the card holder knows the card address alone');
    assert.ok(!holderView.has(hexOf(bob.ownAddress(EPOCH))));
    assert.ok(!holderView.has(hexOf(addressOf(alice, second))));
    assert.ok(polls(bob, bob.ownAddress(EPOCH)), 'the own address (ACKs, loops) is polled');
    // The session address is keyed from SK, which only the sealed first contact carried.
    assert.equal(hexOf(relationshipAddress(crypto, second.addressKey!, bob.identity.x25519Public, EPOCH)), hexOf(addressOf(alice, second)));
    assert.notEqual(hexOf(second.addressKey!), hexOf(relationshipKey(crypto, bob.card.mailboxSecret)));
  });

  test('rotating the card: a new first-contact address, the old one polled through the grace only, sessions unchanged', () => {
    const random = seededRandom(crypto, 3);
    const { alice, bob, second } = conversation(random);
    const oldCard = bob.card;
    const oldAddress = mailboxAddress(crypto, oldCard.mailboxSecret, EPOCH);
    const before = bob.pollAddresses(EPOCH, NOW).map(hexOf);
    const newCard = bob.rotateCard(0, NOW, NOW + 3_600_000);
    assert.ok(newCard.createdAt > oldCard.createdAt, 'contacts take the new card as newer');
    assert.notEqual(hexOf(newCard.mailboxSecret), hexOf(oldCard.mailboxSecret));
    assert.ok(polls(bob, mailboxAddress(crypto, newCard.mailboxSecret, EPOCH)));
    assert.ok(polls(bob, oldAddress, EPOCH, NOW + 3_599_999), 'in grace');
    assert.ok(!polls(bob, oldAddress, EPOCH, NOW + 3_600_000), 'past the grace');
    // Alice's session is unaffected: her next message goes where it went, and Bob opens it.
    assert.ok(polls(bob, addressOf(alice, second)));
    assert.ok(before.includes(hexOf(bob.ownAddress(EPOCH))));
    const third = alice.seal(oldCard, mail);
    assert.ok(polls(bob, addressOf(alice, third)));
    deliverAll(bob, third);
    // The rotation survives a restart.
    const restored = MailEndpoint.restore(crypto, random, bob.exportState());
    assert.equal(hexOf(restored.card.mailboxSecret), hexOf(newCard.mailboxSecret));
    assert.deepEqual(restored.pollAddresses(EPOCH, NOW).map(hexOf), bob.pollAddresses(EPOCH, NOW).map(hexOf));
  });

  test('a version-2 state decodes: its sessions get legacy address keys on which both ends agree', () => {
    const random = seededRandom(crypto, 4);
    const { alice, bob } = conversation(random);
    const alice2 = MailEndpoint.restore(crypto, random, downgradeToV2(alice.exportState()));
    const bob2 = MailEndpoint.restore(crypto, random, downgradeToV2(bob.exportState()));
    const next = alice2.seal(bob2.card, mail);
    assert.ok(next.addressKey !== undefined);
    assert.ok(polls(bob2, addressOf(alice2, next)));
    deliverAll(bob2, next);
    const back = bob2.seal(alice2.card, mail);
    assert.ok(polls(alice2, addressOf(bob2, back)));
    deliverAll(alice2, back);
    // Saved again, it is version 3 and keeps its keys.
    const again = MailEndpoint.restore(crypto, random, bob2.exportState());
    assert.deepEqual(again.pollAddresses(EPOCH, NOW).map(hexOf), bob2.pollAddresses(EPOCH, NOW).map(hexOf));
  });
});
