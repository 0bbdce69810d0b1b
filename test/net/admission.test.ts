/**
 * Floods against a link listener, on loopback: strangers connect from 127.0.0.2.. (all of 127/8 is
 * loopback on Linux), the pinned peer from 127.0.0.1. Each test ends with a pinned peer's packet
 * that gets through.
 *
 * Checked against the code before admission (src/net/link-listener.ts with its `tlsClientError`
 * handler only counting, and `server.maxConnections` in place of Admission): the first test timed
 * out waiting for the half-open and garbage sockets to close, and the pinned dialer was dropped
 * ('too-many-connections'); the second accepted all 20 connections from one address.
 */
import assert from 'node:assert/strict';
import { connect as tcpConnect, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { addressKey, Admission } from '../../src/net/admission.js';
import { connectLink } from '../../src/net/link-dialer.js';
import { listenLinks, type LinkListener } from '../../src/net/link-listener.js';
import { LINK_COUNTERS } from '../../src/net/link-settings.js';
import { pinnedPeers, tlsIdentity } from '../../src/net/tls-identity.js';
import { Inbox, next, packet, PACKET_LENGTH, seed, within } from './support.js';

const A = seed(0xa1);
const B = seed(0xb2);
const STRANGER = seed(0xc3);
const key = (s: Uint8Array): Uint8Array => tlsIdentity(s).linkKey;

const open: { close(): unknown }[] = [];
const track = <T extends { close(): unknown }>(thing: T): T => (open.push(thing), thing);
after(async () => {
  await Promise.all(open.map((thing) => thing.close()));
});

/** B's listener; A is pinned (its address is 127.0.0.1), everyone else a stranger. */
async function listenerOfB(inbox: Inbox<Uint8Array>, extra: object): Promise<LinkListener<string>> {
  return track(await listenLinks<string>({
    seed: B,
    isKnownPeer: pinnedPeers([{ linkKey: key(A), peer: 'A' }]),
    isPinnedAddress: (address) => address === '127.0.0.1',
    packetLength: PACKET_LENGTH,
    onPacket: (p) => inbox.push(p),
    ...extra,
  }));
}

/** A TCP connection from `localAddress` that has not been closed by the listener. */
function connectFrom(localAddress: string, port: number): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: '127.0.0.1', port, localAddress }, () => resolve(socket));
    socket.on('error', () => undefined);
    track({ close: () => socket.destroy() });
  });
}

const closed = (socket: Socket | TLSSocket): Promise<void> =>
  socket.destroyed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));

/** A's dialer sends one packet to B and it arrives. */
async function pinnedPacketArrives(listener: LinkListener<string>, inbox: Inbox<Uint8Array>, index: number): Promise<void> {
  const dialer = track(connectLink({ port: listener.port, seed: A, expectedLinkKey: key(B), packetLength: PACKET_LENGTH, reconnectInitialMs: 10, reconnectMaxMs: 50 }));
  assert.ok(dialer.send(packet(1, index)));
  await inbox.until(inbox.items.length + 1);
  assert.deepEqual(inbox.items.at(-1), packet(1, index));
  dialer.close();
}

describe('link listener admission', () => {
  test('half-open connects fill the strangers\' slots, are destroyed at the handshake timeout, and the pinned peer still links', async () => {
    const inbox = new Inbox<Uint8Array>();
    const listener = await listenerOfB(inbox, { maxConnections: 16, maxConnectionsPerAddress: 2, handshakeTimeoutMs: 400 });
    const halfOpen: Socket[] = [];
    for (let i = 0; i < 8; i++) for (let j = 0; j < 2; j++) halfOpen.push(await connectFrom(`127.0.0.${i + 2}`, listener.port));
    // Every stranger slot is taken: a ninth address is refused at once, the pinned peer links anyway.
    const late = await connectFrom('127.0.0.20', listener.port);
    await within(closed(late), 'the stranger past maxConnections to be closed');
    assert.equal(listener.metrics.get(LINK_COUNTERS.rejected, 'too-many-connections'), 1);
    await pinnedPacketArrives(listener, inbox, 0);
    await within(Promise.all(halfOpen.map(closed)), 'the half-open sockets to be closed at the handshake timeout');
    assert.ok(listener.metrics.get(LINK_COUNTERS.rejected, 'handshake-failed') >= 16);

    // With the slots free again: garbage fails its handshake, and a TLS client without a
    // certificate is refused after it; both sockets are destroyed.
    const garbage = await connectFrom('127.0.0.21', listener.port);
    garbage.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const noCert = tlsConnect({ host: '127.0.0.1', port: listener.port, localAddress: '127.0.0.22', rejectUnauthorized: false } as ConnectionOptions);
    noCert.on('error', () => undefined);
    track({ close: () => noCert.destroy() });
    await within(Promise.all([closed(garbage), closed(noCert)]), 'the garbage and certificate-less TLS sockets to be closed');
    await pinnedPacketArrives(listener, inbox, 1);
  });

  test('one address gets at most maxConnectionsPerAddress connections; the rest are closed at once', async () => {
    const inbox = new Inbox<Uint8Array>();
    const listener = await listenerOfB(inbox, { maxConnectionsPerAddress: 4, handshakeTimeoutMs: 5000 });
    const sockets = await Promise.all(Array.from({ length: 20 }, () => connectFrom('127.0.0.2', listener.port)));
    const refused = sockets.slice(4);
    await within(Promise.all(refused.map(closed)), 'the connections past the cap to be closed', 2000).catch(() => undefined);
    const stillOpen = sockets.filter((socket) => !socket.destroyed).length;
    assert.equal(stillOpen, 4, 'four connections from 127.0.0.2 stay (until their handshake deadline)');
    assert.equal(listener.metrics.get(LINK_COUNTERS.rejected, 'too-many-from-address'), 16);
    // A stranger TLS key from another address is still refused after its handshake, as before.
    const stranger = track(connectLink({ port: listener.port, seed: STRANGER, expectedLinkKey: key(B), packetLength: PACKET_LENGTH, reconnectInitialMs: 10, reconnectMaxMs: 50 }));
    stranger.send(packet(2, 0));
    assert.deepEqual(await next(stranger, 'failed'), ['not-accepted']);
    stranger.close();
    await pinnedPacketArrives(listener, inbox, 0);
  });
});

describe('Admission', () => {
  test('IPv6 sources are counted per /64, IPv4-mapped ones as IPv4', () => {
    assert.equal(addressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:db8:1:2:ffff:1:2:3'), '2001:db8:1:2::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey('::ffff:10.0.0.7'), '10.0.0.7');
    assert.equal(addressKey('192.0.2.1'), '192.0.2.1');
  });

  test('bad limits are refused with a RangeError naming them', () => {
    assert.throws(() => new Admission({ maxPerAddress: 0, maxTotal: 1, handshakeTimeoutMs: 1 }), /maxPerAddress/);
    assert.throws(() => new Admission({ maxPerAddress: 1, maxTotal: 1, handshakeTimeoutMs: 1, idleTimeoutMs: -5 }), /idleTimeoutMs/);
  });
});
