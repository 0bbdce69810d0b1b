import type { Ack } from '../../e2e/ack.js';
import { ackReplyPacket } from '../../e2e/sphinx-link.js';
import { GATEWAY_LAYER } from '../../pki/index.js';
import { nodeKey } from '../routes.js';
import type { GatewayConnections } from './gateways.js';
import type { NetworkView } from './network-view.js';
import type { Outbound } from './types.js';

interface QueuedReply {
  /** The gateway the sender's SURB starts at. */
  readonly gateway: string;
  readonly packet: Uint8Array;
}

/**
 * ACKs and NACKs waiting to go back to senders through their SURBs (docs/client.md, "Replies"). A
 * reply must enter the network at the gateway its SURB names, so each waits for that gateway's connection.
 */
export class ReplyQueue {
  /** Replies that left. */
  sent = 0;
  private queue: QueuedReply[] = [];

  constructor(
    private readonly view: NetworkView,
    private readonly gateways: GatewayConnections,
  ) {}

  get length(): number {
    return this.queue.length;
  }

  /** Queues `ack` through `surb`; a SURB that is not one, or starts at no reachable gateway, is dropped. */
  add(surb: Uint8Array, ack: Ack): void {
    let reply: { firstHop: Uint8Array; packet: Uint8Array };
    try {
      reply = ackReplyPacket(this.view.sphinx, surb, ack);
    } catch {
      return; // damaged, or another suite: nothing can go back
    }
    const gateway = this.view.network.findById(reply.firstHop);
    if (gateway === undefined || gateway.layer !== GATEWAY_LAYER) return;
    const key = nodeKey(gateway);
    this.queue.push({ gateway: key, packet: reply.packet });
    void this.gateways.connectionFor(key, this.view.network)?.ensure();
  }

  /** The first reply whose gateway is connected (replies whose gateway left the network are dropped). */
  next(): Outbound | undefined {
    for (let i = 0; i < this.queue.length; i++) {
      const item = this.queue[i];
      const connection = this.gateways.connectionFor(item.gateway, this.view.network);
      if (connection === undefined) {
        this.queue.splice(i--, 1);
        continue;
      }
      if (!connection.ready) {
        void connection.ensure();
        continue;
      }
      this.queue.splice(i, 1);
      return {
        gateway: connection,
        packet: item.packet,
        commit: () => {
          this.sent++;
          if (connection !== this.gateways.main && !this.queue.some((other) => other.gateway === item.gateway)) this.gateways.release(item.gateway);
        },
        abort: () => this.queue.unshift(item),
      };
    }
    return undefined;
  }
}
