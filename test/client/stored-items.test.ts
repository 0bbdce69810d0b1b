/**
 * Attacks on what a mailbox server stores, played against the real node processes (an authority,
 * a gateway, two mixes per layer and a provider, started with the library functions on 127.0.0.1,
 * one fake clock) and two real client agents. Alice mails Bob, Bob's ACK comes back, loops run.
 *
 * (a) A party that downloads the whole epoch from the provider (as any client may in download mode)
 *     finds no SURB and cannot tell a fragment from an ACK or a loop: every item has the same size
 *     and the same first bytes. Planted-leak control: the same detectors run on items in the old
 *     layout (`0x01 ‖ SURB ‖ fragment`, `0x02 ‖ SURB ID ‖ reply`) find the SURB and tell the kinds
 *     apart, so the test can fail. The old code's provider stored exactly that layout (its
 *     MailboxDelivery wrote `0x01 ‖ forward payload` and `0x02 ‖ SURB ID ‖ reply`): how the test
 *     fails there was checked with the control, which rebuilds those items for the same traffic, a
 *     SURB with a real path in the slot where the old client put it. Its first hop, a layer-1 mix's
 *     node ID, then sits at a fixed offset of every fragment item and the scan finds it.
 * (b) The forged-reply attack: with a SURB taken from the download the attacker answered first and
 *     the sender's agent, which used the SURB record up before checking the reply, ignored the real
 *     ACK, so the mail ended 'failed'. Now the download holds no SURB: every window of every item
 *     is refused as one, and the mail ends 'delivered'.
 */
import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { initClient, startClient, type ClientAgent } from '../../src/client/index.js';
import { MailboxFetcher } from '../../src/client/mailbox-fetcher.js';
import { fetchCurrentConsensus } from '../../src/client/setup.js';
import { hexOf, toBase64Url } from '../../src/codec/bytes.js';
import { getCrypto } from '../../src/crypto/index.js';
import { ackReplyPacket } from '../../src/e2e/sphinx-link.js';
import { startAuthority, validateAuthorityConfig, type AuthorityHandle } from '../../src/node/authority/index.js';
import { startGateway } from '../../src/node/gateway/index.js';
import { startMix } from '../../src/node/mix/index.js';
import { startProvider, type ProviderHandle } from '../../src/node/provider/index.js';
import { validateNodeConfig, type NodeHandle } from '../../src/node/runtime/index.js';
import { DEFAULT_NETWORK_PARAMETERS, type ConsensusDocument, type NodeDescriptor } from '../../src/pki/index.js';
import { Sphinx, SURB_ID_LENGTH, umbraV1Suite, type PathHop } from '../../src/sphinx/index.js';
import type { StoredItem } from '../../src/wire/retrieval.js';
import { FakeClock } from '../node/authority/fake-clock.js';
import { TEST_NETWORK_POLICY, FAST_KDF, removeTempDirs, seed, tempDir } from './support.js';

const crypto = getCrypto('sodium');
const sphinx = new Sphinx(umbraV1Suite(crypto), DEFAULT_NETWORK_PARAMETERS.geometry);
const GENESIS = 1_800_000_000_000;
const EPOCH_MS = 60_000;
const clock = new FakeClock(GENESIS - 30_000);
const authoritySeed = seed(crypto, 'stored items authority');
const authorityKey = crypto.ed25519PublicKey(authoritySeed);
const authoritySettings = () => ({ url: authority.url, publicKeys: [authorityKey] });
const nodes: NodeHandle[] = [];
const agents: ClientAgent[] = [];
let authority: AuthorityHandle;
let provider: ProviderHandle;
let pumpLimit = GENESIS - 16_000;

async function until(what: string, condition: () => boolean | Promise<boolean>, guardMs = 30_000): Promise<void> {
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
    role, name, dataDir: tempDir('umbra-stored-items-'), authorityUrls: [authority.url], authorities: [toBase64Url(authorityKey)],
    genesisMs: GENESIS, epochMs: EPOCH_MS, replayFilterLog2Bits: 16, consensusPollMs: 1000,
    link: { reconnectInitialMs: 20, reconnectMaxMs: 200 }, ...extra,
  });
}

