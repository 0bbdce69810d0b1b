import { EventEmitter } from 'node:events';
import { connect, type TLSSocket } from 'node:tls';
import { clientContext } from './client-context.js';
import { FramedConnection } from './framed-connection.js';
import { FRAME_HEADER_BYTES, FRAME_KEEPALIVE, FRAME_PACKET, FrameSlab, checkLimits, joinAdjacent, type FrameLimits } from './frames.js';
import { LINK_COUNTERS, LINK_DEFAULTS, linkTiming, positive, type DisconnectReason, type LinkTiming, type RejectReason } from './link-settings.js';
import { NetMetrics } from './metrics.js';
import { linkKeyOf, sameLinkKey, tlsIdentity } from './tls-identity.js';

/**
 * The sending end of a node-to-node link (docs/links.md): dials the peer over TLS 1.3 with this
 * node's certificate, pins the peer's Ed25519 link key from the consensus, and writes the Sphinx
 * packets queued with send() once the listener has accepted it. Reconnects with a jittered backoff
 * until closed.
 */
export interface ConnectLinkOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  readonly port: number;
  /** The raw Ed25519 link key the consensus publishes for the node dialled. */
  readonly expectedLinkKey: Uint8Array;
  /** This node's 32-byte Ed25519 link seed (its client certificate). */
  readonly seed: Uint8Array;
  readonly packetLength: number;
  readonly metrics?: NetMetrics;
  readonly maxFrameBytes?: number;
  /** Packets waiting for the link; send() returns false when this many are waiting. */
  readonly maxQueuedPackets?: number;
  /** First reconnect delay; doubles per failed attempt up to reconnectMaxMs (jittered to 50–100 %). */
  readonly reconnectInitialMs?: number;
  readonly reconnectMaxMs?: number;
  readonly keepaliveMs?: number;
  readonly idleTimeoutMs?: number;
  readonly handshakeTimeoutMs?: number;
}

export type LinkState = 'connecting' | 'up' | 'waiting' | 'closed';

export interface LinkDialerEvents {
  /** Pinned and accepted: queued packets flow. */
  up: [];
  /** The link that was up ended; a reconnect follows unless closed. */
  down: [reason: DisconnectReason];
  /** An attempt failed before the link was up (refused, pin mismatch, unreachable …). */
  failed: [reason: RejectReason | 'unreachable' | 'not-accepted'];
}

