import { hexOf, sameBytes, toBase64Url } from '../../codec/bytes.js';
import { getCrypto } from '../../crypto/index.js';
import type { Crypto } from '../../crypto/types.js';
import { DEFAULT_BANDWIDTH, encodeConsensus, epochAt, epochStart, findNode, sphinxKeyFor, type ConsensusDocument, type EpochTiming, type NodeRole } from '../../pki/index.js';
import { makeSuite, Sphinx, type UnwrapResult } from '../../sphinx/index.js';
import { MAX_TIMER_MS, systemClock, type Clock } from '../../net/clock.js';
import { listenLinks, type LinkListener } from '../../net/link-listener.js';
import { NetMetrics } from '../../net/metrics.js';
import { sameLinkKey, tlsIdentity } from '../../net/tls-identity.js';
import { NodeConfigError, nodeConfigProblems, setLinkOptions, type NodeConfig } from './config.js';
import { ConsensusTracker } from './consensus.js';
import { countedEventLog } from './counted-events.js';
import { ensureDir } from './files.js';
import { consensusGrace, GraceCheck } from './grace-check.js';
import { unwrapPacket } from './hop.js';
import { startStatusServer, type StatusServer } from './http.js';
import { SphinxKeyring } from './keyring.js';
import { NodeMetrics } from './metrics.js';
import { Peers } from './peers.js';
import { consensusReplaySizing } from './replay-sizing.js';
import { DescriptorPublisher } from './publisher.js';
import { IDENTITY_SEED_FILE, LINK_SEED_FILE, loadOrCreateSeed } from './seeds.js';
import type { NodeLog } from '../log.js';

/**
 * What every gateway, mix and provider shares (docs/nodes.md): identity and link seeds, the Sphinx
 * keyring, descriptor uploads, consensus polling, peers, the link listener, epoch timers and the
 * /metrics + /healthz listener. The role modules add what they do with packets.
 */
export interface NodeDeps {
  /** Default: the sodium backend. */
  readonly crypto?: Crypto;
  /** Default: the wall clock and Node timers. Tests pass a fake clock. */
  readonly clock?: Clock;
  /** One line per notable event, with its level (docs/nodes.md, "Logs"); never keys, addresses or payloads. Default: nothing. */
  readonly log?: NodeLog;
}

export interface NodeStatus {
  readonly role: NodeRole;
  readonly name: string;
  readonly layer: number;
  /** The node's current epoch (-1 before genesis). */
  readonly epoch: number;
  /** Epochs whose consensus document is held. */
  readonly consensusEpochs: readonly number[];
  /** Epochs whose Sphinx key is held. */
  readonly keyEpochs: readonly number[];
  /** Epochs whose descriptor every authority accepted. */
  readonly uploadedEpochs: readonly number[];
  /** Links from previous-layer nodes that are up. */
  readonly linkPeers: number;
  /** Dialers to next-layer nodes, and how many are up. */
  readonly dialers: { readonly total: number; readonly up: number };
  /** Packets in the mixing schedule (gateway, mix). */
  readonly scheduled?: number;
  /** Open client WebSockets (gateway, provider). */
  readonly clients?: number;
}

export interface NodeHandle {
  readonly role: NodeRole;
  readonly name: string;
  readonly layer: number;
  /** The node's ID: its Ed25519 identity public key. */
  readonly nodeId: Uint8Array;
  /** The Ed25519 link public key peers pin. */
  readonly linkKey: Uint8Array;
  /** The host published in the descriptor (and used in the URLs below). */
  readonly host: string;
  readonly linkPort: number;
  /** Gateway and provider: the client WebSocket port. */
  readonly wsPort: number | undefined;
  /** Gateway and provider: `wss://host:port` (TLS 1.3 with the link certificate). */
  readonly wsUrl: string | undefined;
  readonly metricsPort: number;
  /** `http://host:port/metrics`. */
  readonly metricsUrl: string;
  /** `http://host:port/healthz`. */
  readonly healthUrl: string;
  readonly metrics: NodeMetrics;
  status(): NodeStatus;
  /** Polls the authorities now (also done on the node's own schedule). */
  pollConsensus(): Promise<void>;
  /** Stops everything; keys and descriptors stay in the data directory for a restart. */
  close(): Promise<void>;
}

const WILDCARD = new Set(['0.0.0.0', '::', '[::]']);
/** The longest the epoch timer sleeps: a boundary is seen within this even when one long timer fires late (seen under load: a node missed a boundary and its descriptor upload). */
const EPOCH_CHECK_MS = 1_000;

