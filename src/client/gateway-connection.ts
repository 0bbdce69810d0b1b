import type { WebSocketConnector } from '../net/request-channel.js';
import { connectWebSocket, type WebSocketConnection } from '../net/websocket.js';
import type { NodeDescriptor } from '../pki/index.js';
import type { Clock } from '../net/clock.js';
import { encodeGatewayFrame, type GatewayFrame } from '../wire/gateway-frame.js';
import { describeError } from './errors.js';
import { wsTarget } from './routes.js';

/**
 * The agent's packet stream to its gateway (docs/network.md, "Client protocols"): a WebSocket on TLS
 * 1.3, pinned to the link key of the gateway's descriptor, that carries gateway frames (first hop ‖
 * Sphinx packet) out and nothing back. A server with another key is refused (LinkKeyMismatchError, reported via onError).
 */

/** A gateway sends nothing; anything longer than this from it closes the connection. */
const GATEWAY_MAX_MESSAGE = 1024;

/** One WebSocket to a gateway: connected on demand, retried with backoff. */
export class GatewayConnection {
  private conn: WebSocketConnection | undefined;
  private connecting: Promise<void> | undefined;
  private failures = 0;
  private retryAtMs = 0;
  private closed = false;

  constructor(
    /** The gateway's descriptor from the latest consensus (its Sphinx keys change every epoch). */
    public node: NodeDescriptor,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    /** A failed connect: a line to show, and what was thrown (LinkKeyMismatchError for a wrong key). */
    private readonly onError: (message: string, error: unknown) => void,
    /** Opens the WebSocket (default connectWebSocket; tests route it through an observer). */
    private readonly connect: WebSocketConnector = connectWebSocket,
  ) {}

  get ready(): boolean {
    return this.conn?.isOpen === true;
  }

  /** Starts connecting unless connected, connecting, or waiting out a backoff. */
  ensure(): Promise<void> {
    if (this.closed || this.ready) return Promise.resolve();
    if (this.connecting !== undefined) return this.connecting;
    if (this.clock.now() < this.retryAtMs) return Promise.resolve();
    this.connecting = this.connect(wsTarget(this.node), { maxMessageBytes: GATEWAY_MAX_MESSAGE, timeoutMs: this.timeoutMs }).then(
      (conn) => {
        this.connecting = undefined;
        if (this.closed) {
          conn.close();
          return;
        }
        this.failures = 0;
        this.conn = conn;
        conn.onMessage(() => undefined); // a gateway answers nothing
        conn.onClose(() => {
          if (this.conn === conn) this.conn = undefined;
        });
      },
      (error: unknown) => {
        this.connecting = undefined;
        this.failures++;
        this.retryAtMs = this.clock.now() + Math.min(30_000, 250 * 2 ** Math.min(this.failures, 8));
        this.onError(`gateway ${this.node.name}: ${describeError(error)}`, error);
      },
    );
    return this.connecting;
  }

  /** Sends one frame; false when not connected or the socket refused it. */
  send(frame: GatewayFrame): boolean {
    return this.conn?.send(encodeGatewayFrame(frame)) === true;
  }

  close(): void {
    this.closed = true;
    this.conn?.close();
    this.conn = undefined;
  }
}
