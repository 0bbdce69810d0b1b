import type { Ack } from '../../e2e/ack.js';
import { ackReplyPacket } from '../../e2e/sphinx-link.js';
import type { RandomSource } from '../../crypto/seeded-random.js';
import { replyExpired, surbKept, surbUsable } from '../../traffic/reply-window.js';
import type { GatewayFrame } from '../../wire/gateway-frame.js';
import { pick } from '../routes.js';
import type { GatewayConnections } from './gateways.js';
import type { NetworkView } from './network-view.js';
import type { Outbound } from './types.js';

/** The layer a SURB's first hop is on: the gateway forwards to it (src/wire/gateway-frame.ts). */
const FIRST_MIX_LAYER = 1;

interface QueuedReply {
  readonly frame: GatewayFrame;
  /** The epoch whose keys the SURB was built with: the reply may leave in that epoch only. */
  readonly epoch: number;
}

/**
 * ACKs and NACKs waiting to go back to senders through their SURBs (docs/client.md, "Replies"). A
 * SURB starts at a layer-1 mix, so a reply travels like every other packet of the client: through
 * its own (guard) gateway, in a slot of the Poisson send stream it takes from cover. No connection
 * is opened for it and nothing leaves sooner than the slot. A reply leaves only in its SURB's epoch
 * (held when read in the epoch before: a resend's SURB, reply-window.ts replyEpoch), so every mix
 * unwraps it under the key it unwraps the cover of that moment with; one that did not leave in time
 * is dropped, and the sender resends.
 */
export class ReplyQueue {
  /** Replies that left. */
  sent = 0;
  /** Replies queued in their SURB's epoch and dropped because it ended before a slot took them. */
  expired = 0;
  /**
   * Replies never queued: their copy was read after its SURB's epoch (late, or read again: a copy
   * answers once per poll that reads it).
   */
  readLate = 0;
  private queue: QueuedReply[] = [];

  constructor(
    private readonly view: NetworkView,
    private readonly gateways: GatewayConnections,
    private readonly random: RandomSource,
    /** Tests only: send each reply at once over a new connection (StartOptions.plantedReplyLeak). */
    private readonly plantedLeak = false,
  ) {}

  get length(): number {
    return this.queue.length;
  }

  /**
   * Queues `ack` through `surb`, a SURB of `surbEpoch`: one of the next epoch (a resend's) waits for
   * it; one of an earlier epoch, that is no SURB, or that does not start at a layer-1 mix of the
   * consensus is dropped.
   */
  add(surb: Uint8Array, ack: Ack, surbEpoch: number): void {
    const current = this.view.epochAt(this.view.now());
    if (!surbKept(surbEpoch, current)) {
      this.readLate++;
      return;
    }
    let reply: GatewayFrame;
    try {
      reply = ackReplyPacket(this.view.sphinx, surb, ack);
    } catch {
      return; // damaged, or another suite: nothing can go back
    }
    const first = this.view.network.findById(reply.firstHop);
    if (first === undefined || first.layer !== FIRST_MIX_LAYER) return;
    const item = { frame: { firstHop: reply.firstHop, packet: reply.packet }, epoch: surbEpoch };
    if (this.plantedLeak) return this.leak(item);
    this.queue.push(item);
  }

  /** Drops the replies whose SURB's epoch ended before `now`'s. */
  expire(now: number): void {
    const current = this.view.epochAt(now);
    const before = this.queue.length;
    this.queue = this.queue.filter((item) => !replyExpired(item.epoch, current));
    this.expired += before - this.queue.length;
  }

  /** The oldest reply that may leave at `now` (its SURB's epoch is the current one), for a send slot. */
  next(now: number): Outbound | undefined {
    this.expire(now);
    const current = this.view.epochAt(now);
    const at = this.queue.findIndex((queued) => surbUsable(queued.epoch, current));
    if (at < 0) return undefined; // none, or only replies held for the next epoch
    const [item] = this.queue.splice(at, 1);
    return {
      frame: item.frame,
      commit: () => this.sent++,
      abort: () => this.queue.splice(at, 0, item),
    };
  }

  /** The planted leak: a new connection to a random gateway, the reply at once, then closed. */
  private leak(item: QueuedReply): void {
    const connection = this.gateways.open(pick(this.random, this.view.network.gateways));
    void connection.ensure().then(() => {
      if (connection.send(item.frame)) this.sent++;
      connection.close();
    });
  }
}
