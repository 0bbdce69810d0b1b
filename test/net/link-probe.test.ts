import * as assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { connect as connectTls, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { test } from 'node:test';
import { listenLinks } from '../../src/net/link-listener.js';
import { probeLink, probeNode } from '../../src/net/link-probe.js';
import { LINK_COUNTERS, TLS_VERSIONS } from '../../src/net/link-settings.js';
import { NetMetrics } from '../../src/net/metrics.js';
import { answerProbe, MAX_THROUGHPUT_CHUNKS, THROUGHPUT_CHUNK_BYTES } from '../../src/net/throughput-probe.js';
import { sameLinkKey, tlsIdentity } from '../../src/net/tls-identity.js';
import { PACKET_LENGTH, seed, within } from './support.js';

/** An authority's liveness probe of a node's link listener (docs/network.md, "Authority probes"). */
const NODE = seed(0x11);
const AUTHORITY = seed(0x22);
const STRANGER = seed(0x33);
const OTHER_AUTHORITY = seed(0x44);

/** A node's link listener that knows the authorities' keys and no peer. */
function nodeListener(metrics: NetMetrics) {
  const authorityKeys = [AUTHORITY, OTHER_AUTHORITY].map((key) => tlsIdentity(key).linkKey);
  return listenLinks<string>({
    seed: NODE,
    isKnownPeer: () => undefined,
    isProber: (linkKey) => authorityKeys.some((key) => sameLinkKey(linkKey, key)),
    packetLength: PACKET_LENGTH,
    onPacket: () => undefined,
    metrics,
  });
}

test('a node answers a listed authority\'s probe quietly; a wrong key, a closed port and a silent one are not answers', async () => {
  const metrics = new NetMetrics();
  const listener = await nodeListener(metrics);
  const address = `127.0.0.1:${listener.port}`;
  try {
    const nodeKey = tlsIdentity(NODE).linkKey;
    const probed = once(listener, 'probed');
    assert.equal(await probeLink({ address, linkKey: nodeKey }, tlsIdentity(AUTHORITY), 2000), 'answered');
    await probed;
    assert.equal(metrics.get(LINK_COUNTERS.probed), 1);
    assert.equal(metrics.get(LINK_COUNTERS.rejected), 0, 'a probe is not a refusal');
    // Someone else's key: the node presents its certificate (so the probe is answered) but refuses the stranger.
    const rejected = once(listener, 'rejected');
    assert.equal(await probeLink({ address, linkKey: nodeKey }, tlsIdentity(STRANGER), 2000), 'answered');
    assert.deepEqual(await rejected, ['unknown-peer']);
    // The descriptor pins another key: not this node.
    assert.equal(await probeLink({ address, linkKey: tlsIdentity(STRANGER).linkKey }, tlsIdentity(AUTHORITY), 2000), 'pin-mismatch');
  } finally {
    await listener.close();
  }
  assert.equal(await probeLink({ address, linkKey: tlsIdentity(NODE).linkKey }, tlsIdentity(AUTHORITY), 2000), 'unreachable');
  assert.equal(await probeLink({ address: 'not an address', linkKey: tlsIdentity(NODE).linkKey }, tlsIdentity(AUTHORITY), 2000), 'unreachable');
  // A port that accepts TCP and never answers TLS: the probe times out.
  const held = new Set<Socket>();
  const silent = createServer((socket) => held.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as { port: number }).port;
  try {
    assert.equal(await probeLink({ address: `127.0.0.1:${port}`, linkKey: tlsIdentity(NODE).linkKey }, tlsIdentity(AUTHORITY), 200), 'timeout');
    const cut = new AbortController();
    const pending = probeLink({ address: `127.0.0.1:${port}`, linkKey: tlsIdentity(NODE).linkKey }, tlsIdentity(AUTHORITY), 5000, cut.signal);
    cut.abort();
    assert.equal(await pending, 'unreachable');
  } finally {
    for (const socket of held) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }
});


test('a throughput probe: a listed authority is sent the chunks it asks for and times them; others get nothing', async () => {
  const metrics = new NetMetrics();
  const listener = await nodeListener(metrics);
  const target = { address: `127.0.0.1:${listener.port}`, linkKey: tlsIdentity(NODE).linkKey };
  try {
    const measured = once(listener, 'measured');
    const result = await probeNode(target, tlsIdentity(AUTHORITY), 5000, undefined, 4);
    assert.equal(result.outcome, 'answered');
    assert.ok(result.bytesPerSec !== undefined && result.bytesPerSec > 0, `timed: ${String(result.bytesPerSec)}`);
    assert.deepEqual(await measured, [4 * THROUGHPUT_CHUNK_BYTES]);
    assert.equal(metrics.get(LINK_COUNTERS.measured), 1);
    // A stranger's handshake completes but it is refused: nothing to time.
    const stranger = await probeNode(target, tlsIdentity(STRANGER), 2000, undefined, 4);
    assert.deepEqual(stranger, { outcome: 'answered' });
    // Requests out of range are closed unanswered.
    for (const chunks of [0, MAX_THROUGHPUT_CHUNKS + 1]) {
      assert.deepEqual(await probeNode(target, tlsIdentity(AUTHORITY), 2000, undefined, chunks), { outcome: 'answered' });
    }
    // A plain liveness probe still sends nothing.
    assert.equal(await probeLink(target, tlsIdentity(AUTHORITY), 2000), 'answered');
    assert.equal(metrics.get(LINK_COUNTERS.measured), 1, 'only the valid request was answered');
  } finally {
    await listener.close();
  }
});

test('a node does not let a probing authority hold its socket: silent, or asking and never reading, it is cut off', async () => {
  const { key, cert } = tlsIdentity(NODE);
  const answers: Promise<number>[] = [];
  const server = createTlsServer({ key, cert, ...TLS_VERSIONS }, (socket) => answers.push(answerProbe(socket, 200, 300)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const dialled: TLSSocket[] = [];
  const dial = (): Promise<TLSSocket> =>
    new Promise((resolve) => {
      const socket = connectTls({ host: '127.0.0.1', port, ...tlsIdentity(AUTHORITY), ...TLS_VERSIONS, rejectUnauthorized: false }, () => resolve(socket));
      socket.on('error', () => undefined);
      dialled.push(socket);
    });
  try {
    const silent = await dial();
    const silentClosed = once(silent, 'close');
    const reader = await dial();
    reader.write(new Uint8Array([MAX_THROUGHPUT_CHUNKS]));
    reader.pause(); // asks for 4 MiB and never reads: more than the loopback buffers hold
    while (answers.length < 2) await new Promise((resolve) => setImmediate(resolve));
    // The node gives up on both (the paused reader sees it only once it reads again).
    assert.deepEqual(await within(Promise.all(answers), 'both cut off'), [0, 0], 'neither counts as an answer');
    await within(silentClosed, 'the silent one closed');
  } finally {
    for (const socket of dialled) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test('one authority holding probing connections open does not keep another from measuring the node', async () => {
  const listener = await nodeListener(new NetMetrics());
  const target = { address: `127.0.0.1:${listener.port}`, linkKey: tlsIdentity(NODE).linkKey };
  const held: TLSSocket[] = [];
  let probed = 0;
  const bothHeld = new Promise<void>((resolve) => listener.on('probed', () => ++probed === 2 && resolve()));
  try {
    for (let i = 0; i < 2; i++) {
      held.push(await new Promise<TLSSocket>((resolve) => {
        const socket = connectTls({ host: '127.0.0.1', port: listener.port, ...tlsIdentity(AUTHORITY), ...TLS_VERSIONS, rejectUnauthorized: false }, () => resolve(socket));
        socket.on('error', () => undefined);
      }));
    }
    await within(bothHeld, 'both connections in the node\'s hands');
    assert.deepEqual(await probeNode(target, tlsIdentity(AUTHORITY), 2000, undefined, 1), { outcome: 'answered' }, 'a third of its own is closed unanswered');
    const other = await probeNode(target, tlsIdentity(OTHER_AUTHORITY), 2000, undefined, 1);
    assert.ok(other.bytesPerSec !== undefined, 'the other authority is answered');
  } finally {
    for (const socket of held) socket.destroy();
    await listener.close();
  }
});
