import { connectWebSocket, type ConnectWebSocketOptions, type WebSocketConnection, type WebSocketTarget } from './websocket.js';

/**
 * A request channel: a request / response WebSocket to a provider (docs/network.md, "Client
 * protocols"), connected on demand, responses matched to requests by id, at most `maxInFlight`
 * outstanding (a provider answers more with `busy`), the rest queued. A client fetches its mailbox
 * over one (bucket fetches, PIR queries to both servers); a provider replicates its PIR snapshots
 * to its partner over one. What the messages are is the caller's: it encodes each request and
 * passes the decoder of its responses. Timeouts are real time. The WebSocket runs on TLS 1.3 pinned
 * to the server's link key from the consensus (a LinkKeyMismatchError fails the request).
 */
export type WebSocketConnector = (target: WebSocketTarget, options: ConnectWebSocketOptions) => Promise<WebSocketConnection>;

/** Every response names its request; an `error` response is a refusal. */
export type ChannelResponse =
  | { readonly type: 'error'; readonly requestId: number; readonly code: number; readonly reason: string }
  | { readonly type: string; readonly requestId: number };

/** The server refused a request (an `error` response): its code and reason. */
export class RequestRefusal extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'RequestRefusal';
  }
}

export interface RequestChannelOptions<R extends ChannelResponse> {
  /** "wss://host:port" and the link key the server's certificate must carry. */
  readonly target: WebSocketTarget;
  /** Who is at the other end, for messages. */
  readonly name: string;
  readonly timeoutMs: number;
  /** Largest response accepted. */
  readonly maxMessageBytes: number;
  /** Parses one response; a throw means the server sent something malformed (the channel closes). */
  readonly decode: (bytes: Uint8Array) => R;
  /** Default 4 (a provider's per-connection limit). */
  readonly maxInFlight?: number;
  /** Default connectWebSocket; tests wrap it to tamper with what a server says. */
  readonly connect?: WebSocketConnector;
}

interface Waiter<R> {
  /** The connection the request went out on: only its close or its garbage fails the request. */
  readonly conn: WebSocketConnection;
  readonly resolve: (response: R) => void;
  readonly reject: (error: Error) => void;
  timer?: ReturnType<typeof setTimeout>;
}

const DEFAULT_MAX_IN_FLIGHT = 4;

export class RequestChannel<R extends ChannelResponse> {
  private conn: WebSocketConnection | undefined;
  private connecting: Promise<WebSocketConnection> | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter<R>>();
  private readonly queue: (() => void)[] = [];
  private inFlight = 0;
  private closed = false;
  private opened = 0;

  constructor(private readonly options: RequestChannelOptions<R>) {}

  get url(): string {
    return this.options.target.url;
  }

  get connected(): boolean {
    return this.conn?.isOpen === true;
  }

  /**
   * Sends the request `encode(id)` makes and resolves with the response; an `error` response
   * rejects with RequestRefusal, a timeout or a lost connection with Error.
   */
  async request(encode: (requestId: number) => Uint8Array): Promise<Exclude<R, { readonly type: 'error' }>> {
    await this.slot();
    try {
      const conn = await this.connect();
      const response = await this.exchange(conn, encode);
      if (isRefusal(response)) {
        throw new RequestRefusal(response.code, response.reason, `${this.options.name} refused: ${response.reason} (${response.code})`);
      }
      return response as Exclude<R, { readonly type: 'error' }>;
    } finally {
      this.release();
    }
  }

  close(): void {
    this.closed = true;
    this.failWaiting(new Error('closed'));
    for (const wake of this.queue.splice(0)) wake();
    this.conn?.close();
    this.conn = undefined;
  }

  /**
   * Connections opened so far: a new one may reach a server that restarted meanwhile and forgot what
   * the previous connection told it.
   */
  get connections(): number {
    return this.opened;
  }

  private connect(): Promise<WebSocketConnection> {
    if (this.closed) return Promise.reject(new Error(`the channel to ${this.options.name} is closed`));
    if (this.conn?.isOpen) return Promise.resolve(this.conn);
    const connect = this.options.connect ?? connectWebSocket;
    this.connecting ??= connect(this.options.target, { maxMessageBytes: this.options.maxMessageBytes, timeoutMs: this.options.timeoutMs }).then(
      (conn) => {
        this.connecting = undefined;
        if (this.closed) {
          conn.close();
          throw new Error(`the channel to ${this.options.name} is closed`);
        }
        this.conn = conn;
        this.opened++;
        conn.onMessage((bytes) => this.onMessage(conn, bytes));
        conn.onClose(() => {
          if (this.conn === conn) this.conn = undefined;
          this.failWaiting(new Error(`the connection to ${this.options.name} closed`), conn);
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

  /** Sends one request under a fresh id and waits for its response (or the timeout). */
  private exchange(conn: WebSocketConnection, encode: (requestId: number) => Uint8Array): Promise<R> {
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    return new Promise<R>((resolve, reject) => {
      const waiter: Waiter<R> = { conn, resolve, reject };
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
  }

  private onMessage(conn: WebSocketConnection, bytes: Uint8Array): void {
    let response: R;
    try {
      response = this.options.decode(bytes);
    } catch (error) {
      this.failWaiting(new Error(`${this.options.name} sent a malformed response: ${error instanceof Error ? error.message : String(error)}`), conn);
      if (this.conn === conn) this.conn = undefined;
      conn.close();
      return;
    }
    const waiter = this.waiting.get(response.requestId);
    if (waiter === undefined || waiter.conn !== conn) return;
    this.waiting.delete(response.requestId);
    if (waiter.timer !== undefined) clearTimeout(waiter.timer);
    waiter.resolve(response);
  }

  /** Rejects the requests waiting on `conn` (every request when undefined). */
  private failWaiting(error: Error, conn?: WebSocketConnection): void {
    for (const [id, waiter] of this.waiting) {
      if (conn !== undefined && waiter.conn !== conn) continue;
      if (waiter.timer !== undefined) clearTimeout(waiter.timer);
      this.waiting.delete(id);
      waiter.reject(error);
    }
  }

  /** Waits for a free in-flight slot. */
  private async slot(): Promise<void> {
    const max = this.options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
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
}

function isRefusal(response: ChannelResponse): response is Extract<ChannelResponse, { readonly type: 'error' }> {
  return response.type === 'error';
}
