/**
 * The client agent over the real node processes, in one process: an authority, a gateway, two mixes
 * per layer and a provider, started with the library functions on 127.0.0.1 (ephemeral ports), and
 * two clients, all on one fake clock. Alice sends Bob a mail; Bob's inbox has it; Alice's copy
 * becomes 'delivered' when Bob's ACK comes back through her SURB.
 */
import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { initClient, startClient, type ClientAgent } from '../../src/client/index.js';
import { toBase64Url } from '../../src/codec/bytes.js';
import { getCrypto } from '../../src/crypto/index.js';
import { startAuthority, validateAuthorityConfig, type AuthorityHandle } from '../../src/node/authority/index.js';
import { startGateway } from '../../src/node/gateway/index.js';
import { startMix } from '../../src/node/mix/index.js';
import { startProvider, type ProviderHandle } from '../../src/node/provider/index.js';
import { validateNodeConfig, type NodeHandle } from '../../src/node/runtime/index.js';
import { FakeClock } from '../node/authority/fake-clock.js';
import { TEST_NETWORK_POLICY, FAST_KDF, removeTempDirs, seed, tempDir } from './support.js';

const crypto = getCrypto('sodium');
const GENESIS = 1_800_000_000_000;
const EPOCH_MS = 60_000;
const clock = new FakeClock(GENESIS - 30_000); // before genesis: a fresh network
const authoritySeed = seed(crypto, 'e2e authority');
const authorityKey = crypto.ed25519PublicKey(authoritySeed);
const nodes: NodeHandle[] = [];
const agents: ClientAgent[] = [];
let authority: AuthorityHandle;
let provider: ProviderHandle;
/** The fake clock is never pumped past this: the test stays inside one epoch. */
let pumpLimit = GENESIS - 16_000;

/** Moves the fake clock 20 ms per round (never past pumpLimit) until `condition` holds. */
async function until(what: string, condition: () => boolean | Promise<boolean>, guardMs = 20_000): Promise<void> {
  const deadline = Date.now() + guardMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    if (clock.now() + 20 <= pumpLimit) clock.advance(20);
    await sleep(5);
  }
}

function nodeConfig(role: string, name: string, extra: Record<string, unknown> = {}) {
  return validateNodeConfig({
    role,
    name,
    dataDir: tempDir('umbra-client-e2e-'),
    authorityUrls: [authority.url],
    authorities: [toBase64Url(authorityKey)],
    genesisMs: GENESIS,
    epochMs: EPOCH_MS,
    replayFilterLog2Bits: 16,
    consensusPollMs: 1000,
    link: { reconnectInitialMs: 20, reconnectMaxMs: 200 },
    ...extra,
  });
}

before(async () => {
  authority = await startAuthority(
    validateAuthorityConfig({
      identitySeed: toBase64Url(authoritySeed),
      authorities: [toBase64Url(authorityKey)],
      genesisMs: GENESIS,
      epochMs: EPOCH_MS,
      dataDir: tempDir('umbra-client-e2e-'),
      openAdmission: true,
      network: {
        mixing: { meanDelayMs: 10, maxDelayMs: 1000 },
        traffic: { clientSendRate: 20, loopRate: 2, dropRate: 1, gatewayClientRate: 200 },
        retrieval: 'bucket',
      },
    }),
    { crypto, clock },
  );
  const deps = { crypto, clock, log: () => undefined };
  const starts: Promise<NodeHandle>[] = [startGateway(nodeConfig('gateway', 'gateway'), deps)];
  for (const layer of [1, 2, 3]) for (const letter of ['a', 'b']) starts.push(startMix(nodeConfig('mix', `mix-${layer}-${letter}`, { layer }), deps));
  starts.push(startProvider(nodeConfig('provider', 'provider'), deps).then((handle) => (provider = handle)));
  nodes.push(...(await Promise.all(starts)));
  await until('every descriptor for epoch 0', () => nodes.every((node) => node.status().uploadedEpochs.includes(0)));
  clock.advanceTo(GENESIS + 1);
  pumpLimit = GENESIS + 40_000;
  await until('every node holding the consensus of epoch 0', () =>
    nodes.every((node) => node.status().consensusEpochs.includes(0) && node.status().uploadedEpochs.includes(1)));
});

after(async () => {
  for (const agent of agents) await agent.close().catch(() => undefined);
  await Promise.all(nodes.map((node) => node.close()));
  await authority?.close();
  removeTempDirs();
});

test('Alice sends Bob a mail over the real nodes: Bob reads it, Alice\'s copy is delivered', async () => {
  const server = provider.wsUrl.replace(/^wss:\/\//, '');
  const user = async (name: string) => {
    const dir = join(tempDir(), name);
    const init = await initClient(dir, { name, passphrase: 'pw', authority: { url: authority.url, publicKeys: [authorityKey] }, servers: [server], kdf: FAST_KDF, clock, ...TEST_NETWORK_POLICY });
    const agent = await startClient(dir, 'pw', { clock });
    agents.push(agent);
    return { init, agent };
  };
  const alice = await user('Alice');
  const bob = await user('Bob');
  alice.agent.addContact(bob.init.cardUri);
  const sent = await alice.agent.send({ to: 'Bob', subject: 'Over the mix network', body: 'Hello Bob, this went through five hops.' });

  let round = 0;
  await until('Bob\'s inbox to have the mail', async () => {
    if (round++ % 10 === 0) await bob.agent.poll();
    return bob.agent.inbox().length === 1;
  });
  const [mail] = bob.agent.inbox();
  assert.equal(mail.fromName, 'Alice');
  assert.equal(mail.subject, 'Over the mix network');
  assert.equal(bob.agent.read(mail.id).parsed.text, 'Hello Bob, this went through five hops.\n');

  round = 0;
  await until('Alice\'s copy to be delivered', async () => {
    if (round++ % 10 === 0) await alice.agent.poll();
    return alice.agent.sent()[0].status === 'delivered';
  });
  assert.equal(alice.agent.sent()[0].id, sent.id);
  assert.equal(alice.agent.status().awaitingAck, 0);
  assert.ok(alice.agent.status().packets.cover > 0, 'cover flowed too');

  // Loops (2 a second) come back through every layer to Alice's own mailbox.
  round = 0;
  await until('a loop to come back', async () => {
    if (round++ % 10 === 0) await alice.agent.poll();
    return alice.agent.status().loops.returned > 0;
  });
  assert.ok(alice.agent.status().loops.rttsMs.length > 0);
  assert.equal(provider.metrics.value('node_packets_exited_total') >= sent.fragments, true);
});
