import { LinkKeyMismatchError } from '../../net/websocket.js';
import type { RandomSource } from '../../crypto/seeded-random.js';
import { GATEWAY_LAYER, type NodeDescriptor } from '../../pki/index.js';
import type { Clock } from '../../net/clock.js';
import { GatewayConnection } from '../gateway-connection.js';
import { nodeKey, pick, type Network } from '../routes.js';
import type { Emit } from './types.js';

/**
 * The agent's connections to gateways (docs/client.md, "Gateways"): the main one, which carries the
 * send, loop and drop streams, and short-lived ones to the gateways that senders' SURBs start at.
 */
export class GatewayConnections {
  main!: GatewayConnection;
  private readonly extra = new Map<string, GatewayConnection>();

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
    for (const [key, connection] of this.extra) {
      const node = network.findByKey(key);
      if (node !== undefined && node.addresses.ws === connection.node.addresses.ws) {
        connection.node = node;
        continue;
      }
      connection.close();
      this.extra.delete(key);
    }
  }

  /** The connection to the gateway `key` names (opened on demand), or undefined when it is no gateway. */
  connectionFor(key: string, network: Network): GatewayConnection | undefined {
    if (key === nodeKey(this.main.node)) return this.main;
    const existing = this.extra.get(key);
    if (existing !== undefined) return existing;
    const node = network.findByKey(key);
    if (node === undefined || node.layer !== GATEWAY_LAYER) return undefined;
    const connection = this.open(node);
    this.extra.set(key, connection);
    return connection;
  }

  /** Closes an extra connection nothing more is queued for. */
  release(key: string): void {
    const connection = this.extra.get(key);
    if (connection === undefined) return;
    connection.close();
    this.extra.delete(key);
  }

  close(): void {
    this.main?.close();
    for (const connection of this.extra.values()) connection.close();
    this.extra.clear();
  }

  private open(node: NodeDescriptor): GatewayConnection {
    return new GatewayConnection(node, this.clock, this.timeoutMs, (message, error) =>
      this.emit({ type: 'error', where: error instanceof LinkKeyMismatchError ? 'link-key' : 'gateway', message }),
    );
  }
}
