import { EventEmitter } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { Admission } from './admission.js';
import { FramedConnection } from './framed-connection.js';
import { FRAME_PACKET, KEEPALIVE_FRAME, checkLimits, type FrameLimits } from './frames.js';
import { LINK_COUNTERS, LINK_DEFAULTS, linkTiming, positive, TLS_VERSIONS, type DisconnectReason, type LinkTiming, type RejectReason } from './link-settings.js';
import { NetMetrics } from './metrics.js';
import { answerProbe } from './throughput-probe.js';
import { linkKeyOf, tlsIdentity } from './tls-identity.js';

/**
 * The receiving end of node-to-node links (docs/links.md): a TLS 1.3 server that asks for the
 * peer's certificate, pins its Ed25519 link key against the consensus (`isKnownPeer`, no CA) and
 * hands each Sphinx packet it carries to `onPacket`. Links are one-way for packets: the listener
 * only receives them.
 */
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
  /**
   * Whether a key that is no peer's is a directory authority's probing this node's liveness
   * (docs/network.md, "Authority probes"): its handshake completes, then the connection is closed
   * at once, counted in `probes_answered` and not as a refusal.
   */
  readonly isProber?: (linkKey: Uint8Array) => boolean;
  readonly packetLength: number;
  /** Called once per packet, in arrival order per link. The packet is the receiver's to keep. */
  readonly onPacket: (packet: Uint8Array, peer: P) => void;
  readonly metrics?: NetMetrics;
  readonly maxFrameBytes?: number;
  readonly keepaliveMs?: number;
  readonly idleTimeoutMs?: number;
  readonly handshakeTimeoutMs?: number;
  /** Open connections from strangers in all (pinned peers' links are not counted). */
  readonly maxConnections?: number;
  /** Open connections from one source address (or IPv6 /64) before its handshake proves a pinned peer. */
  readonly maxConnectionsPerAddress?: number;
  /**
   * Whether a source address is a pinned peer's (from the consensus): such addresses get their own
   * slots, which strangers cannot fill.
   */
  readonly isPinnedAddress?: (address: string) => boolean;
}

export interface LinkListenerEvents<P> {
  /** A pinned, known peer's link is up. */
  accepted: [peer: P];
  /** An authority's probe was answered (its connection is then closed, or a throughput probe's answered). */
  probed: [];
  /** A throughput probe was answered with `bytes` (docs/links.md, "Probes"). */
  measured: [bytes: number];
  /** A connection was refused before carrying anything. */
  rejected: [reason: RejectReason];
  /** An accepted peer's link ended. */
  disconnected: [reason: DisconnectReason, peer: P];
}

/**
 * Connections of one probing authority held open at once (each for at most PROBE_REQUEST_WAIT_MS
 * plus PROBE_ANSWER_MS): one authority cannot take the slots of the others.
 */
const MAX_PROBE_ANSWERS_PER_AUTHORITY = 2;

export class LinkListener<P> extends EventEmitter<LinkListenerEvents<P>> {
  readonly metrics: NetMetrics;
  readonly linkKey: Uint8Array;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly admission: Admission;
  private readonly links = new Set<FramedConnection>();
  private readonly limits: FrameLimits;
  private readonly timing: LinkTiming;
  private closing: Promise<void> | undefined;
  private boundPort = 0;
  private reading = true;
  /** Open probing connections by the authority's link key (hex). */
  private readonly probeAnswers = new Map<string, number>();

  /** Use listenLinks(), which also waits until the port is bound. */
  constructor(private readonly options: ListenLinksOptions<P>) {
    super();
    this.metrics = options.metrics ?? new NetMetrics();
    this.limits = { packetLength: options.packetLength, maxFrameBytes: options.maxFrameBytes ?? LINK_DEFAULTS.maxFrameBytes };
    checkLimits(this.limits);
    this.timing = linkTiming(options);
    const identity = tlsIdentity(options.seed);
    this.linkKey = identity.linkKey;
    const handshakeTimeoutMs = positive('handshakeTimeoutMs', options.handshakeTimeoutMs ?? LINK_DEFAULTS.handshakeTimeoutMs);
    this.server = createServer({
      key: identity.key,
      cert: identity.cert,
      ...TLS_VERSIONS,
      requestCert: true,
      rejectUnauthorized: false, // self-signed peers: checked by pinning in onSecure
      handshakeTimeout: handshakeTimeoutMs,
    });
    this.admission = new Admission({
      maxTotal: options.maxConnections ?? LINK_DEFAULTS.maxConnections,
      maxPerAddress: options.maxConnectionsPerAddress ?? LINK_DEFAULTS.maxConnectionsPerAddress,
      handshakeTimeoutMs,
    }, {
      isReserved: (address) => options.isPinnedAddress?.(address) === true,
      onRefused: (reason) => this.reject(reason),
      onExpired: () => this.reject('handshake-failed'),
    });
    this.server.on('connection', (socket: Socket) => {
      if (this.closing !== undefined || !this.admission.admit(socket)) return;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    // Node neither destroys a socket whose handshake failed or timed out nor counts it against
    // anything: it is destroyed here.
    this.server.on('tlsClientError', (_error: Error, socket: TLSSocket) => {
      socket.destroy();
      this.reject('handshake-failed');
    });
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

  /** Stops (false) or resumes (true) reading packets from every link, new ones included: backpressure. */
  setReading(on: boolean): void {
    this.reading = on;
    for (const link of this.links) link.setReading(on);
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

  /** A probing authority's connection: closed, or answered once it asks for throughput; at most MAX_PROBE_ANSWERS_PER_AUTHORITY at a time. */
  private answerProber(socket: TLSSocket, linkKey: Uint8Array): void {
    const authority = Buffer.from(linkKey).toString('hex');
    const open = this.probeAnswers.get(authority) ?? 0;
    if (open >= MAX_PROBE_ANSWERS_PER_AUTHORITY) {
      socket.destroy();
      return;
    }
    this.probeAnswers.set(authority, open + 1);
    void answerProbe(socket).then((bytes) => {
      const left = (this.probeAnswers.get(authority) ?? 1) - 1;
      if (left === 0) this.probeAnswers.delete(authority);
      else this.probeAnswers.set(authority, left);
      if (bytes === 0) return;
      this.metrics.inc(LINK_COUNTERS.measured);
      this.emit('measured', bytes);
    });
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
    if (peer === undefined && this.options.isProber?.(linkKey) === true) {
      this.metrics.inc(LINK_COUNTERS.probed);
      this.emit('probed');
      this.answerProber(socket, linkKey);
      return;
    }
    if (peer === undefined) return refuse('unknown-peer');
    this.admission.established(socket);
    this.admission.promote(socket);

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
    if (!this.reading) link.setReading(false);
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
