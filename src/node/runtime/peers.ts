import { hexOf } from '../../codec/bytes.js';
import { PROVIDER_LAYER, parseHostPort, type ConsensusDocument } from '../../pki/index.js';
import { addressKey } from '../../net/admission.js';
import { connectLink, type LinkDialer } from '../../net/link-dialer.js';
import type { NetMetrics } from '../../net/metrics.js';
import { pinnedPeers } from '../../net/tls-identity.js';
import { setLinkOptions, type NodeLinkOptions } from './config.js';
import type { NodeLog } from '../log.js';

/**
 * Who a node talks to, from the consensus documents it holds (docs/nodes.md, "Peers"):
 * - links in: only the nodes of the previous layer, pinned by their link keys (a gateway accepts
 *   nobody; layer 1 accepts gateways; the provider accepts layer 3);
 * - links out: one LinkDialer per node of the next layer, by node ID, created when the first packet
 *   for it is released, closed when the node leaves every document held or changes its link
 *   address or key.
 * - mix loops come back from a provider to the mix that sent them (docs/network.md, "Mix loops"):
 *   a provider may also send to mixes of every layer, and a mix also accepts providers.
 * The union of the documents held (previous, current, next epoch) is used, so links keep working
 * across an epoch boundary.
 */
export interface NextHop {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly linkKey: Uint8Array;
}

export interface PeersOptions {
  readonly layer: number;
  /** A mix or a provider: mix loops return from providers (layer 4) to mixes (layers 1..3). */
  readonly loopReturns?: boolean;
  readonly linkSeed: Uint8Array;
  readonly packetLength: number;
  readonly linkMetrics: NetMetrics;
  readonly link: NodeLinkOptions;
  readonly log: NodeLog;
}

interface Dialing {
  readonly dialer: LinkDialer;
  readonly key: string;
}

/** What identifies a next hop's endpoint: a change means a new dialer. */
function endpointKey(hop: NextHop): string {
  return `${hop.host}|${hop.port}|${hexOf(hop.linkKey)}`;
}

export class Peers {
  private known: (linkKey: Uint8Array) => string | undefined = () => undefined;
  private pinnedAddresses = new Set<string>();
  private next = new Map<string, NextHop>();
  private readonly dialers = new Map<string, Dialing>();
  private closed = false;

  constructor(private readonly options: PeersOptions) {}

  /** For listenLinks: the peer's node ID (hex) when it may send to this node. */
  readonly isKnownPeer = (linkKey: Uint8Array): string | undefined => this.known(linkKey);

  /**
   * For listenLinks: whether a source address is a previous-layer node's published link host (it
   * gets reserved slots). Only addresses compare: a node published by host name gets none.
   */
  readonly isPinnedAddress = (address: string): boolean => this.pinnedAddresses.has(address);

  /** Rebuilds both lists from the documents held, most relevant first (current, next, previous). */
  update(docs: readonly ConsensusDocument[]): void {
    const { layer } = this.options;
    const returns = this.options.loopReturns === true;
    const isMixLayer = (l: number): boolean => l >= 1 && l <= 3;
    const isPrevious = (other: number): boolean => other === layer - 1 || (returns && isMixLayer(layer) && other === PROVIDER_LAYER);
    const isNext = (other: number): boolean => other === layer + 1 || (returns && layer === PROVIDER_LAYER && isMixLayer(other));
    const inbound = new Map<string, { linkKey: Uint8Array; peer: string }>();
    const next = new Map<string, NextHop>();
    const pinnedAddresses = new Set<string>();
    for (const doc of docs) {
      for (const node of doc.nodes) {
        const id = hexOf(node.nodeId);
        if (isPrevious(node.layer)) {
          const keyHex = hexOf(node.linkPublicKey);
          if (!inbound.has(keyHex)) inbound.set(keyHex, { linkKey: node.linkPublicKey, peer: id });
          const address = parseHostPort(node.addresses.link);
          if (address !== undefined) pinnedAddresses.add(addressKey(address.host));
        }
        // Not `else`: a layer-3 mix's providers are both (mail goes to them, loops come back from them).
        if (isNext(node.layer) && !next.has(id)) {
          const address = parseHostPort(node.addresses.link);
          if (address !== undefined) next.set(id, { name: node.name, host: address.host, port: address.port, linkKey: node.linkPublicKey });
        }
      }
    }
    this.known = pinnedPeers(inbound.values());
    this.pinnedAddresses = pinnedAddresses;
    this.next = next;
    for (const [id, dialing] of [...this.dialers]) {
      const hop = next.get(id);
      if (hop === undefined || endpointKey(hop) !== dialing.key) {
        dialing.dialer.close();
        this.dialers.delete(id);
      }
    }
  }

  /** The node ID (hex) of a next-layer node, or undefined when no document lists it there. */
  nextHop(nodeId: Uint8Array): string | undefined {
    const id = hexOf(nodeId);
    return this.next.has(id) ? id : undefined;
  }

  /** The dialer toward a next-layer node (created on first use), or undefined if it is unknown. */
  dialer(id: string): LinkDialer | undefined {
    if (this.closed) return undefined;
    const existing = this.dialers.get(id);
    if (existing !== undefined) return existing.dialer;
    const hop = this.next.get(id);
    if (hop === undefined) return undefined;
    const dialer = connectLink({
      host: hop.host,
      port: hop.port,
      expectedLinkKey: hop.linkKey,
      seed: this.options.linkSeed,
      packetLength: this.options.packetLength,
      maxFrameBytes: this.options.packetLength + 1,
      metrics: this.options.linkMetrics,
      ...setLinkOptions(this.options.link, ['maxQueuedPackets', 'reconnectInitialMs', 'reconnectMaxMs', 'keepaliveMs', 'idleTimeoutMs', 'handshakeTimeoutMs']),
    });
    dialer.on('up', () => this.options.log(`node: link to ${hop.name} is up`));
    dialer.on('down', (reason) => {
      if (reason !== 'shutdown') this.options.log(`node: link to ${hop.name} is down (${reason}); reconnecting`, 'warn');
    });
    this.dialers.set(id, { dialer, key: endpointKey(hop) });
    return dialer;
  }

  /** Dialers open, and how many of them are up. */
  get dialerCounts(): { total: number; up: number } {
    let up = 0;
    for (const { dialer } of this.dialers.values()) if (dialer.state === 'up') up++;
    return { total: this.dialers.size, up };
  }

  close(): void {
    this.closed = true;
    for (const { dialer } of this.dialers.values()) dialer.close();
    this.dialers.clear();
  }
}
