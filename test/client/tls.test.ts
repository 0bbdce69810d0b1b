/**
 * Client traffic on the wire, seen by an observer on the path: the agent polls by PIR over the real
 * providers while a recording TCP relay sits in front of each of its two PIR links. Every DPF key the
 * client sent is absent from the capture (TLS 1.3), while the same relay in front of a cleartext
 * WebSocket, carrying the same query messages, exposes every one (the planted-leak control: the
 * observer's reading works and would have found them on the old `ws://` path). Then servers that
 * present another key than the consensus pins — for the provider, the PIR partner and the gateway —
 * are refused with LinkKeyMismatchError, which the agent reports as a 'link-key' error event.
 *
 * Without the fix (connectWebSocket dialling `ws://` without the pin check, the listeners on
 * node:http), the first test finds the keys in the capture and the others connect to the impostor.
 */
import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { GatewayConnection } from '../../src/client/gateway-connection.js';
import { initClient, startClient, type ClientAgent, type ClientEvent } from '../../src/client/index.js';
import type { WebSocketConnector } from '../../src/net/request-channel.js';
import { connectWebSocket, LinkKeyMismatchError, listenWebSocket, type WebSocketConnection, type WebSocketListener } from '../../src/net/websocket.js';
import type { ProviderHandle } from '../../src/node/provider/index.js';
import type { NodeDescriptor } from '../../src/pki/index.js';
import { PIR_QUERY, PIR_QUERY_HEADER_BYTES } from '../../src/wire/pir-messages.js';
import { crypto, TestNetwork } from '../node/pir/support.js';
import { exposes, RecordingRelay } from './recording-relay.js';
import { FAST_KDF, TEST_NETWORK_POLICY } from './support.js';
import { interceptedConnection } from '../support/intercepted-connection.js';

const GENESIS = 2_100_000_000_000;
let net: TestNetwork;
const agents: ClientAgent[] = [];
const closers: (() => Promise<void>)[] = [];

before(async () => {
  net = await TestNetwork.start({ label: 'tlscli', retrieval: 'pir', genesisMs: GENESIS, pir: { refreshMs: 500 } });
});

after(async () => {
  for (const agent of agents) await agent.close().catch(() => undefined);
  for (const close of closers) await close();
  await net?.close();
});

const portOf = (url: string): number => Number(new URL(url).port);

/** Sends through `conn`, recording each message first (what the client itself knows it sent). */
function recordingSends(conn: WebSocketConnection, sent: Uint8Array[]): WebSocketConnection {
  return interceptedConnection(conn, {
    outgoing: (bytes) => {
      sent.push(bytes.slice());
      return bytes;
    },
  });
}

/** A connector that dials `redirect(url)`'s port instead of the target's (same pinned key). */
function redirecting(redirect: (url: string) => number | undefined, sent: Uint8Array[] = []): WebSocketConnector {
  return async (target, options) => {
    const port = redirect(target.url);
    const dialled = port === undefined ? target : { url: `wss://127.0.0.1:${port}`, linkKey: target.linkKey };
    return recordingSends(await connectWebSocket(dialled, options), sent);
  };
}

async function user(name: string, provider: ProviderHandle, connector: WebSocketConnector, events: ClientEvent[] = []): Promise<ClientAgent> {
  const dir = join(net.tempDir('umbra-tls-client-'), name);
  await initClient(dir, {
    name, passphrase: 'pw', authority: { url: net.authority.url, publicKeys: [net.authorityKey] },
    servers: [net.server(provider)], kdf: FAST_KDF, clock: net.clock, ...TEST_NETWORK_POLICY,
  });
  const agent = await startClient(dir, 'pw', { clock: net.clock, onEvent: (event) => events.push(event), connectWebSocket: connector });
  agents.push(agent);
  return agent;
}

/** A TLS WebSocket server with a key of its own: who an on-path attacker can be. */
async function impostor(): Promise<WebSocketListener & { readonly accepted: () => number }> {
  let accepted = 0;
  const listener = await listenWebSocket({ seed: crypto.randomBytes(32), maxMessageBytes: 1 << 16, onConnection: () => accepted++ });
  closers.push(() => listener.close());
  return Object.assign(listener, { accepted: () => accepted });
}

const dpfKeysOf = (sent: readonly Uint8Array[]): Uint8Array[] =>
  sent.filter((message) => message[0] === PIR_QUERY).map((message) => message.slice(PIR_QUERY_HEADER_BYTES));

