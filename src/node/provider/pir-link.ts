import { connectWebSocket, type ConnectWebSocketOptions, type WebSocketConnection } from '../link/websocket.js';
import { decodePirResponse, type PirResponse } from './pir-protocol.js';

/**
 * A request / response WebSocket to a provider for the PIR messages (pir-protocol.ts): connected on
 * demand, requests matched to responses by id, at most `maxInFlight` outstanding (the provider
 * answers more with `busy`), the rest queued. Used by a provider to push snapshots to its partner
 * and by clients to query both servers. Timeouts are real time.
 */
export type WebSocketConnector = (url: string, options: ConnectWebSocketOptions) => Promise<WebSocketConnection>;

/** The provider refused a request (an `error` response): its code and reason. */
export class PirRefusal extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'PirRefusal';
  }
}

export interface PirLinkOptions {
  /** "ws://host:port". */
  readonly url: string;
  /** Who is at the other end, for messages. */
  readonly name: string;
  readonly timeoutMs: number;
  /** Largest response accepted (an answer is one row). */
  readonly maxMessageBytes: number;
  /** Default 4 (the provider's per-connection limit). */
  readonly maxInFlight?: number;
  /** Default connectWebSocket; tests wrap it to tamper with what a server says. */
  readonly connect?: WebSocketConnector;
}

interface Waiter {
  readonly resolve: (response: PirResponse) => void;
  readonly reject: (error: Error) => void;
  timer?: ReturnType<typeof setTimeout>;
}

export class PirLink {
  private conn: WebSocketConnection | undefined;
  private connecting: Promise<WebSocketConnection> | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter>();
  private readonly queue: (() => void)[] = [];
  private inFlight = 0;
  private closed = false;

  constructor(private readonly options: PirLinkOptions) {}

  get url(): string {
    return this.options.url;
  }

  get connected(): boolean {
    return this.conn?.isOpen === true;
  }

  private connect(): Promise<WebSocketConnection> {
    if (this.closed) return Promise.reject(new Error(`the link to ${this.options.name} is closed`));
    if (this.conn?.isOpen) return Promise.resolve(this.conn);
    const connect = this.options.connect ?? connectWebSocket;
    this.connecting ??= connect(this.options.url, { maxMessageBytes: this.options.maxMessageBytes, timeoutMs: this.options.timeoutMs }).then(
      (conn) => {
        this.connecting = undefined;
        if (this.closed) {
          conn.close();
          throw new Error(`the link to ${this.options.name} is closed`);
        }
        this.conn = conn;
        conn.onMessage((bytes) => this.onMessage(bytes));
        conn.onClose(() => {
          if (this.conn === conn) this.conn = undefined;
          this.failAll(new Error(`the connection to ${this.options.name} closed`));
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
    let response: PirResponse;
    try {
      response = decodePirResponse(bytes);
    } catch (error) {
      this.failAll(new Error(`${this.options.name} sent a malformed response: ${error instanceof Error ? error.message : String(error)}`));
      this.conn?.close();
      return;
    }
    const waiter = this.waiting.get(response.requestId);
    if (waiter === undefined) return;
    this.waiting.delete(response.requestId);
    if (waiter.timer !== undefined) clearTimeout(waiter.timer);
    waiter.resolve(response);
  }

  private failAll(error: Error): void {
    for (const [id, waiter] of this.waiting) {
      if (waiter.timer !== undefined) clearTimeout(waiter.timer);
      this.waiting.delete(id);
      waiter.reject(error);
    }
  }

  /** Waits for a free in-flight slot. */
  private async slot(): Promise<void> {
    const max = this.options.maxInFlight ?? 4;
    if (this.inFlight < max) {
      this.inFlight++;
      return;
    }
    await new Promise<void>((resolve) => this.queue.push(resolve));
  }

  private release(): void {
    const next = this.queue.shift();
    if (next !== undefined) next(); // the slot passes on
    else this.inFlight--;
  }

  /**
   * Sends the request `encode(id)` makes and resolves with the response; an `error` response
   * rejects with PirRefusal, a timeout or a lost connection with Error.
   */
  async request(encode: (requestId: number) => Uint8Array): Promise<Exclude<PirResponse, { type: 'error' }>> {
    await this.slot();
    try {
      const conn = await this.connect();
      const id = this.nextId;
      this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
      const response = await new Promise<PirResponse>((resolve, reject) => {
        const waiter: Waiter = { resolve, reject };
        waiter.timer = setTimeout(() => {
          this.waiting.delete(id);
          reject(new Error(`${this.options.name} did not answer within ${this.options.timeoutMs} ms`));
        }, this.options.timeoutMs);
        this.waiting.set(id, waiter);
        if (!conn.send(encode(id))) {
          this.waiting.delete(id);
          clearTimeout(waiter.timer);
          reject(new Error(`the connection to ${this.options.name} is not open`));
        }
      });
      if (response.type === 'error') {
        throw new PirRefusal(response.code, response.reason, `${this.options.name} refused: ${response.reason} (${response.code})`);
      }
      return response;
    } finally {
      this.release();
    }
  }

  close(): void {
    this.closed = true;
    this.failAll(new Error('closed'));
    for (const wake of this.queue.splice(0)) wake();
    this.conn?.close();
    this.conn = undefined;
  }
}
