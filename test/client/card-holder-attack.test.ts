/**
 * The card-holder attack (docs/client.md, "Mailbox addresses"), against the real node processes in
 * PIR mode: Mallory holds Bob's card but has no session with him. She asks Bob's provider for the
 * epoch and for the bucket of his card address in the clear, and she reads that bucket by PIR as
 * any client may, counting the items under the card's address. While Bob receives session mail,
 * sends mail (an ACK comes back) and runs his loops, her count does not move: she learns nothing
 * per epoch. The plaintext fetches are refused with 'pir-only'.
 *
 * Planted-leak control: the same measurement on Carol, with the endpoint patched back to the old
 * addressing (session mail, ACK SURBs and loops all to the card's address), sees the count jump, so
 * the test can fail. Checked against the old code: with the provider's 'pir-only' check removed,
 * the first test fails at once (both fetches answer 'ok' with the epoch's items); the old
 * addressing is what the control plants, and there the count rises with the mail, ACK and loops.
 *
 * Then Bob rotates his card with no grace: Alice, who has a session with him, keeps reaching him.
 */
import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { hexOf } from '../../src/codec/bytes.js';
import { fetchCurrentConsensus, initClient, startClient, type ClientAgent } from '../../src/client/index.js';
import { MailboxFetcher } from '../../src/client/mailbox-fetcher.js';
import { PirRetrieval } from '../../src/client/pir-retrieval.js';
import { cardFromUri } from '../../src/e2e/card.js';
import { MailEndpoint } from '../../src/e2e/mail-endpoint.js';
import { mailboxAddress } from '../../src/e2e/mailbox-address.js';
import { RequestRefusal } from '../../src/net/request-channel.js';
import { DEFAULT_NETWORK_PARAMETERS, type NodeDescriptor } from '../../src/pki/index.js';
import type { ProviderHandle } from '../../src/node/provider/index.js';
import { bucketOf } from '../../src/store/mailbox.js';
import { RETRIEVAL_ERRORS } from '../../src/wire/retrieval-errors.js';
import { crypto, TestNetwork } from '../node/pir/support.js';
import { FAST_KDF, TEST_NETWORK_POLICY } from './support.js';

const GENESIS = 2_050_000_000_000;
let net: TestNetwork;
const agents: ClientAgent[] = [];
const closers: (() => void)[] = [];

before(async () => {
  net = await TestNetwork.start({ label: 'cardholder', retrieval: 'pir', genesisMs: GENESIS, pir: { refreshMs: 500 } });
  net.pumpLimit = GENESIS + 58_000; // everything happens in epoch 0
});

after(async () => {
  for (const close of closers) close();
  for (const agent of agents) await agent.close().catch(() => undefined);
  await net?.close();
});

async function user(name: string, provider: ProviderHandle) {
  const dir = join(net.tempDir('umbra-cardholder-'), name);
  const init = await initClient(dir, {
    name, passphrase: 'pw', authority: { url: net.authority.url, publicKeys: [net.authorityKey] },
    servers: [net.server(provider)], kdf: FAST_KDF, clock: net.clock, ...TEST_NETWORK_POLICY,
  });
  const agent = await startClient(dir, 'pw', { clock: net.clock });
  agents.push(agent);
  return { init, agent };
}

async function pollUntil(what: string, agents: readonly ClientAgent[], condition: () => boolean): Promise<void> {
  let round = 0;
  await net.until(what, async () => {
    if (round++ % 10 === 0) for (const agent of agents) await agent.poll();
    return condition();
  }, 60_000);
}

/** What Mallory, holding a card and nothing else, can do against the card owner's provider. */
class CardHolder {
  private readonly fetcher: MailboxFetcher;

  constructor(private readonly cardUri: string, private readonly provider: NodeDescriptor, private readonly partner: NodeDescriptor) {
    this.fetcher = new MailboxFetcher(provider, 10_000, 1 << 20);
    closers.push(() => this.fetcher.close());
  }

  /** The card's address of the current epoch (the card as she holds it, whatever its owner did since). */
  address(): Uint8Array {
    return mailboxAddress(crypto, cardFromUri(crypto, this.cardUri).mailboxSecret, this.epoch());
  }

  epoch(): number {
    return Math.floor((net.clock.now() - GENESIS) / 60_000);
  }

  /** The provider's refusal codes for a whole-epoch and a bucket fetch in the clear ('ok' when it answered). */
  async plaintextFetches(): Promise<string[]> {
    const epoch = this.epoch();
    const outcome = async (fetch: () => Promise<unknown>): Promise<string> => {
      try {
        await fetch();
        return 'ok';
      } catch (error) {
        if (error instanceof RequestRefusal) return Object.entries(RETRIEVAL_ERRORS).find(([, code]) => code === error.code)?.[0] ?? String(error.code);
        throw error;
      }
    };
    return [
      await outcome(() => this.fetcher.fetchEpoch(epoch)),
      await outcome(() => this.fetcher.fetchBucket(epoch, bucketOf(this.address(), epoch, 16), 16)),
    ];
  }

  /**
   * Items under the card's address in this epoch, read by PIR from a snapshot that holds everything
   * stored so far: every page of the bucket (a reader takes the further pages of a full bucket in
   * later polls, and never again what it read: one long-lived reader counted only what was new).
   */
  async count(): Promise<number> {
    net.clock.advance(600); // past the snapshot refresh
    const address = hexOf(this.address());
    // A reader of its own each time: one remembers the pages it read and does not read them again.
    const pir = new PirRetrieval({ crypto, provider: this.provider, partner: this.partner, timeoutMs: 10_000, pir: DEFAULT_NETWORK_PARAMETERS.pir });
    const seen = new Set<string>();
    try {
      for (let poll = 0; poll < 64; poll++) {
        const fetched = await pir.fetch([[this.epoch(), this.address()]]);
        assert.equal(fetched.mismatches.length, 0);
        for (const item of fetched.results[0]) if (hexOf(item.address) === address) seen.add(hexOf(item.ciphertext));
        if (fetched.more === 0) break;
      }
    } finally {
      pir.close();
    }
    return seen.size;
  }
}

