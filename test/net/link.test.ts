import assert from 'node:assert/strict';
import { connect as tcpConnect } from 'node:net';
import { after, describe, test } from 'node:test';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { KEEPALIVE_FRAME, encodeFrame, FRAME_PACKET } from '../../src/net/frames.js';
import { connectLink, type LinkDialer } from '../../src/net/link-dialer.js';
import { listenLinks, type LinkListener } from '../../src/net/link-listener.js';
import { LINK_COUNTERS } from '../../src/net/link-settings.js';
import { pinnedPeers } from '../../src/net/tls-identity.js';
import { NetMetrics } from '../../src/net/metrics.js';
import { tlsIdentity } from '../../src/net/tls-identity.js';
import { Inbox, next, nextMatching, packet, PACKET_LENGTH, seed } from './support.js';

const A = seed(0xa1);
const B = seed(0xb2);
const C = seed(0xc3);
const key = (s: Uint8Array): Uint8Array => tlsIdentity(s).linkKey;
const fast = { reconnectInitialMs: 10, reconnectMaxMs: 100 };

/** Everything a test opened, closed after the suite even when a test fails. */
const open: { close(): unknown }[] = [];
const track = <T extends { close(): unknown }>(thing: T): T => (open.push(thing), thing);
after(async () => {
  await Promise.all(open.map((thing) => thing.close()));
});

interface Received { peer: string; packet: Uint8Array }

/** A listener that knows the given seeds by name. */
async function listener(own: Uint8Array, known: Record<string, Uint8Array>, inbox: Inbox<Received>, extra: object = {}): Promise<LinkListener<string>> {
  return track(await listenLinks<string>({
    seed: own,
    isKnownPeer: pinnedPeers(Object.entries(known).map(([name, s]) => ({ linkKey: key(s), peer: name }))),
    packetLength: PACKET_LENGTH,
    onPacket: (p, peer) => inbox.push({ peer, packet: p }),
    ...extra,
  }));
}

function dialer(own: Uint8Array, port: number, expected: Uint8Array, extra: object = {}): LinkDialer {
  return track(connectLink({ port, seed: own, expectedLinkKey: key(expected), packetLength: PACKET_LENGTH, ...fast, ...extra }));
}

/** A hand-driven TLS client holding `own`'s certificate, resolved once the listener accepted it. */
async function rawPeer(own: Uint8Array, port: number, options: object = {}): Promise<TLSSocket> {
  const identity = tlsIdentity(own);
  const socket = tlsConnect({ host: '127.0.0.1', port, key: identity.key, cert: identity.cert, rejectUnauthorized: false, ...options });
  socket.on('error', () => undefined);
  track({ close: () => socket.destroy() });
  const [first] = await next(socket, 'data') as [Buffer]; // the listener's acceptance keepalive
  assert.deepEqual(new Uint8Array(first), new Uint8Array(KEEPALIVE_FRAME));
  return socket;
}

