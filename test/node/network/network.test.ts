/**
 * A whole small network in one process: an authority, a gateway, two mixes per layer and two
 * providers, all started with the library functions on 127.0.0.1 with ephemeral ports and one fake
 * clock (60-second epochs that pass only when the test says so). A test client builds Sphinx
 * packets from the consensus, sends them to the gateway's WebSocket and reads the provider's.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { WebSocket } from 'ws';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hexOf, toBase64Url } from '../../../src/codec/bytes.js';
import { getCrypto, seededRandom } from '../../../src/crypto/index.js';
import { encodeConsensus } from '../../../src/pki/index.js';
import { fetchConsensus } from '../../../src/net/authority-client.js';
import { mirrorTarget } from '../../../src/net/pinned-https.js';
import { connectLink } from '../../../src/net/link-dialer.js';
import { encodeGatewayFrame, gatewayFrameLength, parseGatewayFrame } from '../../../src/wire/gateway-frame.js';
import { connectWebSocket } from '../../../src/net/websocket.js';
import { startAuthority, validateAuthorityConfig, type AuthorityHandle } from '../../../src/node/authority/index.js';
import { startGateway, type GatewayHandle } from '../../../src/node/gateway/index.js';
import { startMix, type MixHandle } from '../../../src/node/mix/index.js';
import { startProvider, type ProviderHandle } from '../../../src/node/provider/index.js';
import { LINK_SEED_FILE, mirrorUrlOf, parseKey32, validateNodeConfig, type NodeConfig, type NodeDeps, type NodeHandle } from '../../../src/node/runtime/index.js';
import { epochStart, type ConsensusDocument } from '../../../src/pki/index.js';
import { makeSuite, Sphinx } from '../../../src/sphinx/index.js';
import { bucketOf } from '../../../src/store/mailbox.js';
import { SqliteMailboxStore } from '../../../src/store/sqlite.js';
import { testSeed } from '../../pki/network-fixture.js';
import { FakeClock } from '../authority/fake-clock.js';
import {
  clientTarget,
  FaultyStore,
  labelled,
  labelOf,
  MailboxClient,
  metricLine,
  must,
  openGateway,
  same,
  startForger,
  TestClient,
  until,
} from './support.js';

const crypto = getCrypto('sodium');
const GENESIS = 1_800_000_000_000;
const EPOCH_MS = 60_000;
const timing = { genesisMs: GENESIS, epochMs: EPOCH_MS };
const GEOMETRY = { hops: 5, userForwardPayloadLength: 256, withSurb: true };
const BUCKETS = 16;
const GATEWAY_RATE = 200; // per client per second: burst 400

const clock = new FakeClock(GENESIS - 30_000); // before genesis: a fresh network
/** The fake clock is never pumped past this (each phase sets it). */
let pumpLimit = GENESIS - 16_000;
const wait = (what: string, condition: () => boolean | Promise<boolean>, options?: { pumpMs?: number; guardMs?: number }) =>
  until(what, condition, clock, () => pumpLimit, options);

const authoritySeed = testSeed(crypto, 'network authority');
const authorityKey = crypto.ed25519PublicKey(authoritySeed);
const sphinx = new Sphinx(makeSuite('umbra-v1', crypto), GEOMETRY);
const random = seededRandom(crypto, 20240601);

const dirs: string[] = [];
const logs: string[] = [];
/** Mailbox addresses used: none may ever appear in a log. */
const addresses: Uint8Array[] = [];
const configs = new Map<string, NodeConfig>();
const mixes = new Map<string, MixHandle>();
let authority: AuthorityHandle;
let forger: Awaited<ReturnType<typeof startForger>>;
let gateway: GatewayHandle;
let providerA: ProviderHandle;
let providerB: ProviderHandle;
let faulty: FaultyStore;

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-network-'));
  dirs.push(dir);
  return dir;
}

function newAddress(): Uint8Array {
  const address = random(32);
  address[0] |= 1; // never the cover address
  addresses.push(address);
  return address;
}

function depsFor(name: string): NodeDeps {
  return { crypto, clock, log: (line) => logs.push(`${name}: ${line}`) };
}

function nodeConfig(role: string, name: string, extra: Record<string, unknown> = {}): NodeConfig {
  const config = validateNodeConfig({
    role,
    name,
    dataDir: tempDir(),
    authorityUrls: [authority.url],
    authorities: [toBase64Url(authorityKey)],
    genesisMs: GENESIS,
    epochMs: EPOCH_MS,
    geometry: GEOMETRY,
    replayFilterLog2Bits: 16,
    consensusPollMs: 1000,
    link: { reconnectInitialMs: 20, reconnectMaxMs: 200 },
    ...extra,
  });
  configs.set(name, config);
  return config;
}

function allNodes(): NodeHandle[] {
  return [gateway, ...mixes.values(), providerA, providerB];
}

function mix(name: string): MixHandle {
  return must(mixes.get(name), name);
}

async function consensus(epoch: number): Promise<ConsensusDocument> {
  const fetched = await fetchConsensus(crypto, authority.url, epoch, { authorities: [authorityKey], nowMs: clock.now() });
  return must(fetched, `the consensus for epoch ${epoch}`).doc;
}

