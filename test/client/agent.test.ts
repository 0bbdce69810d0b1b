import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ClientError, initClient, startClient, type ClientAgent, type ClientEvent, type InitResult, type StartOptions } from '../../src/client/index.js';
import { getCrypto } from '../../src/crypto/index.js';
import { ackReplyPacket } from '../../src/e2e/sphinx-link.js';
import { cardFromUri } from '../../src/e2e/card.js';
import { mailboxAddress } from '../../src/e2e/mailbox-address.js';
import { encodeStoredItem } from '../../src/wire/stored-ciphertext.js';
import { closedAfterTests, endpointOf, FAST_KDF, GENESIS_MS, openedBy, SimNet, tempDir, TEST_NETWORK_POLICY, waitFor } from './support.js';

/**
 * The running agent against real WebSocket listeners and a real authority on a fake clock: the
 * Poisson send stream (cover when idle, real packets in place of cover), loops, polls, and the
 * outgoing-message bookkeeping with real Sphinx SURBs (ACK, NACK, timeouts, resends, failure).
 */
const crypto = getCrypto('sodium');
const { nets, agents } = closedAfterTests();

async function network(options: Parameters<typeof SimNet.start>[0]): Promise<SimNet> {
  const net = await SimNet.start(options);
  nets.push(net);
  return net;
}

interface User {
  readonly dir: string;
  readonly init: InitResult;
  readonly passphrase: string;
  readonly events: ClientEvent[];
  /** The fake time of each event. */
  readonly times: number[];
  agent: ClientAgent;
}

async function user(net: SimNet, name: string, extra: Partial<Parameters<typeof initClient>[1]> = {}, options: StartOptions = {}): Promise<User> {
  const dir = join(tempDir(), name);
  const passphrase = `${name} passphrase`;
  // One scheduled poll per epoch (30 s into the 60 s test epochs): the tests poll explicitly and
  // stay well within 30 s of fake time, so no scheduled poll takes their mail first.
  const init = await initClient(dir, { name, passphrase, authority: net.authoritySettings, servers: [net.providerWs()], kdf: FAST_KDF, pollsPerEpoch: 1, ...TEST_NETWORK_POLICY, ...extra });
  const events: ClientEvent[] = [];
  const times: number[] = [];
  const onEvent = (event: ClientEvent) => {
    events.push(event);
    times.push(net.clock.now());
  };
  const agent = await startClient(dir, passphrase, { clock: net.clock, onEvent, ...options });
  agents.push(agent);
  const own = await endpointOf({ dir, passphrase });
  net.watchOwnAddress((epoch) => own.ownAddress(epoch));
  return { dir, init, passphrase, events, times, agent };
}

async function restart(net: SimNet, u: User): Promise<void> {
  await u.agent.close();
  u.agent = await startClient(u.dir, u.passphrase, {
    clock: net.clock,
    onEvent: (event) => {
      u.events.push(event);
      u.times.push(net.clock.now());
    },
  });
  agents.push(u.agent);
}

/** Bob's mailbox address for the current epoch, from his card. */
function addressOf(net: SimNet, u: User): Uint8Array {
  return mailboxAddress(crypto, cardFromUri(crypto, u.init.cardUri).mailboxSecret, net.epoch);
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && Buffer.from(a).equals(b);
}

/**
 * Replies `ack` through the SURB sealed inside the `index`-th delivered fragment (opened with the
 * recipient's key, as only the recipient can), and stores the reply at the sender's provider.
 */
async function replyThroughSurb(net: SimNet, recipient: User, index: number, ack: Parameters<typeof ackReplyPacket>[2]): Promise<void> {
  const delivered = net.arrivals.filter((a) => a.outcome === 'deliver');
  const surb = (await openedBy(recipient, delivered[index].payload!)).surb!;
  const { firstHop, packet } = ackReplyPacket(net.sphinx, surb.bytes, ack);
  const result = net.routeFrom(firstHop, packet);
  assert.equal(result.kind, 'surb-reply');
  if (result.kind !== 'surb-reply') return;
  await net.deliver(0, result.recipient!, encodeStoredItem(result.surbId, result.payload));
}

