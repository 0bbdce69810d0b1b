/**
 * Floods against real nodes (an authority, a gateway, two mixes per layer, one provider, on
 * 127.0.0.1 with one fake clock). Attackers connect from other loopback addresses (127.0.0.2..);
 * after each flood an honest client's packet from 127.0.0.1 is delivered. Limits are small so that
 * each flood is a few dozen connections or a thousand packets.
 *
 * Checked against the code before admission and rotation (src/net/websocket.ts without
 * `admission`, the gateway's token bucket per connection, the link listener's `tlsClientError`
 * handler only counting, one Bloom filter per key): the idle-WebSocket tests failed with the honest
 * client refused (1013) and the idle sockets never closed; the rate-limit test counted no packet
 * as rate-limited; the link test timed out waiting for the half-open sockets to close; in the replay
 * test the 30 honest packets were never all delivered (some dropped as 'replay').
 */
import assert from 'node:assert/strict';
import { connect as tcpConnect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { seededRandom } from '../../../src/crypto/index.js';
import { fetchConsensus } from '../../../src/net/authority-client.js';
import type { NodeHandle } from '../../../src/node/runtime/index.js';
import type { ProviderHandle } from '../../../src/node/provider/index.js';
import { DEFAULT_GEOMETRY, makeSuite, Sphinx } from '../../../src/sphinx/index.js';
import { crypto, TestNetwork } from '../pir/support.js';
import { labelled, labelOf, MailboxClient, must, openGateway, same, TestClient } from './support.js';

const GENESIS = 1_900_000_000_000;
const IDLE_MS = 1000;
const LIMITS = {
  maxClients: 8,
  maxClientsPerAddress: 4,
  clientIdleTimeoutMs: IDLE_MS,
  clientHandshakeTimeoutMs: IDLE_MS,
  replayFilterLog2Bits: 12,
  link: { reconnectInitialMs: 20, reconnectMaxMs: 200, maxConnections: 8, maxConnectionsPerAddress: 2, handshakeTimeoutMs: IDLE_MS },
};
const BURST = 400; // gatewayClientRate 200 in the test network

let net: TestNetwork;
let gateway: NodeHandle;
let provider: ProviderHandle;
let client: TestClient;
const sphinx = new Sphinx(makeSuite('umbra-v1', crypto), DEFAULT_GEOMETRY);
const random = seededRandom(crypto, 424242);

before(async () => {
  net = await TestNetwork.start({ label: 'flood', retrieval: 'bucket', genesisMs: GENESIS, providers: 1, nodeConfig: LIMITS });
  gateway = must(net.nodes.find((node) => node.role === 'gateway'), 'gateway');
  provider = net.providers[0];
  const fetched = await fetchConsensus(crypto, net.authority.url, 0, { authorities: [net.authorityKey], nowMs: net.clock.now() });
  client = new TestClient(sphinx, must(fetched, 'the consensus').doc, random);
}, { timeout: 30_000 });

after(() => net?.close());

const dropped = (node: NodeHandle, reason: string): number => node.metrics.value('node_packets_dropped_total', { reason });

/** WebSockets opened from `localAddress`: the ones that opened, and a promise that each closed. */
async function wsFlood(url: string, localAddress: string, count: number): Promise<{ opened: WebSocket[]; allClosed: Promise<unknown> }> {
  const sockets = Array.from({ length: count }, () => new WebSocket(url, { localAddress, rejectUnauthorized: false }));
  const outcomes = await Promise.all(sockets.map((ws) => new Promise<boolean>((resolve) => {
    ws.on('error', () => resolve(false));
    ws.once('open', () => resolve(true));
    ws.once('close', () => resolve(false));
  })));
  const opened = sockets.filter((_, i) => outcomes[i]);
  const allClosed = Promise.all(opened.map((ws) => ws.readyState === WebSocket.CLOSED ? undefined : new Promise((resolve) => ws.once('close', resolve))));
  return { opened, allClosed };
}

/** Sends `count` honest packets from 127.0.0.1 and waits until the provider holds them all. */
async function honestMail(tag: string, count = 1): Promise<void> {
  const address = random(32);
  address[0] |= 1;
  const conn = await openGateway({ wsUrl: gateway.wsUrl as string, linkKey: gateway.linkKey });
  for (let i = 0; i < count; i++) assert.ok(conn.send(client.packet(client.route(provider.nodeId), address, labelled(tag, i))));
  let labels: string[] = [];
  await net.until(`${count} '${tag}' deliveries`, async () => {
    const mailbox = await MailboxClient.open({ wsUrl: provider.wsUrl as string, linkKey: provider.linkKey });
    try {
      const answer = await mailbox.fetchEpoch(0);
      if (answer.kind !== 'messages') return false;
      labels = answer.messages.filter((m) => same(m.address, address)).map((m) => labelOf(client.messageOf(m.ciphertext)));
    } finally {
      mailbox.close();
    }
    return labels.length >= count;
  });
  assert.equal(labels.length, count);
  conn.close();
}

describe('floods against real nodes', { timeout: 60_000 }, () => {
  test('idle WebSockets from one address take at most maxClientsPerAddress slots and are closed when idle', async () => {
    for (const [node, from] of [[gateway, '127.0.0.2'], [provider, '127.0.0.3']] as const) {
      const flood = await wsFlood(node.wsUrl as string, from, 10);
      assert.equal(flood.opened.length, LIMITS.maxClientsPerAddress, `${node.name}: connections from ${from}`);
      assert.ok(node.metrics.link.get('ws_requests_rejected', 'too-many-from-address') >= 6);
      await honestMail(`past an idle flood at ${node.name}`);
      await flood.allClosed; // by the idle timeout (the test's guard is the only bound)
      assert.ok(node.metrics.link.get('ws_connections_closed_by_us', 'idle-timeout') >= 4);
    }
  });

  test('more connections from one address buy no more packets at the gateway', async () => {
    net.pumpLimit = net.clock.now(); // the fake clock stands still: no token comes back
    const limitedBefore = dropped(gateway, 'rate-limited');
    const inBefore = gateway.metrics.value('node_packets_in_total');
    const flood = await wsFlood(gateway.wsUrl as string, '127.0.0.4', 4);
    assert.equal(flood.opened.length, 4);
    for (const ws of flood.opened) for (let i = 0; i < BURST; i++) ws.send(new Uint8Array([i & 0xff]));
    await net.until('every flood message counted', () => gateway.metrics.value('node_packets_in_total') === inBefore + 4 * BURST);
    assert.equal(dropped(gateway, 'rate-limited') - limitedBefore, 3 * BURST, 'one burst for the address, not one per connection');
    for (const ws of flood.opened) ws.close();
    net.pumpLimit = GENESIS + 40_000;
    await honestMail('past a rate-limit flood');
  });

  test("half-open connects to a mix's link port are capped and destroyed at the handshake timeout", async () => {
    const mix = must(net.nodes.find((node) => node.role === 'mix' && node.layer === 1), 'a layer-1 mix');
    const sockets = await Promise.all(Array.from({ length: 16 }, (_, i) => new Promise<Socket>((resolve) => {
      const socket = tcpConnect({ host: '127.0.0.1', port: mix.linkPort, localAddress: `127.0.0.${10 + (i % 8)}` }, () => resolve(socket));
      socket.on('error', () => undefined);
    })));
    await Promise.all(sockets.map((socket) => socket.destroyed ? undefined : new Promise((resolve) => socket.once('close', resolve))));
    assert.ok(mix.metrics.link.get('connections_rejected', 'too-many-connections') >= 8);
    assert.ok(mix.metrics.link.get('connections_rejected', 'handshake-failed') >= 8);
    assert.ok(mix.status().linkPeers >= 1, 'the gateway\'s link stays up');
    await honestMail('past a link flood');
  });

  test('a flood of valid packets rotates the replay filters instead of filling them; honest packets all pass', async () => {
    // The gateway forwards; the replay filters are the layer-1 mixes' (the packets' first Sphinx hop).
    const firstMixes = net.nodes.filter((node) => node.role === 'mix' && node.layer === 1);
    const replays = (): number => firstMixes.reduce((sum, node) => sum + dropped(node, 'replay'), 0);
    const rotations = (): number => firstMixes.reduce((sum, node) => sum + node.metrics.value('node_replay_filter_rotations_total'), 0);
    const replaysBefore = replays();
    const cover = new Uint8Array(32); // the cover address: the provider discards them
    // Built first: building blocks this process longer than the idle timeout.
    const packets = Array.from({ length: 900 }, (_, i) => client.packet(client.route(provider.nodeId), cover, labelled('flood', i)));
    const flooders = await Promise.all(['127.0.0.5', '127.0.0.6', '127.0.0.7'].map(async (from) => {
      const ws = new WebSocket(gateway.wsUrl as string, { localAddress: from, rejectUnauthorized: false });
      await new Promise((resolve) => ws.once('open', resolve));
      return ws;
    }));
    const inBefore = gateway.metrics.value('node_packets_in_total');
    packets.forEach((packet, i) => flooders[i % 3].send(packet));
    await net.until('the flood at the gateway', () => gateway.metrics.value('node_packets_in_total') === inBefore + 900);
    for (const ws of flooders) ws.close();
    await honestMail('past a replay-filter flood', 30);
    assert.equal(replays(), replaysBefore, 'no honest packet refused as a replay');
    assert.ok(rotations() >= 5);
  });
});
