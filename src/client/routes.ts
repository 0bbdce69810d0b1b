import { hexOf } from '../codec/bytes.js';
import type { RandomSource } from '../crypto/seeded-random.js';
import type { WebSocketTarget } from '../net/websocket.js';
import { delayMs } from '../mixing/exponential.js';
import {
  choosePath,
  consensusWeights,
  GATEWAY_LAYER,
  PathChoiceError,
  pathLayers,
  PROVIDER_LAYER,
  sphinxKeyFor,
  type ConsensusDocument,
  type ConsensusWeights,
  type NodeDescriptor,
  type PathLayers,
} from '../pki/index.js';
import type { HopCommand } from '../sphinx/commands.js';
import type { PathHop } from '../sphinx/sphinx.js';

/**
 * Paths through the network of one consensus (docs/client.md, "Paths"): one mix of each layer 1..3,
 * chosen per packet with probability proportional to bandwidth × reliability score, mixes below the
 * consensus reliability floor left out (docs/network.md, "Path choice") → a provider. The gateway is no Sphinx hop: it forwards the
 * packet to the path's layer-1 mix (src/wire/gateway-frame.ts), so a SURB's path starts at a layer-1
 * mix and any gateway can carry its reply. No two nodes of a path share a family (operator), nor
 * with the gateway that will carry it when that is known; on high alert the suspect mixes are left
 * out (`avoid`). Every mix holds the packet for
 * an exponential delay the sender draws (delayMs, the consensus mean and cap).
 */
export class RouteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RouteError';
  }
}

/** A uniform integer in 0 .. n − 1 (rejection sampling over 32 bits: no modulo bias). */
export function uniformIndex(random: RandomSource, n: number): number {
  if (!Number.isSafeInteger(n) || n < 1 || n > 2 ** 32) throw new RangeError(`uniformIndex: ${n}`);
  const limit = Math.floor(2 ** 32 / n) * n;
  for (;;) {
    const bytes = random(4);
    const value = ((bytes[0] << 24) >>> 0) + (bytes[1] << 16) + (bytes[2] << 8) + bytes[3];
    if (value < limit) return value % n;
  }
}

export function pick<T>(random: RandomSource, list: readonly T[]): T {
  if (list.length === 0) throw new RouteError('nothing to choose from');
  return list[uniformIndex(random, list.length)];
}

/**
 * The provider a card's servers name: the first server entry equal (ASCII case-insensitively) to
 * the WebSocket address ("host:port") a provider of the consensus publishes. Its reliability score
 * is not consulted: the card's owner reads its mailbox at this one provider only, so mail sent to
 * another would not be read (docs/network.md, "Path choice").
 */
export function providerForServers(doc: Pick<ConsensusDocument, 'nodes'>, servers: readonly string[]): NodeDescriptor | undefined {
  const providers = doc.nodes.filter((node) => node.layer === PROVIDER_LAYER && node.addresses.ws !== undefined);
  for (const server of servers) {
    const wanted = server.trim().toLowerCase();
    const found = providers.find((node) => node.addresses.ws!.toLowerCase() === wanted);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Where a client connects to a gateway or provider: "wss://host:port" of its client listener and the
 * link key its descriptor publishes, which the server's TLS certificate must carry.
 */
export function wsTarget(node: NodeDescriptor): WebSocketTarget {
  if (node.addresses.ws === undefined) throw new RouteError(`node ${node.name} has no WebSocket address`);
  return { url: `wss://${node.addresses.ws}`, linkKey: node.linkPublicKey };
}

export function nodeKey(node: NodeDescriptor): string {
  return hexOf(node.nodeId);
}

/** The consensus a client routes with: the document and its nodes by layer. */
export class Network {
  readonly layers: PathLayers;

  /** Each node's weight (bandwidth × score) and whether it is below the floor, from `doc`. */
  readonly weights: ConsensusWeights;

  /** `avoid`: node IDs (hex) to leave out of paths where their layer allows (suspected nodes). */
  constructor(
    readonly doc: ConsensusDocument,
    readonly avoid: ReadonlySet<string> = new Set(),
  ) {
    this.layers = pathLayers(doc);
    this.weights = consensusWeights(doc);
  }

  get gateways(): readonly NodeDescriptor[] {
    return this.layers[GATEWAY_LAYER];
  }

  get providers(): readonly NodeDescriptor[] {
    return this.layers[PROVIDER_LAYER];
  }

  findById(nodeId: Uint8Array): NodeDescriptor | undefined {
    const key = hexOf(nodeId);
    return this.doc.nodes.find((node) => hexOf(node.nodeId) === key);
  }

  findByKey(key: string): NodeDescriptor | undefined {
    return this.doc.nodes.find((node) => hexOf(node.nodeId) === key);
  }

  /**
   * The four hops mix 1 → mix 2 → mix 3 → provider for `epoch`: delays on the mixes, `last` on the
   * provider. `gateway` is the one that will carry the packet (its family is kept off the path), or
   * undefined for a SURB, which the recipient's own gateway will carry. RouteError when a node has
   * no Sphinx key for the epoch (a stale consensus).
   */
  path(random: RandomSource, epoch: number, gateway: NodeDescriptor | undefined, provider: NodeDescriptor, last: readonly HopCommand[], avoid?: ReadonlySet<string>): PathHop[] {
    const { meanDelayMs, maxDelayMs } = this.doc.mixing;
    const nodes = [...this.mixesFor(random, gateway, provider, avoid), provider];
    return nodes.map((node, i) => {
      const publicKey = sphinxKeyFor(node, epoch);
      if (publicKey === undefined) throw new RouteError(`the consensus of epoch ${this.doc.epoch} has no key of ${node.name} for epoch ${epoch}`);
      const commands: readonly HopCommand[] = i < nodes.length - 1 ? [{ type: 'delay', delayMs: delayMs(random, meanDelayMs, maxDelayMs) }] : last;
      return { id: node.nodeId, publicKey, commands };
    });
  }

  /**
   * One mix of each layer 1..3 by choosePath (src/pki/path-choice.ts): weighted by bandwidth ×
   * reliability score, below-floor and avoided mixes left out where their layer allows, no two of
   * one family nor of the gateway's (when given) or the provider's (the gateway and the provider
   * may share one). RouteError when the consensus has no such path.
   */
  private mixesFor(random: RandomSource, gateway: NodeDescriptor | undefined, provider: NodeDescriptor, avoid?: ReadonlySet<string>): NodeDescriptor[] {
    // A gateway and a provider of one family (a client's guard and a recipient's server, neither
    // of which the sender can change) still get a path: its mixes are all of other families.
    const usedFamilies = gateway === undefined ? [provider.family] : [gateway.family, provider.family];
    const choose = (avoided: ReadonlySet<string> | undefined): NodeDescriptor[] =>
      choosePath([this.layers[1], this.layers[2], this.layers[3]], {
        weight: this.weights.weight,
        family: (node) => node.family,
        excluded: (node) => this.weights.belowFloor(node) || this.avoid.has(nodeKey(node)) || avoided?.has(nodeKey(node)) === true,
        usedFamilies,
        random,
      });
    try {
      try {
        return choose(avoid);
      } catch (error) {
        // An alert never stops the traffic (which would itself tell the attacker): without a path
        // that leaves the suspects out, they are chosen again.
        if (!(error instanceof PathChoiceError) || avoid === undefined || avoid.size === 0) throw error;
        return choose(undefined);
      }
    } catch (error) {
      if (!(error instanceof PathChoiceError)) throw error;
      throw new RouteError(`the consensus of epoch ${this.doc.epoch} has no path whose nodes are all of different families`);
    }
  }
}
