import type { RandomSource } from '../../crypto/seeded-random.js';
import { GATEWAY_LAYER, type NodeDescriptor } from '../../pki/index.js';
import type { Clock } from '../../net/clock.js';
import { GatewayLink } from '../links.js';
import { nodeKey, pick, type Network } from '../routes.js';
import type { Emit } from './types.js';

/**
 * The agent's connections to gateways (docs/client.md, "Gateways"): the main one, which carries the
 * send, loop and drop streams, and short-lived ones to the gateways that senders' SURBs start at.
 */
export class GatewayLinks {
  main!: GatewayLink;
  private readonly extra = new Map<string, GatewayLink>();

  constructor(
    private readonly clock: Clock,
    private readonly random: RandomSource,
    private readonly timeoutMs: number,
    private readonly emit: Emit,
  ) {}

  /**
   * Links keep their connection while their gateway stays at its address, and take its new
   * descriptor (the new epoch's keys); a gateway gone or moved is replaced.
   */
  onConsensus(network: Network, first: boolean): void {
    const current = first ? undefined : network.findById(this.main.node.nodeId);
    if (current !== undefined && current.addresses.ws === this.main.node.addresses.ws) {
      this.main.node = current;
    } else {
      if (!first) this.main.close();
      this.main = this.open(pick(this.random, network.gateways));
      if (!first) void this.main.ensure();
    }
    for (const [key, link] of this.extra) {
      const node = network.findByKey(key);
      if (node !== undefined && node.addresses.ws === link.node.addresses.ws) {
        link.node = node;
        continue;
      }
      link.close();
      this.extra.delete(key);
    }
  }

  /** The link to the gateway `key` names (opened on demand), or undefined when it is no gateway. */
  linkFor(key: string, network: Network): GatewayLink | undefined {
    if (key === nodeKey(this.main.node)) return this.main;
    const existing = this.extra.get(key);
    if (existing !== undefined) return existing;
    const node = network.findByKey(key);
    if (node === undefined || node.layer !== GATEWAY_LAYER) return undefined;
    const link = this.open(node);
    this.extra.set(key, link);
    return link;
  }

  /** Closes an extra link nothing more is queued for. */
  release(key: string): void {
    const link = this.extra.get(key);
    if (link === undefined) return;
    link.close();
    this.extra.delete(key);
  }

  close(): void {
    this.main?.close();
    for (const link of this.extra.values()) link.close();
    this.extra.clear();
  }

  private open(node: NodeDescriptor): GatewayLink {
    return new GatewayLink(node, this.clock, this.timeoutMs, (message) => this.emit({ type: 'error', where: 'gateway', message }));
  }
}
