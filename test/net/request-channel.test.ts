import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { RequestChannel, RequestRefusal } from '../../src/net/request-channel.js';
import { listenWebSocket, type WebSocketConnection, type WebSocketListener } from '../../src/net/websocket.js';
import { decodeRetrievalRequest, decodeRetrievalResponse, encodeFetchEpoch, encodeMessagesResponse, type RetrievalResponse } from '../../src/wire/retrieval.js';
import { encodeErrorResponse } from '../../src/wire/retrieval-errors.js';
import { seed, within } from './support.js';

const SERVER_SEED = seed(0x41);

/**
 * A request channel against a scripted server speaking the bucket-fetch messages: the epoch of a
 * `fetch epoch` says what the server does with it.
 */
const ANSWER = 1;
const REFUSE = 2;
const HOLD = 3; // answered only when release() is called
const GARBLE = 4;

interface Script {
  readonly listener: WebSocketListener;
  readonly target: { readonly url: string; readonly linkKey: Uint8Array };
  /** Requests held, in arrival order. */
  readonly held: { conn: WebSocketConnection; requestId: number }[];
  /** Most requests ever held at once. */
  maxHeld: number;
  release(): void;
}

const listeners: WebSocketListener[] = [];
after(async () => {
  for (const listener of listeners) await listener.close();
});

async function scriptedServer(): Promise<Script> {
  const held: { conn: WebSocketConnection; requestId: number }[] = [];
  const script: Script = {
    listener: undefined as never,
    target: { url: '', linkKey: new Uint8Array(32) },
    held,
    maxHeld: 0,
    release() {
      for (const { conn, requestId } of held.splice(0)) conn.send(encodeMessagesResponse(requestId, []));
    },
  };
  const listener = await listenWebSocket({
    seed: SERVER_SEED,
    maxMessageBytes: 1024,
    onConnection: (conn) => conn.onMessage((bytes) => {
      const request = decodeRetrievalRequest(bytes);
      const address = new Uint8Array(32).fill(request.requestId & 0xff);
      if (request.epoch === ANSWER) conn.send(encodeMessagesResponse(request.requestId, [{ address, ciphertext: Uint8Array.of(1) }]));
      if (request.epoch === REFUSE) conn.send(encodeErrorResponse(request.requestId, 4, 'not held'));
      if (request.epoch === GARBLE) conn.send(Uint8Array.of(0x99, 0, 0, 0, 1));
      if (request.epoch === HOLD) {
        held.push({ conn, requestId: request.requestId });
        script.maxHeld = Math.max(script.maxHeld, held.length);
      }
    }),
  });
  listeners.push(listener);
  return Object.assign(script, { listener, target: { url: `wss://127.0.0.1:${listener.port}`, linkKey: listener.linkKey } });
}

function channel(target: Script['target'], timeoutMs = 5000): RequestChannel<RetrievalResponse> {
  return new RequestChannel({ target, name: 'provider test', timeoutMs, maxMessageBytes: 1024, decode: (bytes) => decodeRetrievalResponse(bytes) });
}

test('answers are matched to their requests', async () => {
  const server = await scriptedServer();
  const ch = channel(server.target);
  const [a, b] = await within(Promise.all([ch.request((id) => encodeFetchEpoch(id, ANSWER)), ch.request((id) => encodeFetchEpoch(id, ANSWER))]), 'two answers');
  assert.equal(a.type, 'messages');
  assert.notEqual(a.requestId, b.requestId);
  assert.equal(a.messages[0].address[0], a.requestId & 0xff);
  assert.equal(b.messages[0].address[0], b.requestId & 0xff);
  assert.equal(ch.connected, true);
  ch.close();
});

test('an error response rejects with RequestRefusal and its code', async () => {
  const server = await scriptedServer();
  const ch = channel(server.target);
  await assert.rejects(ch.request((id) => encodeFetchEpoch(id, REFUSE)), (error: unknown) =>
    error instanceof RequestRefusal && error.code === 4 && error.reason === 'not held' && error.message === 'provider test refused: not held (4)');
  ch.close();
});

test('at most maxInFlight requests are outstanding; the rest wait their turn', async () => {
  const server = await scriptedServer();
  const ch = channel(server.target);
  const pending = Array.from({ length: 6 }, () => ch.request((id) => encodeFetchEpoch(id, HOLD)));
  while (server.held.length < 4) await within(new Promise((resolve) => setImmediate(resolve)), 'held requests');
  server.release();
  while (server.held.length < 2) await within(new Promise((resolve) => setImmediate(resolve)), 'the queued requests');
  server.release();
  assert.equal((await within(Promise.all(pending), 'six answers')).length, 6);
  assert.equal(server.maxHeld, 4);
  ch.close();
});

test('a malformed response fails what is outstanding; a timeout and a closed channel reject', async () => {
  const server = await scriptedServer();
  const ch = channel(server.target, 200);
  const held = ch.request((id) => encodeFetchEpoch(id, HOLD));
  const garbled = ch.request((id) => encodeFetchEpoch(id, GARBLE));
  await assert.rejects(garbled, /provider test sent a malformed response/);
  await assert.rejects(held, /provider test sent a malformed response/);
  await assert.rejects(ch.request((id) => encodeFetchEpoch(id, HOLD)), /did not answer within 200 ms/);
  ch.close();
  await assert.rejects(ch.request((id) => encodeFetchEpoch(id, ANSWER)), /closed/);
});
