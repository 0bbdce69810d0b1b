/**
 * The consensus's `retrieval` field selects how the agent polls. `pir` is test/client/pir-network;
 * `bucket` is test/client/network. Here `download`: the agent fetches each epoch whole (fetch epoch,
 * 0x02) and keeps what is under its addresses; no bucket fetch and no PIR query is made.
 */
import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { initClient, startClient, type ClientAgent } from '../../src/client/index.js';
import type { ProviderHandle } from '../../src/node/provider/index.js';
import { TestNetwork } from '../node/pir/support.js';
import { TEST_NETWORK_POLICY, FAST_KDF } from './support.js';

let net: TestNetwork;
const agents: ClientAgent[] = [];

before(async () => {
  net = await TestNetwork.start({ label: 'download', retrieval: 'download', genesisMs: 2_100_000_000_000 });
});

after(async () => {
  for (const agent of agents) await agent.close().catch(() => undefined);
  await net?.close();
});

async function user(name: string, provider: ProviderHandle) {
  const dir = join(net.tempDir('umbra-download-client-'), name);
  const init = await initClient(dir, {
    name, passphrase: 'pw', authority: { url: net.authority.url, publicKeys: [net.authorityKey] },
    servers: [net.server(provider)], kdf: FAST_KDF, clock: net.clock, ...TEST_NETWORK_POLICY,
  });
  const agent = await startClient(dir, 'pw', { clock: net.clock });
  agents.push(agent);
  return { init, agent };
}

test('download mode: Bob reads the mail from the whole epoch, Alice\'s copy is delivered', async () => {
  const [p1, p2] = net.providers;
  const alice = await user('Alice', p1);
  const bob = await user('Bob', p2);
  alice.agent.addContact(bob.init.cardUri);
  assert.equal(bob.agent.status().retrieval.mode, 'download');
  const sent = await alice.agent.send({ to: 'Bob', subject: 'Whole epoch', body: 'Fetched with everyone else\'s mail.' });
  let round = 0;
  await net.until('Bob\'s inbox to have the mail', async () => {
    if (round++ % 10 === 0) await bob.agent.poll();
    return bob.agent.inbox().length === 1;
  });
  assert.equal(bob.agent.inbox()[0].subject, 'Whole epoch');
  round = 0;
  await net.until('Alice\'s copy to be delivered', async () => {
    if (round++ % 10 === 0) await alice.agent.poll();
    return alice.agent.sent().find((s) => s.id === sent.id)?.status === 'delivered';
  });
  for (const provider of [p1, p2]) {
    assert.ok(provider.metrics.value('node_retrieval_requests_total', { type: 'epoch' }) > 0);
    assert.equal(provider.metrics.value('node_retrieval_requests_total', { type: 'bucket' }), 0);
    assert.equal(provider.metrics.value('node_retrieval_requests_total', { type: 'pir-query' }), 0);
  }
});
