import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { WebSocket } from 'ws';
import { NetMetrics } from '../../src/net/metrics.js';
import { tlsIdentity } from '../../src/net/tls-identity.js';
import { connectWebSocket, LinkKeyMismatchError, listenWebSocket, WebSocketTargetError, WS_CLOSE, WS_COUNTERS, type WebSocketConnection } from '../../src/net/websocket.js';
import { Inbox, seed, within } from './support.js';

const SERVER_SEED = seed(0x31);
const SERVER_KEY = tlsIdentity(SERVER_SEED).linkKey;
const target = (port: number): { url: string; linkKey: Uint8Array } => ({ url: `wss://127.0.0.1:${port}`, linkKey: SERVER_KEY });
/** A raw ws client for what connectWebSocket never sends (text); it pins nothing. */
const rawClient = (url: string): WebSocket => new WebSocket(url, { rejectUnauthorized: false });

const closeCode = (conn: WebSocketConnection): Promise<number> =>
  within(new Promise<number>((resolve) => conn.onClose(resolve)), 'close');

test('the WebSocket server takes binary messages, closes on text or oversized ones, and serves the rest', async () => {
  const metrics = new NetMetrics();
  const serverSide: WebSocketConnection[] = [];
  const server = await listenWebSocket({
    seed: SERVER_SEED,
    maxMessageBytes: 1024,
    metrics,
    onConnection: (conn) => {
      serverSide.push(conn);
      conn.send(Uint8Array.of(0x68, 0x69)); // sent at once: the client must still get it
      conn.onMessage((bytes) => conn.send(Uint8Array.from(bytes, (b) => b ^ 0xff)));
    },
  });
  after(() => server.close());
  const url = target(server.port);

  const good = await connectWebSocket(url, { maxMessageBytes: 4096 });
  const replies = new Inbox<Uint8Array>();
  good.onMessage(replies.push);
  await replies.until(1);
  assert.deepEqual(replies.items[0], Uint8Array.of(0x68, 0x69));
  let expected = 1;
  const echo = async (bytes: Uint8Array): Promise<void> => {
    assert.ok(good.send(bytes));
    await replies.until(++expected);
    assert.deepEqual(replies.items[expected - 1], Uint8Array.from(bytes, (b) => b ^ 0xff));
  };
  await echo(new Uint8Array(1024).fill(7)); // exactly the limit

  // Text: closed with 1003.
  const texter = rawClient(url.url);
  await within(new Promise((resolve, reject) => texter.once('open', resolve).once('error', reject)), 'open');
  const textClosed = within(new Promise<number>((resolve) => texter.once('close', resolve)), 'close');
  texter.send('hello');
  assert.equal(await textClosed, WS_CLOSE.unsupportedData);
  assert.equal(metrics.get(WS_COUNTERS.closed, 'text'), 1);
  await echo(Uint8Array.of(1, 2, 3));

  // Oversized: closed with 1009.
  const big = await connectWebSocket(url, { maxMessageBytes: 4096 });
  const bigClosed = closeCode(big);
  big.send(new Uint8Array(1025));
  assert.equal(await bigClosed, WS_CLOSE.messageTooBig);
  assert.equal(metrics.get(WS_COUNTERS.closed, 'oversized'), 1);
  await echo(Uint8Array.of(4, 5, 6));

  // The client side enforces its own limit on what the server sends.
  const clientMetrics = new NetMetrics();
  const small = await connectWebSocket(url, { maxMessageBytes: 8, metrics: clientMetrics });
  const smallClosed = closeCode(small);
  const serverSawClose = closeCode(serverSide[serverSide.length - 1]);
  small.send(new Uint8Array(100)); // the echo is 100 bytes: too big for this client
  assert.equal(await serverSawClose, WS_CLOSE.messageTooBig);
  await smallClosed;
  assert.equal(clientMetrics.get(WS_COUNTERS.closed, 'oversized'), 1);
  await echo(Uint8Array.of(7));

  assert.equal(metrics.get(WS_COUNTERS.accepted), 4);
  assert.ok(good.isOpen);
  const goodClosed = closeCode(good);
  good.close();
  assert.equal(await goodClosed, WS_CLOSE.normal);
  assert.equal(good.send(Uint8Array.of(1)), false);
});

test('connectWebSocket rejects when nothing listens', async () => {
  const server = await listenWebSocket({ seed: SERVER_SEED, maxMessageBytes: 16, onConnection: () => undefined });
  const port = server.port;
  await server.close();
  await assert.rejects(within(connectWebSocket(target(port), { maxMessageBytes: 16 }), 'refusal'), /ECONNREFUSED/);
});

