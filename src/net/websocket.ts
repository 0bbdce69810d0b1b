/**
 * Client-facing WebSockets over `ws`, on TLS 1.3 only (`wss://`): the listener presents the node's
 * self-signed link certificate, the client pins its key from the consensus (pinned-tls.ts). Binary
 * messages only, a maximum message size, no compression. A peer that sends a text message is closed
 * with 1003, an oversized one with 1009 (by ws), any other protocol error with 1002; each is counted
 * by reason and nothing else is affected. Clients are anonymous (no client certificate); a
 * gateway asks for one so that a mix sending its loops can show its link key (never required).
 * docs/links.md, "WebSocket".
 */
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createServer as createHttpsServer } from 'node:https';
import { addressKey, type Admission } from './admission.js';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { TLS_VERSIONS } from './link-settings.js';
import { NetMetrics } from './metrics.js';
import { dialPinnedTls, type WebSocketTarget } from './pinned-tls.js';
import { linkKeyOf, tlsIdentity } from './tls-identity.js';

export { LinkKeyMismatchError, WebSocketTargetError, type WebSocketTarget } from './pinned-tls.js';

export const WS_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  maxConnections: 4096,
  /** Messages that arrive before onMessage() is called are held, up to this many. */
  maxEarlyMessages: 64,
  connectTimeoutMs: 10_000,
});

/** Close codes used here (RFC 6455 7.4.1). */
export const WS_CLOSE = Object.freeze({
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  unsupportedData: 1003,
  messageTooBig: 1009,
  tryAgainLater: 1013,
});

export const WS_COUNTERS = Object.freeze({
  accepted: 'ws_connections_accepted',
  /**
   * Requests refused before any WebSocket existed: a failed TLS handshake (cleartext included),
   * bytes that are not HTTP, HTTP that is no WebSocket upgrade, bad WebSocket handshakes.
   */
  rejected: 'ws_requests_rejected',
  closed: 'ws_connections_closed_by_us',
  received: 'ws_messages_received',
});

/** Why this end closed a WebSocket (the `reason` of ws_connections_closed_by_us). */
export type WebSocketCloseReason = 'text' | 'oversized' | 'protocol-error' | 'too-many-connections' | 'too-many-early-messages';

export interface WebSocketConnection {
  /** Sends one binary message; false when the socket is not open. */
  send(bytes: Uint8Array): boolean;
  /** Sets the handler for binary messages, each a fresh Uint8Array (earlier ones are delivered at once). */
  onMessage(callback: (bytes: Uint8Array) => void): void;
  /** Called once when the connection ends, with the close code. */
  onClose(callback: (code: number) => void): void;
  close(code?: number): void;
  readonly isOpen: boolean;
  /** Bytes queued by send() and not yet written to the socket. */
  readonly bufferedAmount: number;
}

/** A plain Uint8Array copy that the receiver owns (ws may hand out views of its read buffers). */
function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  return new Uint8Array(data instanceof ArrayBuffer ? new Uint8Array(data) : data);
}

function wrap(socket: WebSocket, metrics: NetMetrics, maxEarlyMessages: number): WebSocketConnection {
  let handler: ((bytes: Uint8Array) => void) | undefined;
  let closeHandler: ((code: number) => void) | undefined;
  let closedWith: number | undefined;
  const early: Uint8Array[] = [];
  let refused = false;
  let opened = socket.readyState === WebSocket.OPEN; // a server-side socket is open already
  socket.once('open', () => { opened = true; });

  const refuse = (reason: WebSocketCloseReason, code: number): void => {
    if (refused) return;
    refused = true;
    metrics.inc(WS_COUNTERS.closed, reason);
    if (socket.readyState === WebSocket.OPEN) socket.close(code);
    else socket.terminate();
  };

  socket.on('message', (data: RawData, isBinary: boolean) => {
    if (refused) return;
    if (!isBinary) return refuse('text', WS_CLOSE.unsupportedData);
    metrics.inc(WS_COUNTERS.received);
    const bytes = toBytes(data);
    if (handler !== undefined) return handler(bytes);
    if (early.length >= maxEarlyMessages) return refuse('too-many-early-messages', WS_CLOSE.tryAgainLater);
    early.push(bytes);
  });
  socket.on('error', (error: Error & { code?: string }) => {
    // ws has already started closing (1009 for too big, 1002 otherwise); count why. An error
    // before the connection opened is a failed connect, reported by connectWebSocket instead.
    if (refused || !opened) return;
    refused = true;
    metrics.inc(WS_COUNTERS.closed, error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'oversized' : 'protocol-error');
  });
  socket.on('close', (code: number) => {
    closedWith = code;
    early.length = 0;
    closeHandler?.(code);
  });

  return {
    send(bytes) {
      if (socket.readyState !== WebSocket.OPEN) return false;
      socket.send(bytes, { binary: true });
      return true;
    },
    onMessage(callback) {
      handler = callback;
      while (early.length > 0 && handler === callback) callback(early.shift()!);
    },
    onClose(callback) {
      closeHandler = callback;
      if (closedWith !== undefined) callback(closedWith);
    },
    close(code = WS_CLOSE.normal) {
      if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) socket.close(code);
    },
    get isOpen() {
      return socket.readyState === WebSocket.OPEN;
    },
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
  };
}

