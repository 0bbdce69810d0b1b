import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { WebSocket } from 'ws';
import { NetMetrics } from '../../src/net/metrics.js';
import { connectWebSocket, listenWebSocket, WS_CLOSE, WS_COUNTERS, type WebSocketConnection } from '../../src/net/websocket.js';
import { Inbox, within } from './support.js';

const closeCode = (conn: WebSocketConnection): Promise<number> =>
  within(new Promise<number>((resolve) => conn.onClose(resolve)), 'close');

test('the WebSocket server takes binary messages, closes on text or oversized ones, and serves the rest', async () => {
  const metrics = new NetMetrics();
  const serverSide: WebSocketConnection[] = [];
  const server = await listenWebSocket({
    maxMessageBytes: 1024,
    metrics,
    onConnection: (conn) => {
      serverSide.push(conn);
      conn.send(Uint8Array.of(0x68, 0x69)); // sent at once: the client must still get it
      conn.onMessage((bytes) => conn.send(Uint8Array.from(bytes, (b) => b ^ 0xff)));
    },
  });
  after(() => server.close());
  const url = `ws://127.0.0.1:${server.port}`;

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
  const texter = new WebSocket(url);
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
  const server = await listenWebSocket({ maxMessageBytes: 16, onConnection: () => undefined });
  const port = server.port;
  await server.close();
  await assert.rejects(within(connectWebSocket(`ws://127.0.0.1:${port}`, { maxMessageBytes: 16 }), 'refusal'), /ECONNREFUSED/);
});

test('garbage, plain HTTP and bad handshakes on a WebSocket port are refused and counted; clients still connect', async () => {
  const metrics = new NetMetrics();
  const server = await listenWebSocket({ maxMessageBytes: 64, metrics, onConnection: (conn) => conn.onMessage((m) => conn.send(m)) });
  try {
    const { connect } = await import('node:net');
    /** Sends raw bytes and returns the server's first response line. */
    const raw = (text: string): Promise<string> =>
      new Promise((resolve) => {
        let answer = '';
        const socket = connect(server.port, '127.0.0.1', () => socket.write(text));
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
    const client = await connectWebSocket(`ws://127.0.0.1:${server.port}`, { maxMessageBytes: 64 });
    const echoed = new Promise<Uint8Array>((resolve) => client.onMessage(resolve));
    client.send(new Uint8Array([1, 2, 3]));
    assert.deepEqual(await within(echoed, 'echo'), new Uint8Array([1, 2, 3]));
    client.close();
  } finally {
    await server.close();
  }
});