describe('links', () => {
  test('two pinned nodes exchange 1000 packets each way, intact and in order', async () => {
    const atA = new Inbox<Received>();
    const atB = new Inbox<Received>();
    const metricsA = new NetMetrics();
    const listenerA = await listener(A, { B }, atA, { metrics: metricsA });
    const listenerB = await listener(B, { A }, atB);
    const aToB = dialer(A, listenerB.port, B, { maxQueuedPackets: 2000, metrics: metricsA });
    const bToA = dialer(B, listenerA.port, A, { maxQueuedPackets: 2000 });
    for (let i = 0; i < 1000; i++) {
      assert.ok(aToB.send(packet(1, i)));
      assert.ok(bToA.send(packet(2, i)));
    }
    await Promise.all([atA.until(1000), atB.until(1000)]);
    assert.equal(atB.items.length, 1000);
    assert.equal(atA.items.length, 1000);
    atB.items.forEach((item, i) => {
      assert.equal(item.peer, 'A');
      assert.deepEqual(item.packet, packet(1, i));
    });
    atA.items.forEach((item, i) => {
      assert.equal(item.peer, 'B');
      assert.deepEqual(item.packet, packet(2, i));
    });
    assert.equal(aToB.state, 'up');
    assert.equal(metricsA.get(LINK_COUNTERS.sent), 1000);
    assert.equal(metricsA.get(LINK_COUNTERS.received), 1000);
    assert.equal(metricsA.get(LINK_COUNTERS.accepted), 1);
    aToB.close();
    bToA.close();
    assert.equal(aToB.send(packet(1, 0)), false);
  });

  test('a dialer that expects another key refuses the listener, counts it and delivers nothing', async () => {
    const atB = new Inbox<Received>();
    const listenerB = await listener(B, { A }, atB);
    const metrics = new NetMetrics();
    const wrong = dialer(A, listenerB.port, C, { metrics });
    const failed = next(wrong, 'failed');
    assert.ok(wrong.send(packet(1, 0)));
    assert.deepEqual(await failed, ['pin-mismatch']);
    await nextMatching(wrong, 'failed', () => true); // and again after its backoff: never up
    wrong.close();
    assert.ok(metrics.get(LINK_COUNTERS.rejected, 'pin-mismatch') >= 2);
    assert.equal(metrics.get(LINK_COUNTERS.sent), 0);
    assert.equal(metrics.get(LINK_COUNTERS.dropped, 'link-closed'), 1);
    assert.equal(atB.items.length, 0);
    assert.equal(listenerB.metrics.get(LINK_COUNTERS.received), 0);
  });

  test('a listener whose isKnownPeer refuses the client drops it', async () => {
    const atB = new Inbox<Received>();
    const listenerB = await listener(B, { A }, atB);
    const stranger = dialer(C, listenerB.port, B);
    const rejected = next(listenerB, 'rejected');
    const failed = next(stranger, 'failed');
    stranger.on('up', () => assert.fail('a refused dialer must never be up'));
    stranger.send(packet(3, 0));
    assert.deepEqual(await rejected, ['unknown-peer']);
    assert.deepEqual(await failed, ['not-accepted']);
    stranger.close();
    assert.equal(listenerB.metrics.get(LINK_COUNTERS.rejected, 'unknown-peer') >= 1, true);
    assert.equal(listenerB.metrics.get(LINK_COUNTERS.accepted), 0);
    assert.equal(atB.items.length, 0);
  });

  test('peers that break the frame rules are disconnected and counted; another peer keeps going', async () => {
    const atB = new Inbox<Received>();
    const listenerB = await listener(B, { A, C }, atB);
    const good = dialer(A, listenerB.port, B);
    let sent = 0;
    const roundTrip = async (): Promise<void> => {
      good.send(packet(1, sent++));
      await atB.until(sent);
      assert.deepEqual(atB.items[sent - 1].packet, packet(1, sent - 1));
    };
    await roundTrip();

    const tenMiB = Buffer.alloc(5);
    tenMiB.writeUInt32BE(10 * 1024 * 1024, 0);
    tenMiB[4] = FRAME_PACKET;
    const wrongSize = encodeFrame(FRAME_PACKET, new Uint8Array(PACKET_LENGTH - 1));
    const cases: [string, Uint8Array, string][] = [
      ['garbage', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 'oversized'],
      ['zero bytes', new Uint8Array(64), 'malformed'],
      ['a 10 MiB length prefix', tenMiB, 'oversized'],
      ['a wrong-size packet', wrongSize, 'wrong-size'],
      ['an unknown type', Uint8Array.of(0, 0, 0, 1, 0x42), 'unknown-type'],
      ['a keepalive with a body', Uint8Array.of(0, 0, 0, 2, 0x02, 0), 'malformed'],
    ];
    for (const [what, bytes, reason] of cases) {
      const bad = await rawPeer(C, listenerB.port);
      const disconnected = nextMatching(listenerB, 'disconnected', (_reason, peer) => peer === 'C');
      const closed = next(bad, 'close');
      bad.write(bytes);
      assert.deepEqual(await disconnected, [reason, 'C'], what);
      await closed;
      await roundTrip();
    }
    assert.equal(listenerB.metrics.get(LINK_COUNTERS.disconnected, 'oversized'), 2);
    assert.equal(listenerB.metrics.get(LINK_COUNTERS.disconnected, 'malformed'), 2);
    assert.equal(listenerB.metrics.get(LINK_COUNTERS.disconnected, 'wrong-size'), 1);
    assert.equal(listenerB.metrics.get(LINK_COUNTERS.disconnected, 'unknown-type'), 1);
    assert.equal(good.state, 'up');

    // Garbage before any TLS: the handshake fails, counted, and the good peer is untouched.
    const raw = tcpConnect(listenerB.port, '127.0.0.1');
    raw.on('error', () => undefined);
    const rejected = next(listenerB, 'rejected');
    raw.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    assert.deepEqual(await rejected, ['handshake-failed']);
    raw.destroy();
    await roundTrip();
    assert.equal(atB.items.every((item) => item.peer === 'A'), true);
  });

  test('a TLS 1.2 client is refused', async () => {
    const atB = new Inbox<Received>();
    const listenerB = await listener(B, { A }, atB);
    const identity = tlsIdentity(A);
    const rejected = next(listenerB, 'rejected');
    const socket = tlsConnect({
      host: '127.0.0.1', port: listenerB.port, key: identity.key, cert: identity.cert,
      rejectUnauthorized: false, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2',
    });
    socket.on('secureConnect', () => assert.fail('TLS 1.2 handshake must not complete'));
    const [error] = await next(socket, 'error') as [Error & { code?: string }];
    assert.match(String(error.code), /ERR_SSL/);
    assert.deepEqual(await rejected, ['handshake-failed']);
    assert.equal(listenerB.metrics.get(LINK_COUNTERS.accepted), 0);
  });

  test('keepalives flow both ways; a silent peer is dropped after the idle timeout, a quiet dialer is not', async () => {
    const timing = { idleTimeoutMs: 300, keepaliveMs: 20 };
    const atB = new Inbox<Received>();
    const listenerB = await listener(B, { A, C }, atB, timing);
    const quiet = dialer(A, listenerB.port, B, timing);
    await next(quiet, 'up');
    const silent = await rawPeer(C, listenerB.port); // reads, never writes
    let keepalives = 0;
    silent.on('data', (chunk: Buffer) => { keepalives += chunk.length / KEEPALIVE_FRAME.length; });
    const [reason, peer] = await next(listenerB, 'disconnected');
    assert.deepEqual([reason, peer], ['idle-timeout', 'C']);
    assert.ok(keepalives >= 2, `the listener sent ${keepalives} keepalives`);
    assert.equal(quiet.state, 'up');
    assert.equal(listenerB.connectedPeers, 1);
    quiet.send(packet(1, 0));
    await atB.until(1);
  });

  test('a client without a certificate is refused', async () => {
    const listenerB = await listener(B, { A }, new Inbox<Received>());
    const rejected = next(listenerB, 'rejected');
    const socket = tlsConnect({ host: '127.0.0.1', port: listenerB.port, rejectUnauthorized: false });
    socket.on('error', () => undefined);
    track({ close: () => socket.destroy() });
    assert.deepEqual(await rejected, ['no-certificate']);
    await next(socket, 'close');
  });

  test('after the listener restarts on the same port, delivery resumes, queued packets included', async () => {
    const atB = new Inbox<Received>();
    const first = await listener(B, { A }, atB);
    const port = first.port;
    const link = dialer(A, port, B);
    await next(link, 'up');
    for (let i = 0; i < 10; i++) link.send(packet(1, i));
    await atB.until(10);

    const down = next(link, 'down');
    await first.close();
    await down;
    for (let i = 10; i < 20; i++) assert.ok(link.send(packet(1, i))); // queued while down
    assert.equal(link.queued, 10);

    const up = next(link, 'up');
    await listener(B, { A }, atB, { port });
    await up;
    for (let i = 20; i < 30; i++) link.send(packet(1, i));
    await atB.until(30);
    assert.deepEqual(atB.items.map((item) => new DataView(item.packet.buffer, item.packet.byteOffset, item.packet.byteLength).getUint32(0)), [...Array(30).keys()]);
    atB.items.forEach((item, i) => assert.deepEqual(item.packet, packet(1, i)));
  });

  test('the outgoing queue is bounded and reconnects back off', async () => {
    // A port with nothing listening on it.
    const gone = await listener(B, {}, new Inbox<Received>());
    const port = gone.port;
    await gone.close();
    const metrics = new NetMetrics();
    const link = dialer(A, port, B, { maxQueuedPackets: 3, metrics, reconnectInitialMs: 5, reconnectMaxMs: 20 });
    assert.equal(link.send(packet(1, 0)), true);
    assert.equal(link.send(packet(1, 1)), true);
    assert.equal(link.send(packet(1, 2)), true);
    assert.equal(link.send(packet(1, 3)), false);
    assert.equal(metrics.get(LINK_COUNTERS.dropped, 'queue-full'), 1);
    assert.throws(() => link.send(new Uint8Array(PACKET_LENGTH + 1)), RangeError);
    for (let i = 0; i < 4; i++) assert.deepEqual(await next(link, 'failed'), ['unreachable']);
    assert.ok(metrics.get(LINK_COUNTERS.dials) >= 4);
    assert.equal(link.state, 'waiting');
    link.close();
    assert.equal(link.state, 'closed');
    assert.equal(metrics.get(LINK_COUNTERS.dropped, 'link-closed'), 3);
  });
});