export interface ListenWebSocketOptions {
  /** The node's 32-byte Ed25519 link seed: its TLS certificate carries the link key clients pin. */
  readonly seed: Uint8Array;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0: an ephemeral port. */
  readonly port?: number;
  /** Largest message accepted, in bytes; a larger one closes the connection with 1009. */
  readonly maxMessageBytes: number;
  /**
   * `address` is the client's source address as counted by admission (IPv6 by /64); `peerLinkKey`
   * the Ed25519 key of the certificate the client presented, when `askClientCertificate` is set and
   * it presented one (a node: nothing checks it here, the caller compares it with what it pins).
   */
  readonly onConnection: (conn: WebSocketConnection, address: string, peerLinkKey: Uint8Array | undefined) => void;
  /** Ask clients for a certificate (never required; default false). */
  readonly askClientCertificate?: boolean;
  /** Per-address caps, the upgrade deadline and the idle timeout (src/net/admission.ts). */
  readonly admission?: Admission;
  readonly metrics?: NetMetrics;
  /** Further connections are closed with 1013 (default 4096). */
  readonly maxConnections?: number;
  readonly maxEarlyMessages?: number;
  /** The local address to connect from (default: the system's choice). */
  readonly localAddress?: string;
}

export interface WebSocketListener {
  readonly port: number;
  /** The Ed25519 link key of the listener's certificate. */
  readonly linkKey: Uint8Array;
  readonly metrics: NetMetrics;
  /** Open client connections. */
  readonly connections: number;
  /** Stops listening and closes every client with 1001. */
  close(): Promise<void>;
}

function checkMaxMessageBytes(value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`maxMessageBytes must be a positive integer, got ${value}`);
  return value;
}

