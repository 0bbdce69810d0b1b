import type { WebSocketConnection } from '../../src/net/websocket.js';

/** What a test does to the messages of one connection: each maps a message to what goes on. */
export interface Interception {
  /** A message the client sends, before it is sent (its result is what is sent). */
  readonly outgoing?: (bytes: Uint8Array) => Uint8Array;
  /** A message that arrived, before the client's handler sees it (its result is what it sees). */
  readonly incoming?: (bytes: Uint8Array) => Uint8Array;
}

/**
 * `conn` with its messages passed through `interception` (to record, alter or cut them), as a
 * test's WebSocketConnector hands it to the code under test; everything else is `conn`'s own.
 */
export function interceptedConnection(conn: WebSocketConnection, interception: Interception): WebSocketConnection {
  const { outgoing, incoming } = interception;
  return {
    send: (bytes) => conn.send(outgoing === undefined ? bytes : outgoing(bytes)),
    onMessage: (callback) => conn.onMessage(incoming === undefined ? callback : (bytes) => callback(incoming(bytes))),
    onClose: (callback) => conn.onClose(callback),
    close: (code) => conn.close(code),
    get isOpen() {
      return conn.isOpen;
    },
    get bufferedAmount() {
      return conn.bufferedAmount;
    },
  };
}
