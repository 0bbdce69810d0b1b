/**
 * Node-to-node links: TLS 1.3 with both certificates presented and checked by pinning the peer's
 * Ed25519 link key from the consensus (no CA), carrying length-prefixed frames (frames.ts). A link
 * is one-way for packets: the dialer sends Sphinx packets, the listener receives them. Both ends send
 * keepalives when idle and drop a link that has been silent too long. docs/links.md is the reference.
 */
import { timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import { FRAME_KEEPALIVE, FRAME_PACKET, FrameDecoder, FrameError, KEEPALIVE_FRAME, checkLimits, encodeFrame, type Frame, type FrameLimits } from './frames.js';
import { LinkMetrics } from './metrics.js';
import { linkKeyOf, tlsIdentity } from './tls-identity.js';

export const LINK_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  /** Largest frame `length` accepted (type byte + body). */
  maxFrameBytes: 16 * 1024,
  keepaliveMs: 15_000,
  idleTimeoutMs: 60_000,
  handshakeTimeoutMs: 10_000,
  maxConnections: 1024,
  maxQueuedPackets: 1024,
  reconnectInitialMs: 100,
  reconnectMaxMs: 30_000,
});

/** Names of the counters this module increments (reasons in docs/links.md). */
export const LINK_COUNTERS = Object.freeze({
  accepted: 'connections_accepted',
  rejected: 'connections_rejected',
  disconnected: 'peers_disconnected',
  received: 'packets_received',
  sent: 'packets_sent',
  dropped: 'packets_dropped',
  handlerErrors: 'packet_handler_errors',
  dials: 'dial_attempts',
});

/** Why a connection was refused before it carried any packet. */
export type RejectReason = 'handshake-failed' | 'no-certificate' | 'not-ed25519' | 'unknown-peer' | 'pin-mismatch' | 'too-many-connections';

/** Why an established link ended. */
export type DisconnectReason =
  | FrameError['reason'] | 'unexpected-packet' | 'idle-timeout' | 'peer-closed' | 'socket-error' | 'shutdown';

interface Timing {
  readonly keepaliveMs: number;
  readonly idleTimeoutMs: number;
}

const TLS_VERSIONS = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;