export async function listenWebSocket(options: ListenWebSocketOptions): Promise<WebSocketListener> {
  const metrics = options.metrics ?? new NetMetrics();
  const maxConnections = options.maxConnections ?? WS_DEFAULTS.maxConnections;
  const maxEarly = options.maxEarlyMessages ?? WS_DEFAULTS.maxEarlyMessages;
  // Our own HTTPS server under the WebSocket one, so that garbage on the port is counted: failed TLS
  // handshakes, cleartext included ('tls-handshake-failed'), bytes that are not HTTP ('bad-request'),
  // plain HTTP requests ('not-websocket') and failed WebSocket handshakes. There is no cleartext port.
  const identity = tlsIdentity(options.seed);
  const askCertificate = options.askClientCertificate === true ? { requestCert: true, rejectUnauthorized: false } : {};
  const http = createHttpsServer({ key: identity.key, cert: identity.cert, ...askCertificate, ...TLS_VERSIONS, handshakeTimeout: WS_DEFAULTS.connectTimeoutMs }, (_req, res) => {
    metrics.inc(WS_COUNTERS.rejected, 'not-websocket');
    res.writeHead(426, { 'content-type': 'text/plain', connection: 'close' }).end('WebSocket only\n');
  });
  http.on('clientError', (error: Error & { code?: string }, socket: Duplex) => {
    // Only what the HTTP parser refused counts; a reset or a TLS error of a finished exchange does not.
    if (error.code?.startsWith('HPE_') !== true) return void socket.destroy();
    metrics.inc(WS_COUNTERS.rejected, 'bad-request');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  http.on('tlsClientError', (_error: Error, socket: Duplex) => {
    metrics.inc(WS_COUNTERS.rejected, 'tls-handshake-failed');
    socket.destroy();
  });
  http.headersTimeout = 10_000;
  if (options.admission !== undefined) http.on('connection', (socket: Socket) => options.admission?.admit(socket));
  const server = new WebSocketServer({
    server: http,
    maxPayload: checkMaxMessageBytes(options.maxMessageBytes),
    perMessageDeflate: false,
    clientTracking: true,
  });
  // With a listener here, ws leaves the refused socket to us: answer 400 and close it.
  server.on('wsClientError', (_error: Error, socket: Duplex) => {
    metrics.inc(WS_COUNTERS.rejected, 'bad-handshake');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    setTimeout(() => socket.destroy(), 1000).unref();
  });
  // ws re-emits the HTTPS server's errors on its own server: a failed listen (a port in use) would
  // be an uncaught exception there, instead of the rejection below that says which port.
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 0, options.host ?? WS_DEFAULTS.host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  http.on('error', () => undefined); // errors after listening concern single connections
  server.on('connection', (socket: WebSocket, request: { socket: Socket }) => {
    options.admission?.established(request.socket);
    if (server.clients.size > maxConnections) {
      metrics.inc(WS_COUNTERS.closed, 'too-many-connections');
      socket.on('error', () => undefined);
      socket.close(WS_CLOSE.tryAgainLater);
      return;
    }
    metrics.inc(WS_COUNTERS.accepted);
    const peerLinkKey = options.askClientCertificate === true ? linkKeyOf((request.socket as TLSSocket).getPeerX509Certificate()) : undefined;
    options.onConnection(wrap(socket, metrics, maxEarly), addressKey(request.socket.remoteAddress), peerLinkKey);
  });
  const port = (http.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    port,
    linkKey: identity.linkKey,
    metrics,
    get connections() {
      return server.clients.size;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const client of server.clients) {
          client.close(WS_CLOSE.goingAway);
          // A client that does not answer the close handshake promptly is cut off.
          const timer = setTimeout(() => client.terminate(), 1000);
          client.once('close', () => clearTimeout(timer));
        }
        server.close(() => http.close(() => resolve()));
        http.closeAllConnections();
      });
      return closing;
    },
  };
}

export interface ConnectWebSocketOptions {
  /** Largest message accepted from the server. */
  readonly maxMessageBytes: number;
  readonly metrics?: NetMetrics;
  /** Give up when the connection is not open within this time (default 10 s). */
  readonly timeoutMs?: number;
  readonly maxEarlyMessages?: number;
  /** The local address to connect from (default: the system's choice). */
  readonly localAddress?: string;
  /** A node's 32-byte link seed: its link certificate is presented (a client presents none). */
  readonly clientSeed?: Uint8Array;
}

/**
 * Opens a client WebSocket over pinned TLS 1.3 (Node side); resolves when it is open. Rejects with
 * LinkKeyMismatchError when the server's certificate does not carry `target.linkKey`,
 * WebSocketTargetError for a target that is not `wss://host:port`, Error when it cannot open.
 */
export async function connectWebSocket(target: WebSocketTarget, options: ConnectWebSocketOptions): Promise<WebSocketConnection> {
  const metrics = options.metrics ?? new NetMetrics();
  const maxPayload = checkMaxMessageBytes(options.maxMessageBytes);
  const timeoutMs = options.timeoutMs ?? WS_DEFAULTS.connectTimeoutMs;
  const startedMs = Date.now();
  const identity = options.clientSeed === undefined ? undefined : tlsIdentity(options.clientSeed);
  const tls = await dialPinnedTls(target, timeoutMs, options.localAddress, identity);
  const socket = new WebSocket(target.url, {
    createConnection: () => tls, // pinned already: ws speaks HTTP and WebSocket frames inside it
    maxPayload,
    perMessageDeflate: false,
    handshakeTimeout: Math.max(1, timeoutMs - (Date.now() - startedMs)), // one limit for TLS and WebSocket
  });
  // Wrap at once so a message that arrives with the handshake is held, not lost.
  const conn = wrap(socket, metrics, options.maxEarlyMessages ?? WS_DEFAULTS.maxEarlyMessages);
  return new Promise<WebSocketConnection>((resolve, reject) => {
    const onError = (error: Error): void => {
      socket.off('open', onOpen);
      socket.terminate();
      tls.destroy();
      reject(error);
    };
    const onOpen = (): void => {
      socket.off('error', onError);
      resolve(conn);
    };
    socket.once('error', onError);
    socket.once('open', onOpen);
  });
}