test('an observer of both PIR links reads no DPF key; on a cleartext WebSocket the same observer reads them all', async () => {
  const [p1, p2] = net.providers;
  const relays = new Map<number, RecordingRelay>();
  for (const provider of [p1, p2]) relays.set(portOf(provider.wsUrl), await RecordingRelay.start(portOf(provider.wsUrl)));
  closers.push(async () => {
    for (const relay of relays.values()) await relay.close();
  });
  const sent: Uint8Array[] = [];
  const agent = await user('Olive', p1, redirecting((url) => relays.get(portOf(url))?.port, sent));
  const report = await agent.poll();
  assert.equal(report.error, undefined);
  assert.equal(agent.status().retrieval.mode, 'pir');
  const keys = dpfKeysOf(sent);
  assert.ok(keys.length >= 2 && keys.every((key) => key.length >= 32), 'the poll sent DPF keys to both servers');
  for (const relay of relays.values()) assert.ok(relay.toServer.some((stream) => stream.length > 0), 'both PIR links went through the relay');
  for (const key of keys) {
    for (const relay of relays.values()) assert.equal(exposes(relay, key), false, 'a DPF key is readable on the wire');
    for (const relay of relays.values()) assert.equal(exposes(relay, key.subarray(0, 16)), false, 'part of a DPF key is readable on the wire');
  }

  // The control: the same messages over a cleartext WebSocket through the same kind of relay.
  const cleartext = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => cleartext.once('listening', () => resolve()));
  const received: Buffer[] = [];
  cleartext.on('connection', (socket) => socket.on('message', (data: Buffer) => received.push(data)));
  const observer = await RecordingRelay.start((cleartext.address() as { port: number }).port);
  closers.push(async () => {
    await observer.close();
    await new Promise<void>((resolve) => cleartext.close(() => resolve()));
  });
  const client = new WebSocket(`ws://127.0.0.1:${observer.port}`);
  await new Promise<void>((resolve, reject) => client.once('open', () => resolve()).once('error', reject));
  const queries = sent.filter((message) => message[0] === PIR_QUERY);
  for (const message of queries) client.send(message);
  await net.until('the cleartext server to receive the queries', () => received.length === queries.length);
  client.close();
  for (const key of keys) assert.equal(exposes(observer, key), true, 'the observer reads every DPF key on cleartext');
});

test('a provider or PIR partner presenting another key than its descriptor is refused: LinkKeyMismatchError, a link-key event', async () => {
  const [p1, p2] = net.providers;
  for (const [name, victim] of [['Pia', p1], ['Quinn', p2]] as const) {
    const fake = await impostor();
    const events: ClientEvent[] = [];
    const agent = await user(name, p1, redirecting((url) => (url === victim.wsUrl ? fake.port : undefined)), events);
    const report = await agent.poll();
    assert.match(report.error ?? '', /presented link key .* but the consensus pins .*connection refused/, `${name}: ${report.error}`);
    const refusals = events.filter((event) => event.type === 'error' && event.where === 'link-key');
    assert.ok(refusals.length > 0, `${name}: a link-key error event`);
    assert.equal(fake.accepted(), 0, 'no WebSocket was opened to the impostor');
  }
});

test('a gateway presenting another key than its descriptor is refused with LinkKeyMismatchError; the real one is not', async () => {
  const gateway = net.nodes.find((node) => node.role === 'gateway');
  assert.ok(gateway?.wsUrl !== undefined);
  const fake = await impostor();
  const descriptorAt = (port: number): NodeDescriptor =>
    ({ name: 'gateway', addresses: { link: '127.0.0.1:1', ws: `127.0.0.1:${port}` }, linkPublicKey: gateway.linkKey }) as unknown as NodeDescriptor;
  const failures: unknown[] = [];
  const refused = new GatewayConnection(descriptorAt(fake.port), net.clock, 5000, (_message, error) => failures.push(error));
  await refused.ensure();
  assert.equal(refused.ready, false);
  assert.ok(failures[0] instanceof LinkKeyMismatchError, String(failures[0]));
  assert.equal(fake.accepted(), 0);
  refused.close();
  const real = new GatewayConnection(descriptorAt(portOf(gateway.wsUrl)), net.clock, 5000, (_message, error) => failures.push(error));
  await real.ensure();
  assert.ok(real.ready);
  assert.equal(failures.length, 1);
  real.close();
});