before(async () => {
  authority = await startAuthority(
    validateAuthorityConfig({
      identitySeed: toBase64Url(authoritySeed), authorities: [toBase64Url(authorityKey)], genesisMs: GENESIS, epochMs: EPOCH_MS,
      dataDir: tempDir('umbra-stored-items-'), openAdmission: true,
      network: {
        mixing: { meanDelayMs: 10, maxDelayMs: 1000 },
        traffic: { clientSendRate: 20, loopRate: 2, dropRate: 1, gatewayClientRate: 200 },
        retrieval: 'download',
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

/** Every window of `item` that reads as a SURB whose first hop is a node of the network. */
function surbsIn(item: Uint8Array, doc: ConsensusDocument): { offset: number; surb: Uint8Array; firstHop: NodeDescriptor }[] {
  const g = sphinx.geometry;
  const ids = new Map(doc.nodes.map((node) => [hexOf(node.nodeId), node]));
  const found: { offset: number; surb: Uint8Array; firstHop: NodeDescriptor }[] = [];
  for (let offset = 0; offset + g.surbLength <= item.length; offset++) {
    const firstHop = ids.get(hexOf(item.subarray(offset + g.headerLength, offset + g.headerLength + 32)));
    if (firstHop !== undefined) found.push({ offset, surb: item.slice(offset, offset + g.surbLength), firstHop });
  }
  return found;
}

/** What tells items apart without a key: their sizes and their first bytes (up to the SURB ID). */
function shapes(items: readonly Uint8Array[]): Set<string> {
  return new Set(items.map((item) => `${item.length}:${hexOf(item.subarray(0, 1))}`));
}

/** The item the old provider stored for a fragment: 0x01 ‖ SURB ‖ fragment (the planted leak). */
function oldFragmentItem(doc: ConsensusDocument, fragment: Uint8Array): Uint8Array {
  const layer = (l: number) => doc.nodes.filter((node) => node.layer === l)[0];
  const path: PathHop[] = [1, 2, 3, 4].map((l) => {
    const node = layer(l);
    const key = node.sphinxKeys.find((entry) => entry.epoch === doc.epoch)!.publicKey;
    const commands = l === 4 ? [{ type: 'recipient' as const, recipient: new Uint8Array(32).fill(7) }, { type: 'surb-reply' as const, surbId: new Uint8Array(SURB_ID_LENGTH).fill(1) }] : [];
    return { id: node.nodeId, publicKey: key, commands };
  });
  const { surb } = sphinx.newSurb(path, (n) => crypto.randomBytes(n));
  return new Uint8Array([0x01, ...surb, ...fragment.subarray(0, sphinx.geometry.userForwardPayloadLength)]);
}

test('a party that downloads the whole epoch finds no SURB and cannot tell fragments, ACKs and loops apart; a forged reply cannot fail the mail', async () => {
  const server = provider.wsUrl.replace(/^wss:\/\//, '');
  const user = async (name: string) => {
    const dir = join(tempDir(), name);
    const init = await initClient(dir, { name, passphrase: 'pw', authority: authoritySettings(), servers: [server], kdf: FAST_KDF, clock, ...TEST_NETWORK_POLICY });
    const agent = await startClient(dir, 'pw', { clock });
    agents.push(agent);
    return { init, agent };
  };
  const alice = await user('Alice');
  const bob = await user('Bob');
  alice.agent.addContact(bob.init.cardUri);
  const sent = await alice.agent.send({ to: 'Bob', subject: 'Numbers', body: 'The figures, as promised.' });

  let round = 0;
  await until('Bob\'s inbox to have the mail', async () => {
    if (round++ % 10 === 0) await bob.agent.poll();
    return bob.agent.inbox().length === 1;
  });

  // Bob can read the mail from fewer fragments than were sent (erasure coding): wait until every
  // fragment is stored (on a loaded machine the last one can still be in the mixes).
  await until('every fragment stored at the provider', async () => (await provider.store.stats()).messages >= sent.fragments);

  // The attacker downloads the whole epoch, as it stands after the fragments arrived.
  const doc = await fetchCurrentConsensus(crypto, authoritySettings(), clock.now());
  const providerNode = doc.nodes.find((node) => node.name === 'provider')!;
  const fetcher = new MailboxFetcher(providerNode, 5000, 1 << 20);
  let items: StoredItem[];
  try {
    items = await fetcher.fetchEpoch(doc.epoch);
  } finally {
    fetcher.close();
  }
  const ciphertexts = items.map((item) => item.ciphertext);
  assert.ok(ciphertexts.length >= sent.fragments, `${ciphertexts.length} items, at least the ${sent.fragments} fragments`);

  // (a) One shape for every item, and no SURB anywhere.
  assert.equal(shapes(ciphertexts).size, 1, 'every item has the same size and first byte');
  assert.equal(ciphertexts[0].length, 1 + SURB_ID_LENGTH + sphinx.geometry.payloadLength);
  assert.deepEqual(ciphertexts.flatMap((item) => surbsIn(item, doc)), [], 'no window of any item is a SURB into the network');

  // Planted-leak control: the old layout of the same traffic gives itself away to both detectors.
  const old = [
    ...ciphertexts.slice(0, sent.fragments).map((item) => oldFragmentItem(doc, item.subarray(1 + SURB_ID_LENGTH))),
    new Uint8Array([0x02, ...ciphertexts[0].subarray(1)]),
  ];
  assert.equal(shapes(old).size, 2, 'the control: the old layout shows two kinds');
  const leaked = surbsIn(old[0], doc);
  assert.ok(leaked.some((found) => found.offset === 1 && found.firstHop.layer === 1), 'the control: the old layout holds a working SURB');
  assert.doesNotThrow(() => ackReplyPacket(sphinx, leaked[0].surb, { messageId: new Uint8Array(16), kind: 'ack', missing: [] }));

  // (b) The forged reply: the attacker would reply first through a SURB it found; it found none, so
  // no reply of its making can reach Alice's SURB records. The real ACK delivers the mail.
  round = 0;
  await until('Alice\'s copy to be delivered', async () => {
    if (round++ % 10 === 0) await alice.agent.poll();
    return alice.agent.sent()[0].status !== 'sending' && alice.agent.sent()[0].status !== 'queued';
  });
  assert.equal(alice.agent.sent()[0].status, 'delivered');

  // The ACK and the loops are stored like the fragments (the ACK at Alice's own address).
  round = 0;
  await until('a loop to come back', async () => {
    if (round++ % 10 === 0) await alice.agent.poll();
    return alice.agent.status().loops.returned > 0;
  });
  const again = new MailboxFetcher(providerNode, 5000, 1 << 20);
  try {
    const everything = (await again.fetchEpoch(doc.epoch)).map((item) => item.ciphertext);
    assert.ok(everything.length > ciphertexts.length, 'ACKs and loops were stored too');
    assert.equal(shapes(everything).size, 1, 'fragments, ACKs and loops: one size, one first byte');
    assert.deepEqual(everything.flatMap((item) => surbsIn(item, doc)), []);
  } finally {
    again.close();
  }
});
