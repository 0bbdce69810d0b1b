/**
 * PIR polls past the first epoch, over the real nodes, with a hot bucket: the in-process networks of
 * the other PIR tests stay in epoch 0, where a poll reads one epoch and only the addresses of epoch
 * 0; from epoch 1 on a poll reads two stored epochs with the addresses of two epochs each (card,
 * own, one per session: 2 × 2 × (2 + sessions) pairs), and that is where `umbra up` once showed a
 * recipient reading nothing while a 1 MiB mail filled his bucket. Here the network is moved into
 * epoch 1, Alice and Bob open sessions, Alice sends Bob a 1 MiB mail (about 1 300 fragments, parity
 * included: his session address's bucket gets some hundred pages of 12) while Bob sends Alice small
 * ones, and the network moves on into epoch 2 while the mail comes in, so Bob reads it from the
 * current and the previous epoch. Every mail must arrive and be acknowledged, no poll may fail, and
 * both users (with different pairs and backlogs) must send exactly the budget of queries every poll.
 *
 * The plan this replaces (the first page of every pair in one round, the rest for further pages)
 * gave, with the former default of 8 queries and Bob's 12 pairs, 6 first pages to the current epoch,
 * 2 to the previous one and none to further pages (planPirPoll(8, …) by hand; not run here): the
 * first-page rotation (chooseFirstPages), the fixed halves and the default of 32 replace it, and
 * pir-poll-plan.test.ts checks the rotation itself.
 */
import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { initClient, startClient, type ClientAgent, type ClientEvent, type PollReport } from '../../src/client/index.js';
import { epochStart, type PirParameters } from '../../src/pki/index.js';
import type { ProviderHandle } from '../../src/node/provider/index.js';
import { TESTNET_NETWORK } from '../../src/testnet/plan.js';
import { EPOCH_MS, TestNetwork } from '../node/pir/support.js';
import { FAST_KDF, TEST_NETWORK_POLICY } from './support.js';

const GENESIS = 2_400_000_000_000;
const BIG_MAIL = 1024 * 1024;
const SMALL_MAILS = 3;
/** The test network's sizes (src/testnet/plan.ts): the network where the failure showed. */
const PIR: PirParameters = TESTNET_NETWORK.pir;

const timing = { genesisMs: GENESIS, epochMs: EPOCH_MS };
let net: TestNetwork;
const agents: ClientAgent[] = [];
const events = new Map<string, ClientEvent[]>();

before(async () => {
  net = await TestNetwork.start({ label: 'pirepochs', retrieval: 'pir', genesisMs: GENESIS, pir: { refreshMs: 200 }, pirSizes: PIR });
  // Into epoch 1: the next consensus is published 45 s into an epoch; every node must hold it.
  net.pumpLimit = epochStart(1, timing) + 50_000;
  net.clock.advanceTo(GENESIS + 44_000);
  await net.until('every node holding the consensus of epoch 1', () => net.nodes.every((node) => node.status().consensusEpochs.includes(1)), 60_000);
  net.clock.advanceTo(epochStart(1, timing) + 1);
  await net.until('every node in epoch 1', () => net.nodes.every((node) => node.status().keyEpochs.includes(1)), 60_000);
});

after(async () => {
  for (const agent of agents) await agent.close().catch(() => undefined);
  await net?.close();
});

async function user(name: string, provider: ProviderHandle): Promise<{ agent: ClientAgent; card: string }> {
  const dir = join(net.tempDir('umbra-pir-epochs-'), name);
  const init = await initClient(dir, {
    name, passphrase: 'pw', authority: { url: net.authority.url, publicKeys: [net.authorityKey] },
    servers: [net.server(provider)], kdf: FAST_KDF, clock: net.clock, ...TEST_NETWORK_POLICY,
  });
  const seen: ClientEvent[] = [];
  events.set(name, seen);
  const agent = await startClient(dir, 'pw', { clock: net.clock, onEvent: (event) => seen.push(event) });
  agents.push(agent);
  return { agent, card: init.cardUri };
}

const subjects = (agent: ClientAgent): string[] => agent.inbox().map((mail) => mail.subject);
const delivered = (agent: ClientAgent): number => agent.sent().filter((mail) => mail.status === 'delivered').length;

test('from epoch 1 on, with two epochs polled and a hot bucket, every mail arrives and is acknowledged, at the fixed query budget', { timeout: 600_000 }, async () => {
  const [p1, p2] = net.providers;
  const alice = await user('Alice', p1);
  const bob = await user('Bob', p2);
  alice.agent.addContact(bob.card);
  bob.agent.addContact(alice.card);
  const reports: PollReport[] = [];
  const poll = async (): Promise<void> => {
    await alice.agent.poll();
    reports.push(await bob.agent.poll());
  };
  const pollUntil = async (what: string, condition: () => boolean): Promise<void> => {
    let round = 0;
    await net.until(what, async () => {
      if (round++ % 10 === 0) await poll();
      return condition();
    }, 300_000);
  };
  // Sessions both ways (first contacts at the cards, then relationship addresses).
  await alice.agent.send({ to: 'Bob', subject: 'hello', body: 'hello Bob' });
  await pollUntil('Bob to read hello', () => subjects(bob.agent).includes('hello'));
  await bob.agent.send({ to: 'Alice', subject: 'hi', body: 'hi Alice' });
  await pollUntil('Alice to read hi', () => subjects(alice.agent).includes('hi'));

  const body = 'y'.repeat(63).concat('\n').repeat(Math.ceil(BIG_MAIL / 64)).slice(0, BIG_MAIL);
  const big = await alice.agent.send({ to: 'Bob', subject: 'Large', body });
  for (let i = 0; i < SMALL_MAILS; i++) await bob.agent.send({ to: 'Alice', subject: `small ${i}`, body: `small mail ${i}` });
  // Into epoch 2 while the large mail is still coming in: Bob reads it from the current and the
  // previous epoch.
  net.pumpLimit = epochStart(2, timing) + 40_000;
  await net.until('every node holding the consensus of epoch 2', () => net.nodes.every((node) => node.status().consensusEpochs.includes(2)), 120_000);
  if (net.clock.now() < epochStart(2, timing)) net.clock.advanceTo(epochStart(2, timing) + 1);
  await pollUntil('every mail read', () => subjects(bob.agent).includes('Large') && subjects(alice.agent).filter((s) => s.startsWith('small ')).length === SMALL_MAILS);
  await pollUntil('every mail acknowledged', () => delivered(alice.agent) === 2 && delivered(bob.agent) === 1 + SMALL_MAILS);
  const epochs = new Set(reports.map((report) => report.epoch));
  console.log(`# ${big.fragments} fragments; Bob's polls: ${reports.length} in epochs ${[...epochs].join(', ')}, ${reports.filter((r) => r.error !== undefined).length} failed`);
  assert.ok([...epochs].every((epoch) => epoch >= 1), 'every poll read two epochs');
  assert.ok(epochs.has(2), 'Bob polled epochs 2 and 1');
  for (const report of reports) assert.equal(report.error, undefined, `a poll of Bob failed: ${report.error}`);
  // The budget at every poll, whatever the pairs (Bob's and Alice's differ) and the backlog.
  for (const agent of [alice.agent, bob.agent]) {
    const status = agent.status();
    assert.equal(status.polls.failed, 0);
    assert.equal(status.retrieval.pirQueries, status.polls.done * PIR.queriesPerPoll);
  }
});