function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export class NodeRuntime {
  readonly crypto: Crypto;
  readonly clock: Clock;
  readonly log: NodeLog;
  readonly timing: EpochTiming;
  readonly sphinx: Sphinx;
  readonly packetLength: number;
  readonly identitySeed: Uint8Array;
  readonly linkSeed: Uint8Array;
  readonly nodeId: Uint8Array;
  readonly linkKey: Uint8Array;
  readonly linkMetrics: NetMetrics;
  readonly metrics: NodeMetrics;
  readonly keyring: SphinxKeyring;
  readonly consensus: ConsensusTracker;
  readonly peers: Peers;
  /** Set by the role before listenLinks: what to do with a packet from a link (`peer`: the sending node's ID, hex). */
  onLinkPacket: (packet: Uint8Array, peer: string) => void = () => undefined;
  private publisher: DescriptorPublisher | undefined;
  private listener: LinkListener<string> | undefined;
  private statusServer: StatusServer | undefined;
  private readonly roleClosers: (() => Promise<void> | void)[] = [];
  private epochTimer: unknown;
  private lastEpoch: number;
  private closing: Promise<void> | undefined;
  private wsPort: number | undefined;
  private extraStatus: () => Partial<NodeStatus> = () => ({});

  /** Checks the configuration, loads the seeds and keys. Nothing listens yet. */
  constructor(
    readonly config: NodeConfig,
    deps: NodeDeps,
    role: NodeRole,
  ) {
    const problems = nodeConfigProblems(config);
    if (config.role !== role) problems.unshift(`role is "${String(config.role)}"; this starts a ${role}`);
    if (problems.length > 0) throw new NodeConfigError(problems);
    this.crypto = deps.crypto ?? getCrypto();
    this.clock = deps.clock ?? systemClock;
    this.log = deps.log ?? (() => undefined);
    this.timing = { genesisMs: config.genesisMs, epochMs: config.epochMs };
    this.sphinx = new Sphinx(makeSuite(config.suite, this.crypto), config.geometry);
    this.packetLength = this.sphinx.geometry.packetLength;
    ensureDir(config.dataDir);
    const identity = loadOrCreateSeed(this.crypto, config.dataDir, IDENTITY_SEED_FILE, config.identitySeed);
    const link = loadOrCreateSeed(this.crypto, config.dataDir, LINK_SEED_FILE, config.linkSeed);
    if (identity.created) this.log(`node: generated a new identity seed in ${IDENTITY_SEED_FILE}`);
    if (link.created) this.log(`node: generated a new link seed in ${LINK_SEED_FILE}`);
    this.identitySeed = identity.seed;
    this.linkSeed = link.seed;
    this.nodeId = this.crypto.ed25519PublicKey(this.identitySeed);
    this.linkKey = this.crypto.ed25519PublicKey(this.linkSeed);
    const counted = countedEventLog(this.log, () => this.clock.now());
    this.linkMetrics = new NetMetrics(counted.link);
    this.metrics = new NodeMetrics(this.linkMetrics, counted.node);
    const now = this.clock.now();
    this.lastEpoch = epochAt(now, this.timing);
    this.keyring = new SphinxKeyring({
      dataDir: config.dataDir,
      crypto: this.crypto,
      timing: this.timing,
      graceMs: config.graceMs,
      // The tracker is made below; before that (keys restored at start) no document is held.
      neededGraceMs: consensusGrace(config.epochMs, (epoch) => (this.consensus as ConsensusTracker | undefined)?.get(epoch)),
      replaySizing: consensusReplaySizing(config, (epoch) => (this.consensus as ConsensusTracker | undefined)?.get(epoch)),
      metrics: this.metrics,
      log: this.log,
    });
    this.keyring.load(now);
    this.peers = new Peers({
      layer: config.layer,
      loopReturns: role === 'mix' || role === 'provider',
      linkSeed: this.linkSeed,
      packetLength: this.packetLength,
      linkMetrics: this.linkMetrics,
      link: config.link,
      log: this.log,
    });
    const grace = new GraceCheck(config.graceMs, config.epochMs, this.metrics, this.log);
    this.consensus = new ConsensusTracker({
      crypto: this.crypto,
      clock: this.clock,
      timing: this.timing,
      suite: config.suite,
      geometry: config.geometry,
      authorityUrls: config.authorityUrls,
      authorities: config.authorities,
      pollMs: config.consensusPollMs,
      metrics: this.metrics,
      log: this.log,
      onChange: (doc) => {
        grace.check(doc.mixing);
        this.onConsensus(doc);
      },
    });
    const metrics = this.metrics;
    metrics.gauge('node_epoch', "The node's current epoch (-1 before genesis).", () => epochAt(this.clock.now(), this.timing));
    metrics.gauge('node_consensus_epoch', 'The newest epoch whose consensus document is held (-1 if none).', () => Math.max(-1, ...this.consensus.epochs()));
    metrics.gauge('node_sphinx_keys', 'Sphinx keys held (current, next, and the previous one during grace).', () => this.keyring.epochs().length);
    metrics.gauge('node_link_peers', 'Links from previous-layer nodes that are up.', () => this.listener?.connectedPeers ?? 0);
    metrics.gauge('node_dialers_up', 'Links to next-layer nodes that are up.', () => this.peers.dialerCounts.up);
  }

  /** Unwraps one packet under the epoch keys (drops are counted). */
  unwrap(packet: Uint8Array): UnwrapResult | undefined {
    return unwrapPacket(this, packet);
  }

  /** Stops (false) or resumes (true) reading packets from previous-layer nodes (backpressure). */
  setLinkReading(on: boolean): void {
    this.listener?.setReading(on);
  }

  /** Role-specific shutdown steps, run before the shared ones (listeners, dialers, keys). */
  onClose(closer: () => Promise<void> | void): void {
    this.roleClosers.push(closer);
  }

  /** Binds the link listener (previous-layer nodes only, pinned from the consensus). */
  async listenLinks(): Promise<number> {
    const { config } = this;
    this.listener = await listenLinks<string>({
      host: config.host,
      port: config.linkPort,
      seed: this.linkSeed,
      isKnownPeer: this.peers.isKnownPeer,
      isProber: (linkKey) => config.authorities.some((key) => sameLinkKey(key, linkKey)),
      isPinnedAddress: this.peers.isPinnedAddress,
      packetLength: this.packetLength,
      maxFrameBytes: this.packetLength + 1,
      metrics: this.linkMetrics,
      onPacket: (packet, peer) => {
        this.metrics.count('node_packets_in_total');
        this.onLinkPacket(packet, peer);
      },
      ...setLinkOptions(config.link, ['keepaliveMs', 'idleTimeoutMs', 'handshakeTimeoutMs', 'maxConnections', 'maxConnectionsPerAddress']),
    });
    this.listener.on('accepted', (peer) => this.log(`node: link from ${peer} is up`));
    this.listener.on('disconnected', (reason, peer) => this.log(`node: link from ${peer} is down (${reason})`, reason === 'shutdown' ? 'info' : 'warn'));
    return this.listener.port;
  }

  /** Starts the status listener, descriptor uploads, consensus polls and the epoch timer. */
  async start(options: { wsPort?: number; status?: () => Partial<NodeStatus> } = {}): Promise<void> {
    if (this.listener === undefined) throw new Error('listenLinks() first');
    this.wsPort = options.wsPort;
    if (options.status !== undefined) this.extraStatus = options.status;
    const { config } = this;
    this.statusServer = await startStatusServer({
      host: config.metricsHost, port: config.metricsPort, metrics: this.metrics,
      ...(config.metricsToken === undefined ? {} : { token: config.metricsToken }),
      health: () => this.health(),
      consensus: (which) => {
        const doc = which === 'current' ? this.consensus.get(epochAt(this.clock.now(), this.timing)) : this.consensus.get(which);
        return doc === undefined ? undefined : encodeConsensus(doc);
      },
      tls: tlsIdentity(this.linkSeed), // the mirror answers over TLS with the link certificate (mirrorUrlOf)
      log: this.log,
    });
    const advertised = urlHost(config.advertiseHost);
    this.publisher = new DescriptorPublisher({
      crypto: this.crypto,
      clock: this.clock,
      timing: this.timing,
      dataDir: config.dataDir,
      identitySeed: this.identitySeed,
      name: config.name, role: config.role, layer: config.layer,
      bandwidth: config.bandwidth ?? DEFAULT_BANDWIDTH,
      family: config.family ?? `node-${hexOf(this.nodeId).slice(0, 16)}`,
      addresses: {
        link: `${advertised}:${this.listener.port}`,
        ...(this.wsPort === undefined ? {} : { ws: `${advertised}:${this.wsPort}` }),
      },
      linkPublicKey: this.linkKey,
      keyring: this.keyring,
      authorityUrls: config.authorityUrls,
      authorities: config.authorities,
      metrics: this.metrics,
      log: this.log,
    });
    const now = this.clock.now();
    this.publisher.start(now);
    this.consensus.start();
    this.armEpochTimer();
    this.log(`node: ${config.role} "${config.name}" listening (link ${this.listener.port}${this.wsPort === undefined ? '' : `, ws ${this.wsPort}`}, metrics ${this.statusServer.port}), epoch ${this.lastEpoch}`);
  }

  status(): NodeStatus {
    return {
      role: this.config.role,
      name: this.config.name,
      layer: this.config.layer,
      epoch: epochAt(this.clock.now(), this.timing),
      consensusEpochs: this.consensus.epochs(),
      keyEpochs: this.keyring.epochs(),
      uploadedEpochs: this.publisher?.uploadedEpochs() ?? [],
      linkPeers: this.listener?.connectedPeers ?? 0,
      dialers: this.peers.dialerCounts,
      ...this.extraStatus(),
    };
  }

  handle(): NodeHandle {
    const { config } = this;
    const host = urlHost(config.advertiseHost);
    const metricsPort = this.statusServer?.port ?? 0;
    const metricsHost = WILDCARD.has(config.metricsHost) ? host : urlHost(config.metricsHost);
    return {
      role: config.role,
      name: config.name,
      layer: config.layer,
      nodeId: this.nodeId,
      linkKey: this.linkKey,
      host: config.advertiseHost,
      linkPort: this.listener?.port ?? 0,
      wsPort: this.wsPort,
      wsUrl: this.wsPort === undefined ? undefined : `wss://${host}:${this.wsPort}`,
      metricsPort,
      metricsUrl: `http://${metricsHost}:${metricsPort}/metrics`,
      healthUrl: `http://${metricsHost}:${metricsPort}/healthz`,
      metrics: this.metrics,
      status: () => this.status(),
      pollConsensus: () => this.consensus.poll(),
      close: () => this.close(),
    };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.epochTimer !== undefined) this.clock.clearTimer(this.epochTimer);
      this.epochTimer = undefined;
      this.publisher?.close();
      this.consensus.close();
      const steps: (() => Promise<void> | void)[] = [
        () => this.listener?.close(),
        ...this.roleClosers,
        () => this.peers.close(),
        () => this.statusServer?.close(),
        () => this.keyring.close(),
      ];
      for (const step of steps) {
        try {
          await step();
        } catch (error) {
          this.log(`node: error while closing: ${error instanceof Error ? error.message : String(error)}`, 'error');
        }
      }
      this.log(`node: ${this.config.role} "${this.config.name}" closed`);
    })();
    return this.closing;
  }

  private health(): Record<string, unknown> {
    const status = this.status();
    const held = status.consensusEpochs;
    const state = status.epoch < 0 ? 'waiting-for-genesis' : held.includes(status.epoch) ? 'ok' : held.length === 0 ? 'starting' : 'degraded';
    return { status: state, nodeId: toBase64Url(this.nodeId), ...status };
  }

  private onConsensus(doc: ConsensusDocument): void {
    this.peers.update(this.consensus.held());
    const self = findNode(doc, this.nodeId);
    const problem = (name: string, detail: string): void => {
      this.metrics.count('node_consensus_self_problems_total', { problem: name });
      this.log(`node: the consensus for epoch ${doc.epoch} ${detail}`, 'warn');
    };
    if (self === undefined) return problem('missing', 'does not list this node');
    if (!sameBytes(self.linkPublicKey, this.linkKey)) problem('link-key', 'lists another link key for this node');
    if (self.role !== this.config.role || self.layer !== this.config.layer) problem('role', 'lists this node with another role or layer');
    if (this.keyring.has(doc.epoch) && !sameBytes(sphinxKeyFor(self, doc.epoch) ?? new Uint8Array(0), this.keyring.publicKey(doc.epoch))) {
      problem('sphinx-key', "lists another Sphinx key for this node (packets built from it cannot be unwrapped here)");
    }
    const expectedLink = `${urlHost(this.config.advertiseHost)}:${this.listener?.port ?? 0}`;
    if (self.addresses.link !== expectedLink) problem('address', 'lists another link address for this node');
  }

  private armEpochTimer(): void {
    const now = this.clock.now();
    const current = epochAt(now, this.timing);
    const at = Math.min(epochStart(current + 1, this.timing), this.keyring.graceEnd(now) ?? Number.POSITIVE_INFINITY, now + EPOCH_CHECK_MS);
    this.epochTimer = this.clock.setTimer(() => this.onTimer(), Math.min(MAX_TIMER_MS, Math.max(0, at - now)));
  }

  private onTimer(): void {
    this.epochTimer = undefined;
    if (this.closing !== undefined) return;
    const now = this.clock.now();
    const current = epochAt(now, this.timing);
    try {
      this.keyring.rotate(now);
      if (current !== this.lastEpoch) {
        this.lastEpoch = current;
        this.log(`node: epoch ${current} begins`);
        this.publisher?.onEpoch(now);
        this.consensus.onEpoch(now);
        this.peers.update(this.consensus.held(now));
      }
    } catch (error) {
      this.log(`node: epoch work failed: ${error instanceof Error ? error.message : String(error)}`, 'error');
    }
    this.armEpochTimer();
  }
}