/** The messages for `address` in its bucket of `epoch` at a provider. */
async function mailboxOf(provider: ProviderHandle, address: Uint8Array, epoch: number): Promise<Uint8Array[]> {
  const mailbox = await MailboxClient.open(provider);
  try {
    const answer = await mailbox.fetchBucket(epoch, bucketOf(address, epoch, BUCKETS), BUCKETS);
    assert.equal(answer.kind, 'messages', answer.kind === 'error' ? answer.reason : '');
    return answer.kind === 'messages' ? answer.messages.filter((m) => same(m.address, address)).map((m) => m.ciphertext) : [];
  } finally {
    mailbox.close();
  }
}

/** Waits until `count` messages for `address` are stored, and returns their labels. */
async function delivered(client: TestClient, provider: ProviderHandle, address: Uint8Array, epoch: number, count: number, what: string): Promise<string[]> {
  let stored: Uint8Array[] = [];
  await wait(what, async () => {
    stored = await mailboxOf(provider, address, epoch);
    return stored.length >= count;
  });
  return stored.map((ciphertext) => labelOf(client.messageOf(ciphertext)));
}

function mixById(nodeId: Uint8Array): MixHandle {
  return must([...mixes.values()].find((node) => same(node.nodeId, nodeId)), 'mix');
}

/** The Sphinx packet inside a gateway frame. */
function packetOf(frame: Uint8Array): Uint8Array {
  const parsed = parseGatewayFrame(frame, sphinx.geometry.packetLength);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed.packet;
}

function counter(node: NodeHandle, reason: string): number {
  return node.metrics.value('node_packets_dropped_total', { reason });
}

before(async () => {
  authority = await startAuthority(
    validateAuthorityConfig({
      identitySeed: toBase64Url(authoritySeed),
      authorities: [toBase64Url(authorityKey)],
      genesisMs: GENESIS,
      epochMs: EPOCH_MS,
      dataDir: tempDir(),
      openAdmission: true,
      // No mix loops: the counts below are of this test's packets only (mix loops: test/testnet/reliability.test.ts).
      network: { geometry: GEOMETRY, mixing: { meanDelayMs: 10, maxDelayMs: 120_000 }, traffic: { gatewayClientRate: GATEWAY_RATE }, retrieval: 'bucket', reliability: { mixLoopRate: 0 } },
    }),
    { crypto, clock },
  );
  forger = await startForger(crypto, authority.url, authoritySeed);
  const starts: Promise<unknown>[] = [];
  starts.push(startGateway(nodeConfig('gateway', 'gateway'), depsFor('gateway')).then((handle) => (gateway = handle)));
  for (const layer of [1, 2, 3]) {
    for (const letter of ['a', 'b']) {
      const name = `mix-${layer}-${letter}`;
      // mix-1-b asks a forging mirror first, then the real authority.
      const extra = name === 'mix-1-b' ? { authorityUrls: [forger.url, authority.url] } : {};
      starts.push(startMix(nodeConfig('mix', name, { layer, ...extra }), depsFor(name)).then((handle) => mixes.set(name, handle)));
    }
  }
  starts.push(startProvider(nodeConfig('provider', 'provider-a', { store: { retentionMs: 2 * EPOCH_MS } }), depsFor('provider-a')).then((handle) => (providerA = handle)));
  const configB = nodeConfig('provider', 'provider-b');
  faulty = new FaultyStore(await SqliteMailboxStore.open({ path: configB.store!.path, maxCiphertextBytes: 1 + 16 + sphinx.geometry.payloadLength }));
  starts.push(startProvider(configB, { ...depsFor('provider-b'), store: faulty }).then((handle) => (providerB = handle)));
  await Promise.all(starts);

  // Before genesis every node uploads for epoch 0; the document is made at its publish time.
  await wait('every descriptor for epoch 0', () => allNodes().every((node) => node.status().uploadedEpochs.includes(0)));
  assert.equal(authority.documentBytes(0), undefined);
  clock.advanceTo(GENESIS + 1);
  pumpLimit = GENESIS + 40_000; // stay in epoch 0 (the next document is published at +45 s)
  await wait('every node holding the consensus of epoch 0 and having uploaded for epoch 1', () =>
    allNodes().every((node) => node.status().consensusEpochs.includes(0) && node.status().uploadedEpochs.includes(1)));
}, { timeout: 120_000 });

