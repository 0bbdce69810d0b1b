import type { WebSocketConnector } from '../../net/request-channel.js';
import { LinkKeyMismatchError } from '../../net/websocket.js';
import { sameBytes } from '../../codec/bytes.js';
import { DecodeError } from '../../codec/errors.js';
import type { RandomSource } from '../../crypto/seeded-random.js';
import { GATEWAY_LAYER, type NodeDescriptor } from '../../pki/index.js';
import type { Clock } from '../../net/clock.js';
import { decodeGuard, encodeGuard, keptGuard, newGuard, type Guard } from '../../traffic/guard.js';
import { GatewayConnection } from '../gateway-connection.js';
import type { MailStore } from '../mail-store.js';
import { nodeKey, pick, type Network } from '../routes.js';
import type { Emit } from './types.js';

/** Where the guard gateway is kept between runs. */
export interface GuardStore {
  load(): Guard | undefined;
  save(guard: Guard): void;
}

const GUARD_ENTRY = 'guard';

/** The guard kept in the client's mail store, sealed under the store key; one that does not decode is none. */
export function guardStoreIn(store: MailStore): GuardStore {
  return {
    load() {
      const bytes = store.getAgentState(GUARD_ENTRY);
      if (bytes === undefined) return undefined;
      try {
        return decodeGuard(bytes);
      } catch (error) {
        if (error instanceof DecodeError) return undefined;
        throw error;
      }
    },
    save: (guard) => store.putAgentState(GUARD_ENTRY, encodeGuard(guard)),
  };
}

/**
 * The agent's connections to gateways (docs/client.md, "Gateways"): the main one, to the guard
 * gateway (src/traffic/guard.ts), which carries the send, loop and drop streams, and short-lived
 * ones to the gateways that senders' SURBs start at.
 */
export class GatewayConnections {
  main!: GatewayConnection;
  private readonly extra = new Map<string, GatewayConnection>();

  constructor(
    private readonly clock: Clock,
    private readonly random: RandomSource,
    private readonly timeoutMs: number,
    private readonly emit: Emit,
    private readonly guards: GuardStore,
    private readonly connect?: WebSocketConnector,
  ) {}

  /**
   * Links keep their connection while their gateway stays at its address, and take its new
   * descriptor (the new epoch's keys); a gateway gone or moved is replaced. The main link goes to
   * the guard, chosen anew only when the kept one expired or left the consensus.
   */
  onConsensus(network: Network, first: boolean): void {
    const guard = this.guardIn(network);
    if (!first && sameBytes(guard.nodeId, this.main.node.nodeId) && guard.addresses.ws === this.main.node.addresses.ws) {
      this.main.node = guard;
    } else {
      if (!first) this.main.close();
      this.main = this.open(guard);
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

  /** The kept guard's gateway in this consensus, else a new guard, stored before it is used. */
  private guardIn(network: Network): NodeDescriptor {
    const now = this.clock.now();
    const stored = this.guards.load();
    const kept = stored === undefined ? undefined : keptGuard(stored, network.gateways, now);
    if (kept !== undefined) return kept;
    const node = pick(this.random, network.gateways);
    const fraction = new DataView(this.random(4).slice().buffer).getUint32(0) / 2 ** 32;
    this.guards.save(newGuard(node.nodeId, now, fraction));
    return node;
  }

  private open(node: NodeDescriptor): GatewayConnection {
    return new GatewayConnection(node, this.clock, this.timeoutMs, (message, error) =>
      this.emit({ type: 'error', where: error instanceof LinkKeyMismatchError ? 'link-key' : 'gateway', message }),
    this.connect,
    );
  }
}
