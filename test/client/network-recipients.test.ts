/**
 * A mail to three recipients over the real node code (authority, gateway, three mix layers,
 * provider, four client agents; one fake clock): Alice writes To Bob, Cc Carol, Bcc Dave. Each
 * reads it from its own mailbox; only Dave's copy has a Bcc header, naming Dave; Alice's Sent row
 * shows each recipient's ACK as it comes back, and the mail delivered once all three are.
 */
import * as assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RealNetwork } from './real-network.js';
import { removeTempDirs } from './support.js';

let net: RealNetwork;

before(async () => {
  net = await RealNetwork.start('rcpt-e2e');
});

after(async () => {
  await net?.close();
  removeTempDirs();
});

test('To, Cc and Bcc over the mix network: each recipient reads it, Bcc hidden, an ACK per recipient', async () => {
  const alice = await net.user('Alice');
  const bob = await net.user('Bob');
  const carol = await net.user('Carol');
  const dave = await net.user('Dave');
  for (const u of [bob, carol, dave]) alice.agent.addContact(u.init.cardUri);
  const sent = await alice.agent.send({ to: ['Bob'], cc: ['Carol'], bcc: ['Dave'], subject: 'Three ways', body: 'To Bob, Cc Carol, and Dave in secret.' });
  assert.deepEqual(sent.recipients.map((r) => r.field), ['to', 'cc', 'bcc']);

  for (const u of [bob, carol, dave]) {
    let round = 0;
    await net.until(`${u.name}'s inbox to have the mail`, async () => {
      if (round++ % 10 === 0) await u.agent.poll();
      return u.agent.inbox().length === 1;
    });
    const [mail] = u.agent.inbox();
    assert.equal(mail.fromName, 'Alice');
    const { parsed, raw } = u.agent.read(mail.id);
    assert.equal(parsed.text, 'To Bob, Cc Carol, and Dave in secret.\n');
    assert.equal(parsed.to, 'Bob <bob@umbra>');
    assert.equal(parsed.cc, 'Carol <carol@umbra>');
    if (u === dave) assert.equal(parsed.bcc, 'Dave <dave@umbra>', 'the Bcc recipient sees itself');
    else {
      const text = new TextDecoder().decode(raw);
      assert.doesNotMatch(text.slice(0, text.indexOf('\r\n\r\n')), /dave|bcc/i, `${u.name} cannot tell there was a Bcc recipient`);
    }
  }

  let round = 0;
  await net.until('every recipient\'s ACK', async () => {
    if (round++ % 10 === 0) await alice.agent.poll();
    return alice.agent.sent()[0].status === 'delivered';
  });
  const [row] = alice.agent.sent();
  assert.equal(row.id, sent.id);
  assert.deepEqual(row.recipients?.map((r) => `${r.name}:${r.status}`), ['Bob:delivered', 'Carol:delivered', 'Dave:delivered']);
  assert.equal(alice.agent.status().awaitingAck, 0);
  const acked = alice.events.filter((e) => e.type === 'status' && e.recipient?.status === 'delivered');
  assert.equal(acked.length, 3, 'one delivered event per recipient');
  assert.equal(new Set(acked.map((e) => (e.type === 'status' ? e.messageId : ''))).size, 3, 'three envelopes');
});
