import type { NodeDescriptor } from '../pki/index.js';
import { connectWebSocket, type WebSocketConnection } from '../node/link/websocket.js';
import type { Clock } from '../net/clock.js';
import { describeError } from './errors.js';
import { decodeProviderResponse, encodeFetchBucket, encodeFetchEpoch, type StoredItem } from './provider-protocol.js';
import { wsUrl } from './routes.js';

/**
 * The agent's WebSockets (docs/network.md, "Client protocols"): to gateways (packets out, nothing
 * back) and to the own provider (bucket fetches, request / response).
 */

/** Gateway and provider connections accept at most this from the server. */
const GATEWAY_MAX_MESSAGE = 1024;
const PROVIDER_MAX_MESSAGE = 256 * 1024 * 1024;

/** One WebSocket to a gateway: connected on demand, retried with backoff. */
export class GatewayLink {
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
    private readonly onError: (message: string) => void,
  ) {}

  get ready(): boolean {
    return this.conn?.isOpen === true;
  }

  /** Starts connecting unless connected, connecting, or waiting out a backoff. */
  ensure(): Promise<void> {
    if (this.closed || this.ready) return Promise.resolve();
    if (this.connecting !== undefined) return this.connecting;
    if (this.clock.now() < this.retryAtMs) return Promise.resolve();
    this.connecting = connectWebSocket(wsUrl(this.node), { maxMessageBytes: GATEWAY_MAX_MESSAGE, timeoutMs: this.timeoutMs }).then(
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
        this.onError(`gateway ${this.node.name}: ${describeError(error)}`);
      },
    );
    return this.connecting;
  }

  send(packet: Uint8Array): boolean {
    return this.conn?.send(packet) === true;
  }

  close(): void {
    this.closed = true;
    this.conn?.close();
    this.conn = undefined;
  }
}

/** The provider answered a request with an error response. */
export class ProviderRefusal extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = 'ProviderRefusal';
  }
}

/** Error codes of the provider protocol the agent reacts to (docs/network.md; src/node/provider). */
export const PROVIDER_EPOCH_NOT_HELD = 4;
export const PROVIDER_TOO_LARGE = 5;

/** The own provider's WebSocket: request / response (docs/network.md, "Client protocols"). */
export class ProviderLink {
  private conn: WebSocketConnection | undefined;
  private connecting: Promise<WebSocketConnection> | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (items: StoredItem[]) => void; reject: (error: Error) => void; timer: ReturnType<typeof setTimeout> }>();

  constructor(
    readonly node: NodeDescriptor,
    private readonly timeoutMs: number,
    private readonly maxCiphertextBytes: number,
  ) {}

  get connected(): boolean {
    return this.conn?.isOpen === true;
  }

  private connect(): Promise<WebSocketConnection> {
    if (this.conn?.isOpen) return Promise.resolve(this.conn);
    this.connecting ??= connectWebSocket(wsUrl(this.node), { maxMessageBytes: PROVIDER_MAX_MESSAGE, timeoutMs: this.timeoutMs }).then(
      (conn) => {
        this.connecting = undefined;
        this.conn = conn;
        conn.onMessage((bytes) => this.onMessage(bytes));
        conn.onClose(() => {
          if (this.conn === conn) this.conn = undefined;
          this.failAll(new Error(`the connection to provider ${this.node.name} closed`));
        });
        return conn;
      },
      (error: unknown) => {
        this.connecting = undefined;
        throw error;
      },
    );
    return this.connecting;
  }

  private onMessage(bytes: Uint8Array): void {
    let response;
    try {
      response = decodeProviderResponse(bytes, this.maxCiphertextBytes);
    } catch (error) {
      this.failAll(new Error(`provider ${this.node.name} sent a malformed response: ${describeError(error)}`));
      this.conn?.close();
      return;
    }
    const waiter = this.waiting.get(response.requestId);
    if (waiter === undefined) return;
    this.waiting.delete(response.requestId);
    clearTimeout(waiter.timer);
    if (response.type === 'messages') waiter.resolve(response.items);
    else waiter.reject(new ProviderRefusal(response.code, `provider ${this.node.name} refused: ${response.reason} (${response.code})`));
  }

  private failAll(error: Error): void {
    for (const [id, waiter] of this.waiting) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
      this.waiting.delete(id);
    }
  }

  fetchBucket(epoch: number, bucket: number, buckets: number): Promise<StoredItem[]> {
    return this.request((id) => encodeFetchBucket(id, epoch, bucket, buckets));
  }

  /** The whole epoch (download retrieval). */
  fetchEpoch(epoch: number): Promise<StoredItem[]> {
    return this.request((id) => encodeFetchEpoch(id, epoch));
  }

  private async request(encode: (requestId: number) => Uint8Array): Promise<StoredItem[]> {
    const conn = await this.connect();
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    return new Promise<StoredItem[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`provider ${this.node.name} did not answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.waiting.set(id, { resolve, reject, timer });
      if (!conn.send(encode(id))) {
        this.waiting.delete(id);
        clearTimeout(timer);
        reject(new Error(`the connection to provider ${this.node.name} is not open`));
      }
    });
  }

  close(): void {
    this.failAll(new Error('closed'));
    this.conn?.close();
    this.conn = undefined;
  }
}