async function descriptors(): Promise<[NodeDescriptor, NodeDescriptor]> {
  const doc = await fetchCurrentConsensus(crypto, { url: net.authority.url, publicKeys: [net.authorityKey] }, net.clock.now());
  const [p1, p2] = net.providers;
  const find = (name: string) => doc.nodes.find((node) => node.name === name)!;
  return [find(p1.name), find(p2.name)];
}

/**
 * Target and contact set up a session (a first contact to the card address, answered); the card
 * holder counts; then session mail both ways, an ACK and loops; the card holder counts again.
 * Returns both counts.
 */
async function observe(target: Awaited<ReturnType<typeof user>>, contact: Awaited<ReturnType<typeof user>>, mallory: CardHolder): Promise<{ before: number; after: number }> {
  contact.agent.addContact(target.init.cardUri);
  target.agent.addContact(contact.init.cardUri);
  await contact.agent.send({ to: target.agent.name, subject: 'first', body: 'A first contact, to the card address.' });
  await pollUntil('the first contact', [target.agent], () => target.agent.inbox().length === 1);
  const reply = await target.agent.send({ to: contact.agent.name, subject: 'reply', body: 'Now we have a session.' });
  await pollUntil('the reply and its ACK', [target.agent, contact.agent], () =>
    contact.agent.inbox().length === 1 && target.agent.sent().find((s) => s.id === reply.id)?.status === 'delivered');
  const before = await mallory.count();
  const loopsBefore = target.agent.status().loops.returned;

  // Activity Mallory must not see: two session mails in, one mail out with its ACK, loops.
  await contact.agent.send({ to: target.agent.name, subject: 'in 1', body: 'one' });
  await contact.agent.send({ to: target.agent.name, subject: 'in 2', body: 'two' });
  const out = await target.agent.send({ to: contact.agent.name, subject: 'out', body: 'three' });
  await pollUntil('the session mail, the ACK and a loop', [target.agent, contact.agent], () =>
    target.agent.inbox().length === 3 &&
    target.agent.sent().find((s) => s.id === out.id)?.status === 'delivered' &&
    target.agent.status().loops.returned > loopsBefore);
  return { before, after: await mallory.count() };
}

test('a card holder with no session learns nothing per epoch', async () => {
  const [p1, p2] = net.providers;
  const [d1, d2] = await descriptors();
  const alice = await user('Alice', p2);
  const bob = await user('Bob', p1);
  const mallory = new CardHolder(bob.init.cardUri, d1, d2);

  // No plaintext fetch in PIR mode, of the epoch or of a bucket.
  assert.deepEqual(await mallory.plaintextFetches(), ['pir-only', 'pir-only']);

  const bobSeen = await observe(bob, alice, mallory);
  assert.ok(bobSeen.before > 0, 'the first contact went to the card address (the PIR read works)');
  assert.equal(bobSeen.after, bobSeen.before, 'session mail, the ACK and loops leave no trace at the card address');
  assert.ok((await p1.store.stats()).messages > bobSeen.before, 'the activity did reach Bob\'s provider');
});

test('after rotate-card, a contact with a session still reaches the user; the old card address stays empty', async () => {
  const [alice, bob] = [agents[0], agents[1]];
  const [d1, d2] = await descriptors();
  const oldUri = bob.cardUri();
  const oldCard = new CardHolder(oldUri, d1, d2);
  const newUri = bob.rotateCard(0);
  assert.notEqual(newUri, oldUri);
  const before = await oldCard.count();
  const inbox = bob.inbox().length;
  await alice.send({ to: 'Bob', subject: 'after rotation', body: 'Still reaching you.' });
  await pollUntil('the mail after the rotation', [bob], () => bob.inbox().length === inbox + 1);
  assert.equal(bob.inbox().find((m) => m.subject === 'after rotation')?.fromName, 'Alice');
  assert.equal(await oldCard.count(), before, 'nothing went to the old card address');
});

test('planted-leak control: with the old addressing (everything to the card address), the card holder sees the activity', async () => {
  const [p1, p2] = net.providers;
  const [d1, d2] = await descriptors();
  // The old addressing (session mail, ACK SURBs and loops to the card's address) planted back.
  const proto = MailEndpoint.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const { seal, prepareFrame, ownAddress } = proto;
  proto.seal = function (this: MailEndpoint, ...args: unknown[]) {
    return { ...(seal.apply(this, args) as object), addressKey: undefined };
  };
  // The agent seals in two steps (the frame's recipe here, its AEADs in the builder worker).
  proto.prepareFrame = function (this: MailEndpoint, ...args: unknown[]) {
    return { ...(prepareFrame.apply(this, args) as object), addressKey: undefined };
  };
  proto.ownAddress = function (this: MailEndpoint, epoch: unknown) {
    return mailboxAddress(crypto, this.card.mailboxSecret, epoch as number);
  };
  try {
    const dave = await user('Dave', p2);
    const carol = await user('Carol', p1);
    const carolSeen = await observe(carol, dave, new CardHolder(carol.init.cardUri, d1, d2));
    assert.ok(carolSeen.after > carolSeen.before, `the planted leak is seen: ${carolSeen.before} → ${carolSeen.after} items at the card address`);
  } finally {
    proto.seal = seal;
    proto.prepareFrame = prepareFrame;
    proto.ownAddress = ownAddress;
  }
});