test('cleartext, garbage inside TLS, plain HTTPS and bad handshakes are refused and counted; clients still connect', async () => {
  const metrics = new NetMetrics();
  const server = await listenWebSocket({ seed: SERVER_SEED, maxMessageBytes: 64, metrics, onConnection: (conn) => conn.onMessage((m) => conn.send(m)) });
  try {
    const { connect: connectTcp } = await import('node:net');
    const { connect } = await import('node:tls');
    // No cleartext: a plain WebSocket handshake gets no HTTP answer, only a failed TLS handshake.
    const cleartext = await new Promise<string>((resolve) => {
      let answer = '';
      const socket = connectTcp(server.port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'));
      socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
      socket.on('close', () => resolve(answer));
      socket.on('error', () => resolve(answer));
      socket.setTimeout(2000, () => socket.destroy());
    });
    assert.doesNotMatch(cleartext, /HTTP/);
    assert.equal(metrics.get(WS_COUNTERS.rejected, 'tls-handshake-failed'), 1);
    /** Sends raw bytes inside TLS and returns the server's first response line. */
    const raw = (text: string): Promise<string> =>
      new Promise((resolve) => {
        let answer = '';
        const socket = connect({ port: server.port, host: '127.0.0.1', rejectUnauthorized: false }, () => socket.write(text));
        socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
        socket.on('close', () => resolve(answer.split('\r\n')[0]));
        socket.on('error', () => resolve(answer.split('\r\n')[0]));
        socket.setTimeout(2000, () => socket.destroy());
      });
    assert.match(await raw('\u0000\u0001 not http at all\r\n\r\n'), /^HTTP\/1\.1 400/);
    assert.match(await raw('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 426/);
    assert.match(await raw('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'), /^HTTP\/1\.1 400/);
    assert.equal(metrics.get(WS_COUNTERS.rejected, 'bad-request'), 1);
    assert.equal(metrics.get(WS_COUNTERS.rejected, 'not-websocket'), 1);
    assert.equal(metrics.get(WS_COUNTERS.rejected, 'bad-handshake'), 1);
    const client = await connectWebSocket(target(server.port), { maxMessageBytes: 64 });
    const echoed = new Promise<Uint8Array>((resolve) => client.onMessage(resolve));
    client.send(new Uint8Array([1, 2, 3]));
    assert.deepEqual(await within(echoed, 'echo'), new Uint8Array([1, 2, 3]));
    client.close();
  } finally {
    await server.close();
  }
});

test('a server whose certificate carries another link key is refused with LinkKeyMismatchError before any message', async () => {
  let connections = 0;
  const impostor = await listenWebSocket({ seed: seed(0x32), maxMessageBytes: 64, onConnection: () => connections++ });
  try {
    const refused = connectWebSocket(target(impostor.port), { maxMessageBytes: 64 });
    await assert.rejects(within(refused, 'refusal'), (error: unknown) => {
      assert.ok(error instanceof LinkKeyMismatchError);
      assert.equal(error.url, `wss://127.0.0.1:${impostor.port}`);
      assert.equal(error.presented, Buffer.from(impostor.linkKey).toString('hex'));
      assert.match(error.message, /presented link key .* but the consensus pins .*connection refused/);
      return true;
    });
    assert.equal(connections, 0); // the WebSocket handshake was never sent
    // The right key for the same server connects.
    const ok = await within(connectWebSocket({ url: `wss://127.0.0.1:${impostor.port}`, linkKey: impostor.linkKey }, { maxMessageBytes: 64 }), 'connect');
    ok.close();
  } finally {
    await impostor.close();
  }
});

test('only wss:// targets with a 32-byte key are dialled', async () => {
  await assert.rejects(connectWebSocket({ url: 'ws://127.0.0.1:1', linkKey: SERVER_KEY }, { maxMessageBytes: 64 }), WebSocketTargetError);
  await assert.rejects(connectWebSocket({ url: 'wss://127.0.0.1:1', linkKey: new Uint8Array(31) }, { maxMessageBytes: 64 }), WebSocketTargetError);
  await assert.rejects(connectWebSocket({ url: 'wss://127.0.0.1', linkKey: SERVER_KEY }, { maxMessageBytes: 64 }), WebSocketTargetError);
});

// ws re-emits the HTTPS server's listen error on its own server: without a listener there it was an
// uncaught exception (a provider crashed with exit code 1 instead of saying its port was in use).
test('listening on a port in use rejects with EADDRINUSE and throws nothing else', { timeout: 10_000 }, async () => {
  const first = await listenWebSocket({ seed: SERVER_SEED, maxMessageBytes: 1024, onConnection: () => undefined });
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown): void => void uncaught.push(error);
  process.on('uncaughtException', onUncaught);
  try {
    await assert.rejects(listenWebSocket({ seed: SERVER_SEED, maxMessageBytes: 1024, port: first.port, onConnection: () => undefined }), (error: NodeJS.ErrnoException) => error.code === 'EADDRINUSE');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(uncaught, []);
  } finally {
    process.off('uncaughtException', onUncaught);
    await first.close();
  }
});

test('a listener that asks for client certificates learns the link key a node presents, and takes a client that presents none', async () => {
  const keys = new Inbox<Uint8Array | undefined>();
  const server = await listenWebSocket({ seed: SERVER_SEED, maxMessageBytes: 16, askClientCertificate: true, onConnection: (_conn, _address, peerLinkKey) => keys.push(peerLinkKey) });
  after(() => server.close());
  const nodeSeed = seed(0x47);
  const node = await connectWebSocket(target(server.port), { maxMessageBytes: 16, clientSeed: nodeSeed });
  await keys.until(1);
  assert.deepEqual(keys.items[0], tlsIdentity(nodeSeed).linkKey);
  const anonymous = await connectWebSocket(target(server.port), { maxMessageBytes: 16 });
  await keys.until(2);
  assert.equal(keys.items[1], undefined);
  node.close();
  anonymous.close();
  // A listener that does not ask learns nothing, whatever the client would present.
  const plain = new Inbox<Uint8Array | undefined>();
  const quiet = await listenWebSocket({ seed: SERVER_SEED, maxMessageBytes: 16, onConnection: (_conn, _address, peerLinkKey) => plain.push(peerLinkKey) });
  after(() => quiet.close());
  const again = await connectWebSocket(target(quiet.port), { maxMessageBytes: 16, clientSeed: nodeSeed });
  await plain.until(1);
  assert.equal(plain.items[0], undefined);
  again.close();
});