/** Constant-time equality of two link keys (their length is public). */
export function sameLinkKey(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * An `isKnownPeer` for a fixed list (e.g. the consensus entries a node accepts links from): compares
 * the key with every entry in constant time and without stopping early.
 */
export function pinnedPeers<P>(entries: Iterable<{ readonly linkKey: Uint8Array; readonly peer: P }>): (linkKey: Uint8Array) => P | undefined {
  const list = [...entries].map((e) => ({ linkKey: new Uint8Array(e.linkKey), peer: e.peer }));
  return (linkKey) => {
    let found: P | undefined;
    for (const entry of list) if (sameLinkKey(entry.linkKey, linkKey) && found === undefined) found = entry.peer;
    return found;
  };
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${name} must be positive, got ${value}`);
  return value;
}

/** A TLS socket carrying frames, with keepalives and an idle timeout. Shared by both ends. */
class FramedConnection {
  private readonly decoder: FrameDecoder;
  private readonly timer: NodeJS.Timeout;
  private lastReceived = Date.now();
  private lastSent = Date.now();
  private ended = false;

  constructor(
    readonly socket: TLSSocket,
    limits: FrameLimits,
    private readonly timing: Timing,
    private readonly onFrame: (frame: Frame) => DisconnectReason | undefined,
    private readonly onEnd: (reason: DisconnectReason) => void,
  ) {
    this.decoder = new FrameDecoder(limits);
    const tick = Math.max(10, Math.min(timing.keepaliveMs, timing.idleTimeoutMs) / 2);
    this.timer = setInterval(() => this.onTick(), tick);
    this.timer.unref();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.end('socket-error'));
    socket.on('close', () => this.end('peer-closed'));
  }

  /** Writes one encoded frame; false when the socket's buffer is full (wait for 'drain'). */
  write(frame: Uint8Array): boolean {
    this.lastSent = Date.now();
    return this.socket.write(frame);
  }

  end(reason: DisconnectReason): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.timer);
    this.socket.destroy();
    this.onEnd(reason);
  }

  get isEnded(): boolean {
    return this.ended;
  }

  private onData(chunk: Buffer): void {
    if (this.ended) return;
    this.lastReceived = Date.now();
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (error) {
      if (error instanceof FrameError) return this.end(error.reason);
      throw error;
    }
    for (const frame of frames) {
      const violation = this.onFrame(frame);
      if (violation !== undefined) return this.end(violation);
      if (this.ended) return;
    }
  }

  private onTick(): void {
    const now = Date.now();
    if (now - this.lastReceived >= this.timing.idleTimeoutMs) return this.end('idle-timeout');
    if (now - this.lastSent >= this.timing.keepaliveMs) this.write(KEEPALIVE_FRAME);
  }
}

// ---------------------------------------------------------------------------------------------
// Listening side

export interface ListenLinksOptions<P> {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0: an ephemeral port (read it from the result). */
  readonly port?: number;
  /** This node's 32-byte Ed25519 link seed. */
  readonly seed: Uint8Array;
  /**
   * Answers from the consensus whether a peer with this raw link key may send to this node (and
   * who it is); undefined refuses it. Gateways and providers accept only the adjacent layer.
   */
  readonly isKnownPeer: (linkKey: Uint8Array) => P | undefined;
  readonly packetLength: number;
  /** Called once per packet, in arrival order per link. The packet is the receiver's to keep. */
  readonly onPacket: (packet: Uint8Array, peer: P) => void;
  readonly metrics?: LinkMetrics;
  readonly maxFrameBytes?: number;
  readonly keepaliveMs?: number;
  readonly idleTimeoutMs?: number;
  readonly handshakeTimeoutMs?: number;
  readonly maxConnections?: number;
}

export interface LinkListenerEvents<P> {
  /** A pinned, known peer's link is up. */
  accepted: [peer: P];
  /** A connection was refused before carrying anything. */
  rejected: [reason: RejectReason];
  /** An accepted peer's link ended. */
  disconnected: [reason: DisconnectReason, peer: P];
}

export class LinkListener<P> extends EventEmitter<LinkListenerEvents<P>> {
  readonly metrics: LinkMetrics;
  readonly linkKey: Uint8Array;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly links = new Set<FramedConnection>();
  private readonly limits: FrameLimits;
  private readonly timing: Timing;
  private closing: Promise<void> | undefined;
  private boundPort = 0;

  /** Use listenLinks(), which also waits until the port is bound. */
  constructor(private readonly options: ListenLinksOptions<P>) {
    super();
    this.metrics = options.metrics ?? new LinkMetrics();
    this.limits = { packetLength: options.packetLength, maxFrameBytes: options.maxFrameBytes ?? LINK_DEFAULTS.maxFrameBytes };
    checkLimits(this.limits);
    this.timing = {
      keepaliveMs: positive('keepaliveMs', options.keepaliveMs ?? LINK_DEFAULTS.keepaliveMs),
      idleTimeoutMs: positive('idleTimeoutMs', options.idleTimeoutMs ?? LINK_DEFAULTS.idleTimeoutMs),
    };
    const identity = tlsIdentity(options.seed);
    this.linkKey = identity.linkKey;
    this.server = createServer({
      key: identity.key,
      cert: identity.cert,
      ...TLS_VERSIONS,
      requestCert: true,
      rejectUnauthorized: false, // self-signed peers: checked by pinning in onSecure
      handshakeTimeout: positive('handshakeTimeoutMs', options.handshakeTimeoutMs ?? LINK_DEFAULTS.handshakeTimeoutMs),
    });
    this.server.maxConnections = options.maxConnections ?? LINK_DEFAULTS.maxConnections;
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server.on('drop', () => this.reject('too-many-connections'));
    this.server.on('tlsClientError', () => this.reject('handshake-failed'));
    this.server.on('secureConnection', (socket: TLSSocket) => this.onSecure(socket));
  }

  get port(): number {
    return this.boundPort;
  }

  get host(): string {
    return this.options.host ?? LINK_DEFAULTS.host;
  }

  /** Accepted links currently up. */
  get connectedPeers(): number {
    return this.links.size;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, this.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.boundPort = (this.server.address() as AddressInfo).port;
  }

  /** Stops listening and drops every link (counted as 'shutdown'). */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const link of [...this.links]) link.end('shutdown');
      for (const socket of this.sockets) socket.destroy();
    });
    return this.closing;
  }

  private reject(reason: RejectReason): void {
    this.metrics.inc(LINK_COUNTERS.rejected, reason);
    this.emit('rejected', reason);
  }

  private onSecure(socket: TLSSocket): void {
    socket.on('error', () => undefined); // a refused socket may still report a reset
    socket.setNoDelay(true); // see the dialer: no Nagle delay on packet frames
    const cert = socket.getPeerX509Certificate();
    const refuse = (reason: RejectReason): void => {
      socket.destroy();
      this.reject(reason);
    };
    if (cert === undefined) return refuse('no-certificate');
    const linkKey = linkKeyOf(cert);
    if (linkKey === undefined) return refuse('not-ed25519');
    const peer = this.options.isKnownPeer(linkKey);
    if (peer === undefined) return refuse('unknown-peer');

    const link: FramedConnection = new FramedConnection(socket, this.limits, this.timing,
      (frame) => {
        if (frame.type !== FRAME_PACKET) return undefined;
        this.metrics.inc(LINK_COUNTERS.received);
        try {
          this.options.onPacket(frame.body, peer);
        } catch {
          this.metrics.inc(LINK_COUNTERS.handlerErrors);
        }
        return undefined;
      },
      (reason) => {
        this.links.delete(link);
        this.metrics.inc(LINK_COUNTERS.disconnected, reason);
        this.emit('disconnected', reason, peer);
      });
    this.links.add(link);
    this.metrics.inc(LINK_COUNTERS.accepted);
    link.write(KEEPALIVE_FRAME); // the dialer's sign that it was accepted
    this.emit('accepted', peer);
  }
}

/** Listens for links; resolves once the port is bound. */
export async function listenLinks<P>(options: ListenLinksOptions<P>): Promise<LinkListener<P>> {
  const listener = new LinkListener(options);
  await listener.listen();
  return listener;
}

// ---------------------------------------------------------------------------------------------
// Dialing side

export interface ConnectLinkOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  readonly port: number;
  /** The raw Ed25519 link key the consensus publishes for the node dialled. */
  readonly expectedLinkKey: Uint8Array;
  /** This node's 32-byte Ed25519 link seed (its client certificate). */
  readonly seed: Uint8Array;
  readonly packetLength: number;
  readonly metrics?: LinkMetrics;
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
  readonly metrics: LinkMetrics;
  private readonly identity: { key: string; cert: string };
  private readonly expected: Uint8Array;
  private readonly limits: FrameLimits;
  private readonly timing: Timing;
  private readonly maxQueued: number;
  private readonly initialDelay: number;
  private readonly maxDelay: number;
  private readonly handshakeTimeout: number;
  private queue: Buffer[] = [];
  private head = 0;
  private link: FramedConnection | undefined;
  private socket: TLSSocket | undefined;
  private currentState: LinkState = 'connecting';
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ConnectLinkOptions) {
    super();
    this.metrics = options.metrics ?? new LinkMetrics();
    const identity = tlsIdentity(options.seed);
    this.identity = { key: identity.key, cert: identity.cert };
    this.expected = new Uint8Array(options.expectedLinkKey);
    if (this.expected.length !== 32) throw new RangeError('expectedLinkKey must be 32 bytes');
    this.limits = { packetLength: options.packetLength, maxFrameBytes: options.maxFrameBytes ?? LINK_DEFAULTS.maxFrameBytes };
    checkLimits(this.limits);
    this.timing = {
      keepaliveMs: positive('keepaliveMs', options.keepaliveMs ?? LINK_DEFAULTS.keepaliveMs),
      idleTimeoutMs: positive('idleTimeoutMs', options.idleTimeoutMs ?? LINK_DEFAULTS.idleTimeoutMs),
    };
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
    this.queue.push(encodeFrame(FRAME_PACKET, packet));
    if (this.currentState === 'up') this.flush();
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
      key: this.identity.key,
      cert: this.identity.cert,
      ...TLS_VERSIONS,
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
      room = link.write(this.queue[this.head]);
      this.head++;
      written++;
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
