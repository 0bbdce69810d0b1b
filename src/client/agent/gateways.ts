import type { WebSocketConnector } from '../../net/request-channel.js';
import { LinkKeyMismatchError } from '../../net/websocket.js';
import { sameBytes } from '../../codec/bytes.js';
import { DecodeError } from '../../codec/errors.js';
import type { RandomSource } from '../../crypto/seeded-random.js';
import type { NodeDescriptor } from '../../pki/index.js';
import type { Clock } from '../../net/clock.js';
import { decodeGuard, encodeGuard, sameGuard, stepGuard, type Guard } from '../../traffic/guard.js';
import { GatewayConnection } from '../gateway-connection.js';
import type { MailStore } from '../mail-store.js';
import type { Network } from '../routes.js';
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
 * The agent's one connection to a gateway (docs/client.md, "Gateways"): to the guard gateway
 * (src/traffic/guard.ts), which carries the send, loop and drop streams, replies included (a
 * SURB starts at a layer-1 mix, which any gateway reaches). No other gateway is ever connected to.
 */
export class GatewayConnections {
  main!: GatewayConnection;

  constructor(
    private readonly clock: Clock,
    private readonly random: RandomSource,
    private readonly timeoutMs: number,
    private readonly emit: Emit,
    private readonly guards: GuardStore,
    private readonly connect?: WebSocketConnector,
  ) {}

  /**
   * The connection stays while its gateway stays at its address, and takes its new descriptor; it
   * goes to the guard, chosen anew only when the kept one expired, was missing from the consensus
   * for the whole grace (a stand-in carries the traffic meanwhile), or fell below its reliability
   * floor while another gateway is above it (src/traffic/guard.ts).
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
  }

  close(): void {
    this.main?.close();
  }

  /**
   * The gateway to enter through under this consensus (stepGuard): the kept guard's, its stand-in's
   * while it is missing from the consensus, else a new guard's; the record is stored before it is used.
   */
  private guardIn(network: Network): NodeDescriptor {
    const stored = this.guards.load();
    const { guard, gateway } = stepGuard(stored, network.gateways, network.weights, this.clock.now(), this.random);
    if (stored === undefined || !sameGuard(stored, guard)) this.guards.save(guard);
    return gateway;
  }

  /** A connection to `node` (not yet connecting). */
  open(node: NodeDescriptor): GatewayConnection {
    return new GatewayConnection(node, this.clock, this.timeoutMs, (message, error) =>
      this.emit({ type: 'error', where: error instanceof LinkKeyMismatchError ? 'link-key' : 'gateway', message }),
    this.connect,
    );
  }
}