after(async () => {
  await Promise.all(allNodes().filter((node) => node !== undefined).map((node) => node.close()));
  await forger?.close();
  await authority?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('a whole network in one process', { timeout: 300_000 }, () => {
  let client: TestClient;

  test('the consensus lists every node, and every node runs its epoch', async () => {
    const doc = await consensus(0);
    client = new TestClient(sphinx, doc, random);
    assert.deepEqual(client.layers.map((layer) => layer.length), [1, 2, 2, 2, 2]);
    for (const node of allNodes()) {
      const status = node.status();
      assert.equal(status.epoch, 0);
      assert.deepEqual(status.keyEpochs, [0, 1, 2], node.name);
      const health = (await (await fetch(node.healthUrl)).json()) as { status: string; nodeId: string; role: string };
      assert.equal(health.status, 'ok');
      assert.equal(health.nodeId, toBase64Url(node.nodeId));
      assert.equal(health.role, node.role);
    }
    assert.equal(gateway.wsUrl, `wss://127.0.0.1:${gateway.wsPort}`);
  });

  test('every node mirrors the signed consensus it holds; clients verify it by its signatures', async () => {
    const doc = await consensus(0);
    for (const node of allNodes()) {
      // Over TLS with the node's link certificate: the mirror entry carries the link key after '#'.
      assert.equal(mirrorUrlOf(node), `https://127.0.0.1:${node.metricsPort}#${toBase64Url(node.linkKey)}`);
      const mirror = mirrorTarget(mirrorUrlOf(node), [authorityKey]);
      const fetched = await fetchConsensus(crypto, mirror.url, 'current', { authorities: [authorityKey], nowMs: clock.now() }, { tlsKeys: mirror.keys });
      assert.ok(fetched !== undefined, `${node.name} serves the current document`);
      // Pinned to the authority's key instead, the node's TLS key is refused.
      await assert.rejects(fetchConsensus(crypto, mirror.url, 'current', { authorities: [authorityKey], nowMs: clock.now() }), (e: unknown) => (e as { code?: string }).code === 'wrong-key');
      // Over cleartext the same port serves /healthz but not the consensus.
      const cleartext = node.metricsUrl.replace(/\/metrics$/, '');
      assert.equal((await fetch(`${cleartext}/healthz`)).status, 200);
      const refused = await fetch(`${cleartext}/v1/consensus/current`);
      assert.equal(refused.status, 403);
      assert.match(await refused.text(), /"error":"tls-required"/);
      assert.deepEqual(fetched.bytes, encodeConsensus(doc), `${node.name} serves the authority's bytes`);
    }
  });

  test('100 packets through the gateway are stored at the provider exactly once', async () => {
    const address = newAddress();
    const conn = await openGateway(gateway);
    const sent: string[] = [];
    for (let i = 0; i < 100; i++) {
      const delays = [0, 1, 2, 3].map(() => random(1)[0] % 20);
      assert.ok(conn.send(client.packet(client.route(providerA.nodeId), address, labelled('hello', i), delays)));
      sent.push(`hello #${i}`);
    }
    const labels = await delivered(client, providerA, address, 0, 100, '100 deliveries');
    assert.deepEqual([...labels].sort(), [...sent].sort());
    conn.close();
    // Give stragglers (none expected) a chance to show up as duplicates.
    await wait('the schedules to drain', () => gateway.scheduled === 0 && [...mixes.values()].every((m) => m.scheduled === 0));
    assert.equal((await mailboxOf(providerA, address, 0)).length, 100);
    for (const stored of await mailboxOf(providerA, address, 0)) {
      assert.equal(stored[0], 0x03);
      assert.equal(stored.length, 1 + 16 + sphinx.geometry.payloadLength);
    }
    assert.ok(gateway.metrics.value('node_packets_out_total') >= 100);
    for (const layer of [1, 2, 3]) {
      const through = ['a', 'b'].reduce((sum, letter) => sum + mix(`mix-${layer}-${letter}`).metrics.value('node_packets_out_total'), 0);
      assert.ok(through >= 100, `layer ${layer} forwarded ${through}`);
    }
    assert.ok(providerA.metrics.value('node_packets_exited_total') >= 100);
  });

  test('a SURB reply is stored like a fragment (0x03 ‖ SURB ID ‖ payload) and decrypts for its creator', async () => {
    const address = newAddress();
    const surbId = random(16);
    const path = client.path(client.route(providerA.nodeId), [0, 0, 0, 0], [
      { type: 'recipient', recipient: address },
      { type: 'surb-reply', surbId },
    ]);
    const { surb, decryptionToken } = sphinx.newSurb(path, random);
    const { firstHop, packet } = sphinx.newPacketFromSurb(surb, labelled('reply', 1));
    assert.equal(mixById(firstHop).layer, 1, 'a SURB starts at a layer-1 mix, which any gateway reaches');
    const conn = await openGateway(gateway);
    conn.send(encodeGatewayFrame({ firstHop, packet }));
    let stored: Uint8Array[] = [];
    await wait('the reply', async () => (stored = await mailboxOf(providerA, address, 0)).length === 1);
    const [ciphertext] = stored;
    assert.equal(ciphertext[0], 0x03);
    assert.deepEqual(ciphertext.subarray(1, 17), surbId);
    assert.equal(ciphertext.length, 1 + 16 + sphinx.geometry.payloadLength);
    assert.equal(labelOf(sphinx.decryptSurbPayload(ciphertext.subarray(17), decryptionToken)), 'reply #1');
    conn.close();
  });

  test('drop cover is unwrapped and discarded, never stored', async () => {
    const before = providerA.metrics.value('node_packets_exited_total');
    const conn = await openGateway(gateway);
    for (let i = 0; i < 5; i++) conn.send(client.packet(client.route(providerA.nodeId), new Uint8Array(32), labelled('cover', i)));
    await wait('5 cover packets', () => providerA.metrics.value('node_packets_exited_total') === before + 5);
    const mailbox = await MailboxClient.open(providerA);
    const all = await mailbox.fetchEpoch(0);
    assert.equal(all.kind, 'messages');
    if (all.kind === 'messages') {
      assert.ok(all.messages.length >= 101);
      assert.ok(all.messages.every((m) => m.address.some((byte) => byte !== 0)));
      assert.ok(all.messages.every((m) => !labelOf(client.messageOf(m.ciphertext)).startsWith('cover')));
    }
    mailbox.close();
    conn.close();
  });

  test('a plain forward delivery to a mailbox (the old layout, its SURB slot in clear) is not stored', async () => {
    const address = newAddress();
    const before = providerA.metrics.value('node_packets_dropped_total', { reason: 'not-uniform' });
    const conn = await openGateway(gateway);
    conn.send(client.plainPacket(client.route(providerA.nodeId), address, labelled('plain', 1)));
    await wait('the plain delivery to be refused', () => providerA.metrics.value('node_packets_dropped_total', { reason: 'not-uniform' }) === before + 1);
    assert.deepEqual(await mailboxOf(providerA, address, 0), []);
    conn.close();
  });

  test('no metric on any node tells real mail from drop cover', async () => {
    // The counters of every node's /metrics page (timing histograms aside); without the single
    // exit counter (count drop('cover') and deliveries by kind again) the two diffs differ.
    const scrape = async (): Promise<Map<string, number>> => {
      const values = new Map<string, number>();
      for (const node of allNodes()) {
        for (const line of (await (await fetch(node.metricsUrl)).text()).split('\n')) {
          if (line === '' || line.startsWith('#') || line.includes('unwrap_seconds')) continue;
          const at = line.lastIndexOf(' ');
          values.set(`${node.name} ${line.slice(0, at)}`, Number(line.slice(at + 1)));
        }
      }
      return values;
    };
    const diff = (a: Map<string, number>, b: Map<string, number>): Record<string, number> => {
      assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort(), 'the label sets stay the same');
      return Object.fromEntries([...b].filter(([key, value]) => value !== a.get(key)).map(([key, value]) => [key, value - a.get(key)!]));
    };
    const exited = () => providerA.metrics.value('node_packets_exited_total');
    const conn = await openGateway(gateway);
    const route = client.route(providerA.nodeId); // one path for both, so the mixes count alike too
    const start = await scrape();
    for (let i = 0; i < 5; i++) conn.send(client.packet(route, new Uint8Array(32), labelled('cover-cmp', i)));
    await wait('5 cover packets', () => exited() === start.get(`${providerA.name} umbra_node_packets_exited_total`)! + 5);
    const afterCover = await scrape();
    const address = newAddress();
    for (let i = 0; i < 5; i++) conn.send(client.packet(route, address, labelled('real-cmp', i)));
    await wait('5 real packets', () => exited() === afterCover.get(`${providerA.name} umbra_node_packets_exited_total`)! + 5);
    const afterReal = await scrape();
    await delivered(client, providerA, address, 0, 5, '5 real deliveries'); // read after the scrape: fetches are counted
    conn.close();
    const cover = diff(start, afterCover);
    assert.ok(Object.keys(cover).length > 0, 'the cover packets were counted');
    assert.deepEqual(diff(afterCover, afterReal), cover);
  });

  test('a replayed packet is dropped by the first hop (the layer-1 mix) and counted', async () => {
    const address = newAddress();
    const route = client.route(providerA.nodeId);
    const firstMix = mixById(route.nodes[1].nodeId);
    const packet = client.packet(route, address, labelled('once', 0));
    const replaysBefore = counter(firstMix, 'replay');
    const inBefore = gateway.metrics.value('node_packets_in_total');
    const conn = await openGateway(gateway);
    conn.send(packet);
    conn.send(packet);
    await wait('the replay to be counted', () => counter(firstMix, 'replay') === replaysBefore + 1);
    assert.equal(gateway.metrics.value('node_packets_in_total'), inBefore + 2);
    assert.deepEqual(await delivered(client, providerA, address, 0, 1, 'the packet'), ['once #0']);
    await wait('the schedules to drain', () => gateway.scheduled === 0 && [...mixes.values()].every((m) => m.scheduled === 0));
    assert.equal((await mailboxOf(providerA, address, 0)).length, 1);
    conn.close();
  });

  test('forged consensus documents are refused and counted; the node keeps working on the real one', () => {
    const node = mix('mix-1-b');
    assert.ok(forger.forged >= 1);
    assert.ok(node.metrics.value('node_consensus_rejected_total', { reason: 'bad-signature' }) >= 1);
    assert.ok(node.status().consensusEpochs.includes(0));
    assert.ok(node.metrics.value('node_packets_out_total') > 0, 'mix-1-b forwarded packets');
    assert.ok(logs.some((line) => line.startsWith('mix-1-b:') && line.includes('bad-signature')));
  });

  test('the gateway limits each client to its rate and counts the excess', async () => {
    // From its own source address: the bucket belongs to the address, not to the connection.
    const conn = await connectWebSocket(clientTarget(gateway), { maxMessageBytes: 1024, localAddress: '127.0.0.9' });
    const before = { limited: counter(gateway, 'rate-limited'), short: counter(gateway, 'wrong-size'), in: gateway.metrics.value('node_packets_in_total') };
    const burst = Math.max(4, 2 * GATEWAY_RATE);
    for (let i = 0; i < burst + 50; i++) conn.send(new Uint8Array([i & 0xff]));
    // The fake clock stands still: no token comes back while these arrive.
    await wait('every message counted', () => gateway.metrics.value('node_packets_in_total') === before.in + burst + 50, { pumpMs: 0 });
    assert.equal(counter(gateway, 'rate-limited') - before.limited, 50);
    assert.equal(counter(gateway, 'wrong-size') - before.short, burst);
    assert.ok(conn.isOpen, 'the connection stays open');
    conn.close();
  });

  test("a mix that presents its link key (its loops) has a bucket of its own, not its address's", async () => {
    const burst = Math.max(4, 2 * GATEWAY_RATE);
    const before = { limited: counter(gateway, 'rate-limited'), in: gateway.metrics.value('node_packets_in_total'), mixes: gateway.metrics.value('node_gateway_mix_connections_total') };
    // A client empties the bucket of 127.0.0.10.
    const client = await connectWebSocket(clientTarget(gateway), { maxMessageBytes: 1024, localAddress: '127.0.0.10' });
    for (let i = 0; i < burst + 5; i++) client.send(new Uint8Array([i & 0xff]));
    await wait('the client counted', () => gateway.metrics.value('node_packets_in_total') === before.in + burst + 5, { pumpMs: 0 });
    assert.equal(counter(gateway, 'rate-limited') - before.limited, 5);
    // From the same address, mix-1-a shows its link key: its packets draw on its own bucket.
    const linkSeed = parseKey32(readFileSync(join(configs.get('mix-1-a')!.dataDir, LINK_SEED_FILE), 'utf8').trim())!;
    const loops = await connectWebSocket(clientTarget(gateway), { maxMessageBytes: 1024, localAddress: '127.0.0.10', clientSeed: linkSeed });
    for (let i = 0; i < burst; i++) loops.send(new Uint8Array([i & 0xff]));
    await wait('the mix counted', () => gateway.metrics.value('node_packets_in_total') === before.in + 2 * burst + 5, { pumpMs: 0 });
    assert.equal(counter(gateway, 'rate-limited') - before.limited, 5, 'none of the mix\'s packets was limited');
    assert.equal(gateway.metrics.value('node_gateway_mix_connections_total') - before.mixes, 1);
    // A key no document lists as a mix's is a client like any other: the address's bucket is empty.
    const stranger = await connectWebSocket(clientTarget(gateway), { maxMessageBytes: 1024, localAddress: '127.0.0.10', clientSeed: testSeed(crypto, 'not a mix') });
    stranger.send(new Uint8Array([1]));
    await wait('the stranger counted', () => gateway.metrics.value('node_packets_in_total') === before.in + 2 * burst + 6, { pumpMs: 0 });
    assert.equal(counter(gateway, 'rate-limited') - before.limited, 6);
    for (const conn of [client, loops, stranger]) conn.close();
  });

  test('garbage on every port is refused and counted, and the network keeps working', async () => {
    const target = mix('mix-2-a');
    const linkRejected = (node: NodeHandle, reason: string) => node.metrics.link.get('connections_rejected', reason);

    // Link port: bytes that are not TLS, then TLS from a key the consensus does not list.
    const handshakes = linkRejected(target, 'handshake-failed');
    const raw = netConnect(target.linkPort, '127.0.0.1', () => raw.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n\x00\xff garbage'));
    raw.on('error', () => undefined);
    await wait('the garbage handshake to be refused', () => linkRejected(target, 'handshake-failed') > handshakes);
    raw.destroy();
    const unknown = linkRejected(target, 'unknown-peer');
    const stranger = connectLink({ port: target.linkPort, expectedLinkKey: target.linkKey, seed: random(32), packetLength: sphinx.geometry.packetLength });
    await wait('the stranger to be refused', () => linkRejected(target, 'unknown-peer') > unknown);
    stranger.close();

    // Gateway WebSocket: text, a short packet, a full-size forgery, an oversized message, raw bytes.
    const closedBy = (reason: string) => gateway.metrics.link.get('ws_connections_closed_by_us', reason);
    const textBefore = closedBy('text');
    const ws = new WebSocket(gateway.wsUrl, { rejectUnauthorized: false });
    await new Promise<void>((resolve) => ws.once('open', () => resolve()));
    const textClosed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
    ws.send('hello, gateway');
    assert.equal(await textClosed, 1003);
    assert.equal(closedBy('text'), textBefore + 1);
    const conn = await openGateway(gateway);
    const firstMix = mix('mix-1-a');
    const badMac = counter(firstMix, 'bad-mac');
    const short = counter(gateway, 'wrong-size');
    const unknownHop = counter(gateway, 'unknown-next-hop');
    const forged = random(sphinx.geometry.packetLength);
    forged.set(sphinx.suite.additionalData, 0);
    conn.send(encodeGatewayFrame({ firstHop: firstMix.nodeId, packet: forged })); // forwarded; its MAC fails at the mix
    conn.send(encodeGatewayFrame({ firstHop: mix('mix-2-a').nodeId, packet: forged })); // not a layer-1 mix: dropped
    conn.send(new Uint8Array(100));
    await wait('the forgery and the short packet to be dropped', () =>
      counter(firstMix, 'bad-mac') === badMac + 1 && counter(gateway, 'wrong-size') === short + 1 && counter(gateway, 'unknown-next-hop') === unknownHop + 1);
    const oversized = await connectWebSocket(clientTarget(gateway), { maxMessageBytes: 1024 });
    const oversizedClosed = new Promise<number>((resolve) => oversized.onClose(resolve));
    oversized.send(new Uint8Array(gatewayFrameLength(sphinx.geometry.packetLength) + 1));
    assert.equal(await oversizedClosed, 1009);
    assert.ok(closedBy('oversized') >= 1);
    const junk = netConnect(gateway.wsPort, '127.0.0.1', () => junk.write('\x16\x03\x01 not http at all\r\n\r\n'));
    junk.on('error', () => undefined);
    junk.resume();
    await new Promise<void>((resolve) => junk.on('close', () => resolve()));

    // Provider WebSocket: an unknown command, a truncated request, bad buckets, an epoch not held.
    const mailbox = await MailboxClient.open(providerA);
    const errorsBefore = (code: string) => providerA.metrics.value('node_retrieval_errors_total', { code });
    const unknownCommand = errorsBefore('unknown-command');
    const answers = {
      unknown: await mailbox.request(Uint8Array.of(0x7f, 0, 0, 0, 9, 1, 2, 3), 9),
      truncated: await mailbox.request(Uint8Array.of(0x01, 0, 0, 0, 10, 0, 0), 10),
      buckets: await mailbox.request(bucketRequest(11, 0, 16, 16), 11),
      zeroBuckets: await mailbox.request(bucketRequest(12, 0, 0, 0), 12),
      future: await mailbox.request(bucketRequest(13, 5, 0, 16), 13),
    };
    const code = (bytes: Uint8Array) => {
      assert.equal(bytes[0], 0xe0);
      return new DataView(bytes.buffer, bytes.byteOffset).getUint16(5);
    };
    assert.equal(code(answers.unknown), 2);
    assert.equal(code(answers.truncated), 1);
    assert.equal(code(answers.buckets), 3);
    assert.equal(code(answers.zeroBuckets), 3);
    assert.equal(code(answers.future), 4);
    assert.equal(errorsBefore('unknown-command'), unknownCommand + 1);
    assert.ok(mailbox.conn.isOpen, 'bad requests do not end the connection');
    mailbox.close();

    // HTTP listener: bytes that are not HTTP, an unknown path, a wrong method.
    const httpErrors = (node: NodeHandle, code: string) => node.metrics.value('node_http_errors_total', { code });
    const badRequests = httpErrors(target, 'bad-request');
    const http = netConnect(target.metricsPort, '127.0.0.1', () => http.write('\x00\x01\x02 garbage \r\n\r\n'));
    http.on('error', () => undefined);
    const reply = await new Promise<string>((resolve) => {
      let text = '';
      http.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      http.on('close', () => resolve(text));
    });
    assert.match(reply, /^HTTP\/1\.1 400/);
    assert.equal(httpErrors(target, 'bad-request'), badRequests + 1);
    assert.equal((await fetch(target.metricsUrl.replace('/metrics', '/nope'))).status, 404);
    assert.equal((await fetch(target.metricsUrl, { method: 'POST', body: 'x' })).status, 405);
    assert.equal(httpErrors(target, 'not-found'), 1);
    assert.equal(httpErrors(target, 'method-not-allowed'), 1);

    // And the network still carries mail.
    const address = newAddress();
    for (let i = 0; i < 10; i++) conn.send(client.packet(client.route(providerA.nodeId, { 2: target.nodeId }), address, labelled('after garbage', i)));
    assert.equal((await delivered(client, providerA, address, 0, 10, 'mail after the garbage')).length, 10);
    conn.close();
  });

  test('store failures are counted and answered; what was stored stays; the provider keeps running', async () => {
    const address = newAddress();
    const conn = await openGateway(gateway);
    const send = (tag: string, count: number) => {
      for (let i = 0; i < count; i++) conn.send(client.packet(client.route(providerB.nodeId), address, labelled(tag, i)));
    };
    send('kept', 10);
    assert.equal((await delivered(client, providerB, address, 0, 10, 'the first 10')).length, 10);

    faulty.failDeliver = 'full';
    const full = () => providerB.metrics.value('node_store_errors_total', { operation: 'deliver', kind: 'full' });
    send('refused', 5);
    await wait('5 refused deliveries', () => full() === 5);
    assert.equal(counter(providerB, 'store-full'), 5);

    faulty.failFetch = 'io';
    const mailbox = await MailboxClient.open(providerB);
    const answer = await mailbox.fetchBucket(0, bucketOf(address, 0, BUCKETS), BUCKETS);
    assert.equal(answer.kind, 'error');
    if (answer.kind === 'error') assert.equal(answer.code, 7);
    assert.equal(providerB.metrics.value('node_retrieval_errors_total', { code: 'store-io' }), 1);
    assert.equal(providerB.metrics.value('node_store_errors_total', { operation: 'fetch', kind: 'io' }), 1);
    assert.ok(logs.some((line) => line === 'provider-b: provider: mailbox store deliver failed (full)'));

    faulty.failDeliver = undefined;
    faulty.failFetch = undefined;
    send('later', 3);
    const labels = await delivered(client, providerB, address, 0, 13, 'the 10 kept and 3 later');
    assert.deepEqual(labels.filter((label) => label.startsWith('kept')).length, 10);
    assert.deepEqual(labels.filter((label) => label.startsWith('later')).length, 3);
    assert.equal(labels.length, 13);
    mailbox.close();
    conn.close();
  });

  test('/metrics shows the counters', async () => {
    const page = async (node: NodeHandle) => (await fetch(node.metricsUrl)).text();
    const gatewayPage = await page(gateway);
    assert.ok(metricLine(gatewayPage, 'umbra_node_packets_in_total') > 100);
    assert.ok(metricLine(gatewayPage, 'umbra_node_packets_out_total') > 100);
    assert.equal(metricLine(gatewayPage, 'umbra_node_packets_dropped_total{reason="rate-limited"}'), counter(gateway, 'rate-limited'));
    assert.equal(counter(gateway, 'rate-limited'), 56, 'the two rate tests above: 50 and 6');
    // The gateway forwards and holds nothing; the replay was refused by the layer-1 mix.
    assert.doesNotMatch(gatewayPage, /^umbra_node_schedule_depth/m);
    const layer1Replays = await Promise.all(['mix-1-a', 'mix-1-b'].map(async (name) => metricLine(await page(mix(name)), 'umbra_node_packets_dropped_total{reason="replay"}')));
    assert.ok(layer1Replays.reduce((a, b) => a + b, 0) >= 1);
    assert.match(gatewayPage, /^umbra_node_epoch 0$/m);
    assert.match(gatewayPage, /^umbra_node_consensus_epoch 0$/m);
    assert.match(gatewayPage, /^umbra_link_ws_connections_closed_by_us_total\{reason="text"\} 1$/m);
    const mixPage = await page(mix('mix-2-a'));
    assert.ok(metricLine(mixPage, 'umbra_link_connections_rejected_total{reason="handshake-failed"}') >= 1);
    assert.ok(metricLine(mixPage, 'umbra_link_connections_rejected_total{reason="unknown-peer"}') >= 1);
    assert.ok(metricLine(mixPage, 'umbra_node_packets_in_total') > 0);
    assert.equal(metricLine(mixPage, 'umbra_node_http_errors_total{code="bad-request"}'), 1);
    const forgedPage = await page(mix('mix-1-b'));
    assert.ok(metricLine(forgedPage, 'umbra_node_consensus_rejected_total{reason="bad-signature"}') >= 1);
    const providerPage = await page(providerA);
    assert.ok(metricLine(providerPage, 'umbra_node_packets_exited_total') >= 117, 'mail, the SURB reply and cover, counted alike');
    assert.doesNotMatch(providerPage, /^umbra_node_packets_(delivered|dropped_total\{reason="cover")/m);
    assert.ok(metricLine(providerPage, 'umbra_node_retrieval_requests_total{type="bucket"}') > 0);
    assert.equal(metricLine(providerPage, 'umbra_node_retrieval_errors_total{code="unknown-command"}'), 1);
  });

  test('an epoch change with packets in flight still delivers them (grace period)', async () => {
    await wait('every descriptor for epoch 1', () => allNodes().every((node) => node.status().uploadedEpochs.includes(1)));
    const boundary = epochStart(1, timing);
    const address = newAddress();
    const conn = await openGateway(gateway);
    // Layer 2 holds every packet until 2 s after the boundary; all were built with epoch 0's keys.
    const hold = boundary - clock.now() + 2000;
    assert.ok(hold <= 120_000, 'within the consensus maximum delay');
    for (let i = 0; i < 20; i++) conn.send(client.packet(client.route(providerA.nodeId), address, labelled('boundary', i), [0, 0, hold, 0]));
    await wait('20 packets held at layer 2', () => mix('mix-2-a').scheduled + mix('mix-2-b').scheduled === 20);
    const lateKeys = () =>
      [mix('mix-3-a'), mix('mix-3-b'), providerA].reduce((sum, node) => sum + node.metrics.value('node_unwrap_previous_key_total'), 0);
    const before = lateKeys();

    pumpLimit = boundary + 10_000; // inside the grace period (15 s)
    clock.advanceTo(boundary + 5000);
    assert.ok(authority.documentBytes(1) !== undefined);
    for (const node of allNodes()) assert.equal(node.status().epoch, 1);
    const labels = await delivered(client, providerA, address, 1, 20, '20 deliveries in epoch 1');
    assert.equal(labels.length, 20);
    assert.equal(lateKeys() - before, 40, 'layer 3 and the provider unwrapped each under the previous key');
    // Stored under the provider's epoch at arrival: nothing of these is in epoch 0's bucket.
    assert.equal((await mailboxOf(providerA, address, 0)).length, 0);
    await wait('every node holding the consensus of epoch 1', () => allNodes().every((node) => node.status().consensusEpochs.includes(1)));
    for (const node of allNodes()) assert.deepEqual(node.status().keyEpochs, [0, 1, 2, 3], node.name);
    // The forging mirror was asked again, and refused again.
    assert.ok(mix('mix-1-b').metrics.value('node_consensus_rejected_total', { reason: 'unknown-authority' }) >= 1);
    conn.close();
  });

  test('a mix closed and restarted on its data directory keeps its identity and keys; packets after it is back arrive', async (t) => {
    const doc = await consensus(1);
    const client1 = new TestClient(sphinx, doc, random);
    const name = 'mix-2-a';
    const victim = mix(name);
    const address = newAddress();
    const conn = await openGateway(gateway);
    const send = (tag: string, count: number) => {
      for (let i = 0; i < count; i++) conn.send(client1.packet(client1.route(providerA.nodeId, { 2: victim.nodeId }), address, labelled(tag, i)));
    };
    const first = client1.packet(client1.route(providerA.nodeId, { 1: mix('mix-1-a').nodeId, 2: victim.nodeId }), address, labelled('before', 10));
    conn.send(first);
    send('before', 10);
    await delivered(client1, providerA, address, 1, 11, 'the packets before');

    // Killed while packets keep coming: these wait in layer 1's link queues, or are lost.
    const closing = victim.close();
    send('during', 10);
    await closing;
    const config = must(configs.get(name), 'config');
    const restarted = await startMix({ ...config, linkPort: victim.linkPort }, depsFor(`${name} (restarted)`));
    mixes.set(name, restarted);
    assert.ok(same(restarted.nodeId, victim.nodeId));
    assert.ok(same(restarted.linkKey, victim.linkKey));
    assert.equal(restarted.linkPort, victim.linkPort);
    await wait('the restarted mix to hold the consensus', () => restarted.status().consensusEpochs.includes(1));
    assert.deepEqual(restarted.status().keyEpochs, [0, 1, 2, 3]);
    await wait('its descriptors to be accepted again', () => restarted.status().uploadedEpochs.includes(2));
    assert.ok(restarted.metrics.value('node_descriptor_uploads_total', { result: 'unchanged' }) >= 1, 'the same descriptor bytes');

    send('after', 10);
    let labels: string[] = [];
    await wait('the packets sent after the restart', async () => {
      labels = (await mailboxOf(providerA, address, 1)).map((ciphertext) => labelOf(client1.messageOf(ciphertext)));
      return labels.filter((label) => label.startsWith('after')).length === 10;
    });
    const during = labels.filter((label) => label.startsWith('during')).length;
    t.diagnostic(`${during} of the 10 packets sent while the mix was down arrived (link queues hold them; at-most-once)`);
    assert.equal(new Set(labels).size, labels.length);

    // The restarted mix read its replay journal back: the first packet, as layer 1 forwarded it
    // before the restart, is a replay. (Unwrapped here with mix-1-a's own key, and sent over a
    // link pinned as mix-1-a.)
    const keyOf = (node: string) => new Uint8Array(readFileSync(join(must(configs.get(node), node).dataDir, 'sphinx', '1.key')));
    const hop2 = sphinx.unwrap(keyOf('mix-1-a'), packetOf(first));
    assert.ok(hop2.kind === 'forward' && same(hop2.nextHop, victim.nodeId));
    const replays = counter(restarted, 'replay');
    const linkSeed = must(parseKey32(readFileSync(join(must(configs.get('mix-1-a'), 'mix-1-a').dataDir, 'link.seed'), 'utf8').trim()), 'link seed');
    const asLayer1 = connectLink({ port: restarted.linkPort, expectedLinkKey: restarted.linkKey, seed: linkSeed, packetLength: sphinx.geometry.packetLength });
    asLayer1.send(hop2.kind === 'forward' ? hop2.packet : first);
    await wait('the replay to be refused', () => counter(restarted, 'replay') === replays + 1);
    asLayer1.close();
    conn.close();
  });

  test('when the grace period ends the previous key is destroyed, and packets built for it are refused', async () => {
    const boundary = epochStart(1, timing);
    pumpLimit = boundary + 40_000;
    clock.advanceTo(boundary + 15_001);
    for (const node of allNodes()) assert.deepEqual(node.status().keyEpochs, [1, 2, 3], node.name);
    for (const config of configs.values()) {
      assert.equal(existsSync(join(config.dataDir, 'sphinx', '0.key')), false);
      assert.equal(existsSync(join(config.dataDir, 'replay', '0.tags')), false);
      assert.equal(existsSync(join(config.dataDir, 'sphinx', '1.key')), true);
    }
    // Built from epoch 0's document, with epoch 0's keys.
    const route = client.route(providerA.nodeId);
    const firstMix = mixById(route.nodes[1].nodeId);
    const stale = client.packet(route, newAddress(), labelled('stale', 0));
    const refused = counter(firstMix, 'bad-mac');
    const conn = await openGateway(gateway);
    conn.send(stale);
    await wait('the stale packet to be refused', () => counter(firstMix, 'bad-mac') === refused + 1);
    conn.close();
  });

  test('retention deletes old messages; epochs past retention are refused', async () => {
    const stats = await providerA.store.stats();
    assert.ok(stats.messages >= 140, `${stats.messages} stored`);
    pumpLimit = GENESIS + 4 * EPOCH_MS;
    // The clock was never pumped past GENESIS + 100 s (the previous test's limit), so everything so far
    // was received by then (on a loaded machine, late in that window); with 2 epochs of retention it all
    // goes at + 220 s. Still epoch 3: epoch 0 is past retention, epoch 2 within it.
    clock.advanceTo(GENESIS + 225_000);
    await providerA.runRetention();
    assert.equal((await providerA.store.stats()).messages, 0);
    assert.ok(providerA.metrics.value('node_retention_runs_total') >= 1);
    const mailbox = await MailboxClient.open(providerA);
    const old = await mailbox.fetchEpoch(0);
    assert.ok(old.kind === 'error' && old.code === 4, 'epoch 0 is past retention');
    const recent = await mailbox.fetchEpoch(2);
    assert.ok(recent.kind === 'messages' && recent.messages.length === 0, 'epoch 2 is still held (and empty)');
    mailbox.close();
  });

  test('no log line carries a key, an address or a payload', () => {
    if (process.env.SHOW_LOGS) console.error(logs.join('\n'));
    assert.ok(logs.length > 0);
    const secrets: string[] = [];
    for (const address of addresses) secrets.push(hexOf(address), toBase64Url(address));
    for (const config of configs.values()) {
      const seed = readFileSync(join(config.dataDir, 'identity.seed'), 'utf8').trim();
      const link = readFileSync(join(config.dataDir, 'link.seed'), 'utf8').trim();
      secrets.push(seed, link);
    }
    for (const line of logs) {
      for (const secret of secrets) assert.ok(!line.includes(secret), `a log line carries a secret: ${line}`);
      assert.doesNotMatch(line, /hello #|reply #|boundary #|before #|after #|stale #/);
    }
  });
});

function bucketRequest(id: number, epoch: number, bucket: number, buckets: number): Uint8Array {
  const bytes = new Uint8Array(21);
  const view = new DataView(bytes.buffer);
  bytes[0] = 0x01;
  view.setUint32(1, id);
  view.setBigUint64(5, BigInt(epoch));
  view.setUint32(13, bucket);
  view.setUint32(17, buckets);
  return bytes;
}