describe('client agent', () => {
  test('the send stream emits drop cover when idle; a mail\'s fragments replace cover, one packet per event', async () => {
    const net = await network({ label: 'poisson', traffic: { clientSendRate: 20, loopRate: 0, dropRate: 0 } });
    const alice = await user(net, 'alice');
    const bob = await user(net, 'bob');
    alice.agent.addContact(bob.init.cardUri);
    const bobArrivalsAtStart = () => net.arrivals.length;

    // Idle for 5 s of fake time: only cover (and Bob's cover), every packet exactly packetLength.
    await net.advance(5000);
    await waitFor(() => {
      const a = alice.agent.status().packets;
      const b = bob.agent.status().packets;
      return net.arrivals.length === a.cover + b.cover;
    }, 'the cover packets to reach the gateway');
    const idle = alice.agent.status().packets;
    assert.equal(idle.real, 0);
    assert.equal(idle.missedSlots, 0);
    assert.ok(idle.cover > 50 && idle.cover < 180, `about 100 cover packets at 20/s over 5 s, got ${idle.cover}`);
    assert.ok(net.arrivals.every((arrival) => arrival.packet.length === net.packetLength));
    assert.equal(net.count('cover'), bobArrivalsAtStart(), 'every packet so far unwraps to drop cover');

    // A mail: its fragments go out in send slots instead of cover.
    const sent = await alice.agent.send({ to: 'bob', subject: 'Hi', body: 'Hello Bob' });
    assert.equal(alice.agent.sent()[0].status, 'queued');
    assert.equal(alice.agent.status().queue, sent.fragments);
    await net.advance(3000);
    await alice.agent.drained();
    await waitFor(() => net.count('deliver') === sent.fragments, 'the fragments to arrive');
    const after = alice.agent.status().packets;
    assert.equal(after.real, sent.fragments);
    assert.equal(after.missedSlots, 0);
    const bobStatus = bob.agent.status().packets;
    await waitFor(() => net.arrivals.length === after.real + after.cover + bobStatus.cover + bobStatus.real + bobStatus.replies, 'all packets');
    // Every real packet was addressed to Bob's mailbox of this epoch; everything else was cover.
    const bobAddress = addressOf(net, bob);
    assert.ok(net.arrivals.filter((a) => a.outcome === 'deliver').every((a) => sameBytes(a.recipient, bobAddress)));
    assert.equal(net.count('error'), 0);
    assert.equal(alice.agent.sent()[0].status, 'sending');
    assert.equal(alice.agent.status().queue, 0);
  });

  test('a mail end to end through the simulated network: Bob\'s inbox has it, Alice\'s copy becomes delivered', async () => {
    const net = await network({ label: 'ack', traffic: { clientSendRate: 20, loopRate: 0, dropRate: 0 } });
    const alice = await user(net, 'alice');
    const bob = await user(net, 'bob');
    alice.agent.addContact(bob.init.cardUri);
    const attachment = new Uint8Array(3000).map((_, i) => i & 0xff);
    const sent = await alice.agent.send({ to: 'Bob', subject: 'Grüße', body: 'Hallo Bob!\nBis bald.', attachments: [{ filename: 'data.bin', data: attachment }] });
    assert.ok(sent.fragments >= 3, `${sent.fragments} fragments`);
    await net.advance(2000);
    await waitFor(() => net.count('deliver') === sent.fragments, 'the fragments');

    const poll = await bob.agent.poll();
    assert.equal(poll.received, 1);
    const inbox = bob.agent.inbox();
    assert.equal(inbox.length, 1);
    assert.equal(inbox[0].fromName, 'alice');
    assert.equal(inbox[0].subject, 'Grüße');
    assert.equal(inbox[0].read, false);
    assert.equal(inbox[0].attachments, 1);
    const view = bob.agent.read(inbox[0].id);
    assert.equal(view.parsed.text, 'Hallo Bob!\nBis bald.\n');
    assert.deepEqual(view.parsed.attachments[0].data, attachment);
    assert.equal(bob.agent.inbox()[0].read, true);
    assert.deepEqual(bob.agent.contacts().map((c) => c.name), ['alice'], 'the sender\'s card came with the first contact');
    assert.ok(bob.events.some((e) => e.type === 'received' && e.newContact));

    // Bob's agent answers through one of Alice's SURBs; the ACK comes back to Alice's mailbox.
    await net.advance(1000);
    await waitFor(() => net.count('surb-reply') === 1, 'the ACK');
    assert.equal(bob.agent.status().packets.replies, 1);
    const ackPoll = await alice.agent.poll();
    assert.equal(ackPoll.acks, 1);
    assert.equal(alice.agent.sent()[0].status, 'delivered');
    assert.equal(alice.agent.status().awaitingAck, 0);
    assert.ok(alice.events.some((e) => e.type === 'status' && e.status === 'delivered' && e.id === sent.id));

    // A re-fetch of the same buckets processes nothing twice.
    assert.equal((await bob.agent.poll()).items, 0);
    assert.equal(bob.agent.inbox().length, 1);

    // Bob answers (now a ratchet message); Alice reads it.
    const reply = await bob.agent.send({ to: 'alice', subject: 'Re: Grüße', body: 'Danke!' });
    await net.advance(2000);
    await waitFor(() => net.count('deliver') === sent.fragments + reply.fragments, 'the reply');
    assert.equal((await alice.agent.poll()).received, 1);
    assert.equal(alice.agent.inbox()[0].subject, 'Re: Grüße');
    assert.equal(alice.agent.read(alice.agent.inbox()[0].id).parsed.text, 'Danke!\n');
  });

  test('ACK and NACK built with ackReplyPacket through real Sphinx nodes drive the bookkeeping', async () => {
    const net = await network({ label: 'surb', traffic: { clientSendRate: 20, loopRate: 0, dropRate: 0 } });
    const alice = await user(net, 'alice');
    const bob = await user(net, 'bob');
    alice.agent.addContact(bob.init.cardUri);
    const sent = await alice.agent.send({ to: 'bob', subject: 's', body: 'b' });
    await net.advance(2000);
    await waitFor(() => net.count('deliver') === sent.fragments, 'the fragments');
    const messageId = new Uint8Array(Buffer.from(sent.messageId, 'hex'));
    const reply = (index: number, ack: Parameters<typeof ackReplyPacket>[2]) => replyThroughSurb(net, bob, index, ack);

    // A NACK naming shard 0: exactly one more real packet goes out.
    await reply(0, { messageId, kind: 'nack', missing: [0] });
    const nackPoll = await alice.agent.poll();
    assert.equal(nackPoll.acks, 1);
    assert.ok(alice.events.some((e) => e.type === 'resend' && e.cause === 'nack' && e.shards === 1));
    assert.equal(alice.agent.sent()[0].status, 'sending');
    await net.advance(1000);
    await waitFor(() => net.count('deliver') === sent.fragments + 1, 'the resent shard');
    // The same SURB cannot be used twice; a reply through an unknown SURB changes nothing.
    await reply(0, { messageId, kind: 'ack', missing: [] });
    await alice.agent.poll();
    assert.equal(alice.agent.sent()[0].status, 'sending');
    // An ACK through another of the message's SURBs: delivered.
    await reply(1, { messageId, kind: 'ack', missing: [] });
    assert.equal((await alice.agent.poll()).acks, 1);
    assert.equal(alice.agent.sent()[0].status, 'delivered');
  });

  test('a forged reply through a copied SURB does not use the SURB up: the real ACK still delivers', async () => {
    // The SURB is sealed inside the fragment now (test/client/stored-items.test.ts shows no one else
    // finds it); should a copy leak all the same, a reply that does not name the message must not
    // use the SURB up. Before the fix the sender's agent deleted the SURB record before checking the
    // reply, so the real ACK was ignored and the mail ended 'failed'.
    const net = await network({ label: 'forged', traffic: { clientSendRate: 20, loopRate: 0, dropRate: 0 } });
    const alice = await user(net, 'alice');
    const bob = await user(net, 'bob');
    alice.agent.addContact(bob.init.cardUri);
    const sent = await alice.agent.send({ to: 'bob', subject: 's', body: 'b' });
    await net.advance(2000);
    await waitFor(() => net.count('deliver') === sent.fragments, 'the fragments');
    const reply = (ack: Parameters<typeof ackReplyPacket>[2]) => replyThroughSurb(net, bob, 0, ack);
    await reply({ messageId: crypto.randomBytes(16), kind: 'ack', missing: [] });
    assert.equal((await alice.agent.poll()).acks, 0);
    assert.equal(alice.agent.sent()[0].status, 'sending');
    await reply({ messageId: new Uint8Array(Buffer.from(sent.messageId, 'hex')), kind: 'ack', missing: [] });
    assert.equal((await alice.agent.poll()).acks, 1);
    assert.equal(alice.agent.sent()[0].status, 'delivered');
  });

  test('no ACK: the whole message is resent on a doubling backoff, waits, then fails with a reason; resend() sends it again', async () => {
    const net = await network({ label: 'timeout', traffic: { clientSendRate: 20, loopRate: 0, dropRate: 0 } });
    // Timeout 0.05 epoch = 3 s of the 60 s test epoch; two resends.
    const alice = await user(net, 'alice', { ackTimeoutEpochs: 0.05, maxResends: 2, pollsPerEpoch: 60 });
    const bob = await user(net, 'bob');
    alice.agent.addContact(bob.init.cardUri);
    net.blackhole = true; // the network loses everything
    const sent = await alice.agent.send({ to: 'bob', subject: 'lost', body: 'in the void' });
    const realSent = () => alice.agent.status().packets.real;
    const at = (type: string) => alice.events.flatMap((e, i) => (e.type === type ? [alice.times[i]] : []));
    const start = net.clock.now();
    await net.advance(2000);
    assert.equal(realSent(), sent.fragments);
    assert.equal(alice.agent.sent()[0].status, 'sending');
    await net.advance(3000);
    await waitFor(() => alice.agent.sent()[0].status === 'waiting', 'waiting');
    assert.match(alice.agent.sent()[0].reason ?? '', /^waiting for bob's server: no acknowledgement after one copy/);
    await net.advance(30_000);
    await waitFor(() => alice.agent.sent()[0].status === 'failed', 'failure');
    assert.equal(realSent(), 3 * sent.fragments, 'the first copy and two resends');
    const resends = at('resend');
    assert.equal(resends.length, 2);
    // The first resend comes a timeout (3 s) after the first copy's last fragment left, the second
    // twice that after the second copy's, each at a poll (every 1 s).
    assert.ok(resends[0] - start >= 3000 && resends[0] - start < 5000, `first resend after ${resends[0] - start} ms`);
    assert.ok(resends[1] - resends[0] >= 6000 && resends[1] - resends[0] < 8000, `second resend ${resends[1] - resends[0]} ms later`);
    const failed = alice.agent.sent()[0];
    assert.equal(failed.attempts, 3);
    assert.match(failed.reason ?? '', /no acknowledgement after 3 copies/);
    assert.ok(alice.events.some((e) => e.type === 'status' && e.status === 'failed' && e.reason === failed.reason));
    assert.equal(alice.agent.status().awaitingAck, 0);
    await net.advance(6000);
    assert.equal(realSent(), 3 * sent.fragments, 'nothing more after the failure');
    // resend(): the failed envelope (kept, the same sealed frame) goes again, in the same Sent row.
    await assert.rejects(alice.agent.resend(sent.id + 1000), (e: unknown) => e instanceof ClientError && e.code === 'unknown-mail');
    const again = await alice.agent.resend(sent.id);
    assert.equal(again.id, sent.id);
    assert.equal(again.messageId, sent.messageId);
    assert.equal(again.fragments, sent.fragments);
    assert.equal(alice.agent.sent()[0].status, 'queued');
    assert.equal(alice.agent.sent()[0].reason, undefined);
    await assert.rejects(alice.agent.resend(sent.id), (e: unknown) => e instanceof ClientError && e.code === 'not-failed');
    net.blackhole = false;
    await net.advance(2000);
    await waitFor(() => net.count('deliver') === again.fragments, 'the resent copy');
    assert.equal(alice.agent.sent().length, 1);
  });

  test('what awaits an ACK survives a restart: unsent shards go out, a late ACK still counts', async () => {
    const net = await network({ label: 'restart', traffic: { clientSendRate: 2, loopRate: 0, dropRate: 0 } });
    const alice = await user(net, 'alice');
    const bob = await user(net, 'bob');
    alice.agent.addContact(bob.init.cardUri);
    const sent = await alice.agent.send({ to: 'bob', subject: 'big', body: 'x'.repeat(8000) });
    assert.ok(sent.fragments >= 5);
    // At 2 packets a second, about two leave before the restart.
    while (alice.agent.status().packets.real < 2) await net.advance(200);
    const before = alice.agent.status().packets.real;
    await restart(net, alice);
    assert.equal(alice.agent.sent()[0].status, 'sending');
    assert.equal(alice.agent.status().queue, sent.fragments - before);
    while (alice.agent.status().queue > 0) await net.advance(500);
    await waitFor(() => net.count('deliver') === sent.fragments, 'every fragment, before and after the restart');
    assert.equal((await bob.agent.poll()).received, 1);
    assert.equal(bob.agent.read(bob.agent.inbox()[0].id).parsed.text, 'x'.repeat(8000) + '\n');
    await net.advance(3000);
    await waitFor(() => net.count('surb-reply') === 1, 'the ACK');
    // The poll right after the restart finds the ACK: the SURB's decryption token was on disk.
    await restart(net, alice);
    assert.equal(alice.agent.sent()[0].status, 'delivered');
    assert.equal(alice.agent.status().awaitingAck, 0);
  });

  test('a mail whose store values are staged in pieces survives a restart: its Sent copy reads back, every fragment goes out', async () => {
    const net = await network({ label: 'restart-pieces', traffic: { clientSendRate: 40, loopRate: 0, dropRate: 0 } });
    const alice = await user(net, 'alice');
    const bob = await user(net, 'bob');
    alice.agent.addContact(bob.init.cardUri);
    // Over one store piece (64 KiB): the Sent copy and the outgoing body are written in pieces.
    const body = 'x'.repeat(70_000);
    const sent = await alice.agent.send({ to: 'bob', subject: 'pieces', body });
    await restart(net, alice);
    assert.equal(alice.agent.read(sent.id).parsed.text, body + '\n', 'the Sent copy reads back from its pieces');
    assert.equal(alice.agent.sent()[0].status, 'queued');
    while (alice.agent.status().queue > 0) await net.advance(500);
    await waitFor(() => net.count('deliver') === sent.fragments, 'every fragment, after the restart');
    assert.equal((await bob.agent.poll()).received, 1);
    assert.equal(bob.agent.read(bob.agent.inbox()[0].id).parsed.text, body + '\n');
  });

  test('what does not open is skipped; a too-large bucket is fetched in smaller parts; contacts are named unambiguously', async () => {
    const net = await network({ label: 'junk', traffic: { clientSendRate: 20, loopRate: 0, dropRate: 0 } });
    const alice = await user(net, 'alice');
    const bob = await user(net, 'bob');
    const bobAddress = addressOf(net, bob);
    const g = net.sphinx.geometry;
    const junk = [
      new Uint8Array([0x01, ...crypto.randomBytes(g.forwardPayloadLength)]), // a fragment not for Bob
      new Uint8Array([0x01, 1, 2, 3]), // a forward payload of the wrong length
      new Uint8Array([0x02, ...crypto.randomBytes(16 + g.payloadLength)]), // a reply to no SURB of Bob's
      new Uint8Array([0x07, 1, 2, 3]), // an unknown kind
    ];
    for (const ciphertext of junk) await net.deliver(0, bobAddress, ciphertext);
    net.minBuckets = 256;
    const poll = await bob.agent.poll();
    assert.equal(poll.error, undefined);
    assert.equal(poll.items, junk.length);
    assert.equal(poll.received + poll.acks + poll.loops, 0);
    assert.ok(net.bucketCounts.includes(256), 'asked again with 16 × 16 buckets');
    assert.equal(bob.events.filter((e) => e.type === 'error').length, 0);
    assert.equal(bob.agent.status().queue, 0, 'no reply to junk');

    // A mail still arrives through the finer buckets.
    alice.agent.addContact(bob.init.cardUri);
    await assert.rejects(alice.agent.send({ to: 'carol', subject: '', body: '' }), (e: unknown) => (e as { code?: string }).code === 'unknown-contact');
    const key = alice.agent.contacts()[0].key;
    await alice.agent.send({ to: key.slice(0, 10), subject: 'by key', body: '.' });
    await net.advance(1000);
    await alice.agent.drained();
    await waitFor(() => net.count('deliver') >= 2, 'the fragments');
    assert.equal((await bob.agent.poll()).received, 1);
    assert.equal(bob.agent.inbox()[0].subject, 'by key');
  });

  test('loops come back to the own mailbox and their round trips are measured; the drop stream sends cover', async () => {
    const net = await network({ label: 'loops', traffic: { clientSendRate: 1, loopRate: 10, dropRate: 5 } });
    const alice = await user(net, 'alice');
    await net.advance(4000);
    await waitFor(() => net.arrivals.length === (() => {
      const p = alice.agent.status().packets;
      return p.cover + p.loops + p.drops;
    })(), 'the packets');
    const status = alice.agent.status();
    // Poisson counts: 40 loops and 20 drops expected in 4 s.
    assert.ok(status.packets.loops > 15, `${status.packets.loops} loops`);
    assert.ok(status.packets.drops > 5, `${status.packets.drops} drops`);
    assert.equal(net.count('surb-reply'), status.packets.loops);
    assert.equal(net.count('cover'), status.packets.cover + status.packets.drops);
    const poll = await alice.agent.poll();
    assert.equal(poll.loops, status.packets.loops);
    const after = alice.agent.status().loops;
    assert.equal(after.returned, status.packets.loops);
    assert.equal(after.lost, 0);
    assert.equal(after.rttsMs.length, Math.min(64, after.returned));
    // Measured up to the poll that found them: between 0 and the 4 s the test ran.
    assert.ok(after.rttsMs.every((rtt) => rtt >= 0 && rtt <= 4000));
    assert.ok(after.meanRttMs !== undefined && after.meanRttMs > 0);
    assert.ok(alice.events.some((e) => e.type === 'loop'));
  });

  test('polls run by themselves at fixed offsets of every epoch, with twelve bucket fetches each', async () => {
    const net = await network({ label: 'polls', epochMs: 8000, traffic: { clientSendRate: 1, loopRate: 0, dropRate: 0 } });
    const alice = await user(net, 'alice', { pollsPerEpoch: 4 });
    await waitFor(() => alice.agent.status().polls.done === 1, 'the poll right after start');
    // 4 polls per epoch of 8 s: at 1, 3, 5 and 7 s into each epoch. The agent started 1 s into an
    // epoch (and polled then); 16 s later is 1 s into the epoch after next.
    // Each poll is let finish before the clock reaches the next one: the first of an epoch fetches
    // the consensus over TLS, real I/O that would otherwise span 2 s of this clock's 250 ms steps,
    // and a poll due while one runs is skipped.
    for (let done = 2; done <= 9; done++) {
      await net.advance(2000, 250);
      await waitFor(() => alice.events.filter((e) => e.type === 'poll').length >= done, `scheduled poll ${done}`);
    }
    const polls = alice.events.flatMap((e) => (e.type === 'poll' ? [e] : []));
    assert.equal(polls.length, 9);
    assert.ok(polls.every((event) => event.error === undefined));
    // The clock steps 250 ms at a time here, so a poll due at 3000 starts at 3000.
    const offsets = polls.slice(1).map((event) => (event.startedMs - GENESIS_MS) % 8000);
    assert.deepEqual(offsets, [3000, 5000, 7000, 1000, 3000, 5000, 7000, 1000]);
    // Two stored epochs × the card's and the own address of both epochs (no session yet), and the
    // history epoch (docs/client.md, "Catch-up") × the card's and own address of it and the one before.
    assert.equal((await alice.agent.poll()).fetches, 12);
    assert.equal(alice.agent.status().consensusEpoch, net.epoch, 'the consensus followed the epochs');
    // Packets keep flowing with each new epoch's keys (a stale key would show as missed slots or
    // as packets the gateway cannot unwrap).
    const before = alice.agent.status().packets.cover;
    await net.advance(8000, 250);
    await waitFor(() => net.arrivals.length === alice.agent.status().packets.cover, 'the cover packets');
    const errors = alice.events.filter((e) => e.type === 'error');
    assert.ok(alice.agent.status().packets.cover > before, `no cover in a whole epoch: ${JSON.stringify({ before, packets: alice.agent.status().packets, errors })}`);
    assert.equal(alice.agent.status().packets.missedSlots, 0);
    assert.equal(net.count('error'), 0);
    assert.equal(net.count('cover'), alice.agent.status().packets.cover);
  });
});