export class LinkDialer extends EventEmitter<LinkDialerEvents> {
  readonly metrics: NetMetrics;
  private readonly identity: { key: string; cert: string };
  private readonly expected: Uint8Array;
  private readonly limits: FrameLimits;
  private readonly timing: LinkTiming;
  private readonly maxQueued: number;
  private readonly initialDelay: number;
  private readonly maxDelay: number;
  private readonly handshakeTimeout: number;
  /** Frames waiting to be written, each a view of a slab: frames queued together are side by side. */
  private queue: Buffer[] = [];
  private readonly slab: FrameSlab;
  private head = 0;
  private flushScheduled = false;
  private link: FramedConnection | undefined;
  private socket: TLSSocket | undefined;
  private currentState: LinkState = 'connecting';
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ConnectLinkOptions) {
    super();
    this.metrics = options.metrics ?? new NetMetrics();
    const identity = tlsIdentity(options.seed);
    this.identity = { key: identity.key, cert: identity.cert };
    this.expected = new Uint8Array(options.expectedLinkKey);
    if (this.expected.length !== 32) throw new RangeError('expectedLinkKey must be 32 bytes');
    this.limits = { packetLength: options.packetLength, maxFrameBytes: options.maxFrameBytes ?? LINK_DEFAULTS.maxFrameBytes };
    checkLimits(this.limits);
    this.slab = new FrameSlab(FRAME_HEADER_BYTES + options.packetLength);
    this.timing = linkTiming(options);
    this.maxQueued = positive('maxQueuedPackets', options.maxQueuedPackets ?? LINK_DEFAULTS.maxQueuedPackets);
    this.initialDelay = positive('reconnectInitialMs', options.reconnectInitialMs ?? LINK_DEFAULTS.reconnectInitialMs);
    this.maxDelay = Math.max(this.initialDelay, options.reconnectMaxMs ?? LINK_DEFAULTS.reconnectMaxMs);
    this.handshakeTimeout = positive('handshakeTimeoutMs', options.handshakeTimeoutMs ?? LINK_DEFAULTS.handshakeTimeoutMs);
    queueMicrotask(() => this.dial());
  }

  get state(): LinkState {
    return this.currentState;
  }

  /** Packets waiting to be written to the link. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  /**
   * Queues one packet (copied) for the peer. False when it was dropped: the queue is full or the
   * dialer is closed (counted in packets_dropped). A packet of the wrong length is a bug: RangeError.
   */
  send(packet: Uint8Array): boolean {
    if (packet.length !== this.limits.packetLength) {
      throw new RangeError(`packet must be ${this.limits.packetLength} bytes, got ${packet.length}`);
    }
    if (this.currentState === 'closed') {
      this.metrics.inc(LINK_COUNTERS.dropped, 'link-closed');
      return false;
    }
    if (this.queued >= this.maxQueued) {
      this.metrics.inc(LINK_COUNTERS.dropped, 'queue-full');
      return false;
    }
    this.queue.push(this.slab.encode(FRAME_PACKET, packet));
    // Packets sent in one turn of the event loop leave in one write (one TLS record run, one
    // system call) instead of one each: a mix releases a worker's whole batch at once.
    if (this.currentState === 'up' && !this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
    return true;
  }

  /** Stops for good: drops the link and whatever is still queued. */
  close(): void {
    if (this.currentState === 'closed') return;
    const wasUp = this.currentState === 'up';
    this.currentState = 'closed';
    clearTimeout(this.retryTimer);
    const dropped = this.queued;
    if (dropped > 0) this.metrics.inc(LINK_COUNTERS.dropped, 'link-closed', dropped);
    this.queue = [];
    this.head = 0;
    if (this.link !== undefined) this.link.end('shutdown');
    else this.socket?.destroy();
    if (wasUp) this.emit('down', 'shutdown');
  }

  private dial(): void {
    if (this.currentState === 'closed') return;
    this.currentState = 'connecting';
    this.metrics.inc(LINK_COUNTERS.dials);
    let settled = false;
    let failure: RejectReason | 'unreachable' | 'not-accepted' = 'unreachable';
    const socket = connect({
      host: this.options.host ?? LINK_DEFAULTS.host,
      port: this.options.port,
      secureContext: clientContext(this.identity),
      rejectUnauthorized: false, // self-signed: checked by pinning below
    });
    // Packets are written one frame at a time: Nagle's algorithm with delayed ACKs would hold
    // each for up to ~40 ms per hop, a delay the sender never chose.
    socket.setNoDelay(true);
    this.socket = socket;
    const handshakeTimer = setTimeout(() => socket.destroy(), this.handshakeTimeout);
    handshakeTimer.unref();

    const fail = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(handshakeTimer);
      socket.destroy();
      if (this.socket === socket) this.socket = undefined;
      if (failure === 'pin-mismatch') this.metrics.inc(LINK_COUNTERS.rejected, 'pin-mismatch');
      if (this.currentState === 'closed') return;
      this.emit('failed', failure);
      this.retry();
    };
    socket.on('error', () => undefined);
    socket.on('close', fail);
    socket.once('secureConnect', () => {
      const linkKey = linkKeyOf(socket.getPeerX509Certificate());
      if (linkKey === undefined || !sameLinkKey(linkKey, this.expected)) {
        failure = 'pin-mismatch';
        return fail();
      }
      // Pinned. The link is up once the listener's first frame says it accepted us.
      failure = 'not-accepted';
      socket.off('close', fail);
      let accepted = false;
      const link: FramedConnection = new FramedConnection(socket, this.limits, this.timing,
        (frame) => {
          if (frame.type === FRAME_PACKET) return 'unexpected-packet';
          if (!accepted && frame.type === FRAME_KEEPALIVE) {
            accepted = true;
            clearTimeout(handshakeTimer);
            settled = true;
            this.onUp(link);
          }
          return undefined;
        },
        (reason) => {
          if (this.link === link) this.link = undefined;
          if (this.socket === socket) this.socket = undefined;
          if (!accepted) return fail();
          this.metrics.inc(LINK_COUNTERS.disconnected, reason);
          if (this.currentState === 'closed') return;
          this.emit('down', reason);
          this.retry();
        });
      this.link = link;
    });
  }

  private onUp(link: FramedConnection): void {
    if (this.currentState === 'closed') return link.end('shutdown');
    this.failures = 0;
    this.currentState = 'up';
    link.socket.on('drain', () => this.flush());
    this.emit('up');
    this.flush();
  }

  private retry(): void {
    this.currentState = 'waiting';
    const base = Math.min(this.maxDelay, this.initialDelay * 2 ** Math.min(this.failures, 30));
    this.failures++;
    const delay = base * (0.5 + Math.random() / 2);
    this.retryTimer = setTimeout(() => this.dial(), delay);
    this.retryTimer.unref();
  }

  private flush(): void {
    const link = this.link;
    if (link === undefined || link.isEnded || this.currentState !== 'up') return;
    link.socket.cork();
    let room = true;
    let written = 0;
    while (room && this.head < this.queue.length) {
      // A run of frames side by side in a slab goes in one write (one copy into TLS, not one each).
      const run = joinAdjacent(this.queue, this.head, this.queue.length);
      room = link.write(run.bytes);
      written += run.end - this.head;
      this.head = run.end;
    }
    link.socket.uncork();
    if (written > 0) this.metrics.inc(LINK_COUNTERS.sent, '', written);
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}

/** Starts a dialer: it connects, pins, and reconnects with backoff until closed. */
export function connectLink(options: ConnectLinkOptions): LinkDialer {
  return new LinkDialer(options);
}
