/**
 * The client agent in `pir` retrieval mode over the real node processes, in one process: an
 * authority whose consensus says `retrieval: 'pir'`, a gateway, two mixes per layer and two
 * providers, all on one fake clock. Alice (provider 1) and Bob (provider 2) exchange a mail: each
 * polls by PIR, key 0 to the own provider and key 1 to the other. Carol's PIR partner flips a bit
 * of every answer: her polls report the mismatch and read nothing until the partner is honest again.
 */
import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { initClient, startClient, type ClientAgent, type ClientEvent } from '../../src/client/index.js';
import type { ProviderHandle } from '../../src/node/provider/index.js';
import { flipAnswerBit, tamperingConnector, TestNetwork } from '../node/pir/support.js';
import { TEST_NETWORK_POLICY, FAST_KDF } from './support.js';

const GENESIS = 2_000_000_000_000;
let net: TestNetwork;
const agents: ClientAgent[] = [];
let lying = true;

before(async () => {
  net = await TestNetwork.start({ label: 'pircli', retrieval: 'pir', genesisMs: GENESIS, pir: { refreshMs: 500 } });
});

after(async () => {
  for (const agent of agents) await agent.close().catch(() => undefined);
  await net?.close();
});

async function user(name: string, provider: ProviderHandle, events: ClientEvent[] = [], partnerLies?: ProviderHandle) {
  const dir = join(net.tempDir('umbra-pir-client-'), name);
  const init = await initClient(dir, {
    name, passphrase: 'pw', authority: { url: net.authority.url, publicKeys: [net.authorityKey] },
    servers: [net.server(provider)], kdf: FAST_KDF, clock: net.clock, ...TEST_NETWORK_POLICY,
  });
  const agent = await startClient(dir, 'pw', {
    clock: net.clock,
    onEvent: (event) => events.push(event),
    ...(partnerLies === undefined ? {} : { connectWebSocket: tamperingConnector(() => partnerLies.wsUrl, flipAnswerBit(1000, 5), () => lying) }),
  });
  agents.push(agent);
  return { init, agent, events };
}

async function pollUntil(what: string, agent: ClientAgent, condition: () => boolean): Promise<void> {
  let round = 0;
  await net.until(what, async () => {
    if (round++ % 10 === 0) await agent.poll();
    return condition();
  });
}

test('Alice and Bob, on different providers, exchange mail retrieved by PIR; Carol detects a lying partner', async () => {
  const [p1, p2] = net.providers;
  const alice = await user('Alice', p1);
  const bob = await user('Bob', p2);
  const carolEvents: ClientEvent[] = [];
  const carol = await user('Carol', p2, carolEvents, p1);
  alice.agent.addContact(bob.init.cardUri);
  alice.agent.addContact(carol.init.cardUri);
  bob.agent.addContact(alice.init.cardUri);

  // The retrieval mode comes from the consensus; each user's partner is the other provider.
  assert.equal(alice.agent.status().retrieval.mode, 'pir');
  assert.equal(alice.agent.status().retrieval.partner, p2.name);
  assert.equal(bob.agent.status().retrieval.partner, p1.name);

  const sent = alice.agent.send({ to: 'Bob', subject: 'Private retrieval', body: 'Neither provider alone knows which bucket Bob read.' });
  await pollUntil('Bob\'s inbox to have the mail', bob.agent, () => bob.agent.inbox().length === 1);
  const [mail] = bob.agent.inbox();
  assert.equal(mail.fromName, 'Alice');
  assert.equal(bob.agent.read(mail.id).parsed.text, 'Neither provider alone knows which bucket Bob read.\n');
  await pollUntil('Alice\'s copy to be delivered', alice.agent, () => alice.agent.sent().find((s) => s.id === sent.id)?.status === 'delivered');

  // Every poll made one PIR query per (stored epoch, address): Bob polls his card's, his own and his
  // session's address with Alice, of 2 epochs (1 in epoch 0); none failed.
  const bobStatus = bob.agent.status();
  assert.ok(bobStatus.retrieval.pirQueries > 0);
  assert.equal(bobStatus.retrieval.mismatches, 0);
  const report = await bob.agent.poll();
  assert.equal(report.fetches, report.epoch > 0 ? 12 : 3);
  assert.equal(report.mismatches, 0);
  assert.equal(report.error, undefined);
  for (const provider of [p1, p2]) {
    assert.equal(provider.metrics.value('node_retrieval_requests_total', { type: 'bucket' }), 0, 'no bucket fetch in pir mode');
    assert.ok(provider.metrics.value('node_retrieval_requests_total', { type: 'pir-query' }) > 0, `${provider.name} answered PIR queries`);
    assert.ok(provider.pirStatus().replicated > 0 && provider.pirStatus().received > 0, `${provider.name} pushed and received snapshots`);
  }

  // Carol's partner (provider 1) flips a bit in every answer: mail for her reaches provider 2, but
  // every row she decodes fails its check; she reports it and reads nothing.
  const storedBefore = (await p2.store.stats()).messages;
  const toCarol = alice.agent.send({ to: 'Carol', subject: 'For Carol', body: 'Only with honest servers.' });
  await net.until('the mail to reach Carol\'s provider', async () => (await p2.store.stats()).messages >= storedBefore + toCarol.fragments);
  net.clock.advance(600); // past the snapshot refresh interval
  const failed = await carol.agent.poll();
  assert.ok(failed.mismatches !== undefined && failed.mismatches > 0);
  assert.match(failed.error ?? '', /did not verify/);
  assert.equal(failed.received, 0);
  assert.equal(carol.agent.inbox().length, 0, 'no mail from a row that does not verify');
  const integrity = carolEvents.filter((event) => event.type === 'integrity');
  assert.ok(integrity.length > 0);
  assert.ok(integrity.every((event) => event.type === 'integrity' && event.provider === p2.name && event.partner === p1.name));
  const status = carol.agent.status();
  assert.ok(status.retrieval.mismatches > 0);
  assert.match(status.retrieval.lastMismatch ?? '', /does not verify/);
  assert.ok(status.polls.failed > 0);
  assert.notEqual(alice.agent.sent().find((s) => s.id === toCarol.id)?.status, 'delivered');

  // The partner is honest again: the mail is read and acknowledged.
  lying = false;
  await pollUntil('Carol\'s inbox to have the mail', carol.agent, () => carol.agent.inbox().length === 1);
  assert.equal(carol.agent.inbox()[0].subject, 'For Carol');
  await pollUntil('Alice\'s copy to Carol to be delivered', alice.agent, () => alice.agent.sent().find((s) => s.id === toCarol.id)?.status === 'delivered');
});
