import type { Crypto } from '../../crypto/types.js';
import type { RandomSource } from '../../crypto/seeded-random.js';
import { deliveryAddress, type DeliveryTarget } from '../../e2e/relationship-address.js';
import type { NodeDescriptor } from '../../pki/index.js';
import { SURB_ID_LENGTH } from '../../sphinx/index.js';
import { readAfterItsEpoch, replyEpoch, replyTravelOf } from '../../traffic/reply-window.js';
import type { PathHop } from '../../sphinx/sphinx.js';
import type { GatewayFrame } from '../../wire/gateway-frame.js';
import { hexOf } from '../../codec/bytes.js';
import { GATEWAY_LAYER, PROVIDER_LAYER } from '../../pki/index.js';
import { nodeKey, pick } from '../routes.js';
import type { LoopRoute } from './loops.js';
import type { FragmentPacketJob, FragmentShard } from './build-protocol.js';
import type { NetworkView } from './network-view.js';

/**
 * The three kinds of packet a client makes (docs/client.md, "Packets"), all of one size and all
 * through 3 mixes → provider, handed to the client's own gateway with their first hop (a gateway
 * frame): a fragment of a mail with its ACK SURB back to the sender sealed inside (its
 * paths are chosen here, its seal and Sphinx work are the packet builder's: builder.ts), drop cover to a random
 * provider, and a loop: a SURB reply to the client itself. Each is built with the keys of the epoch
 * it leaves in. RouteError when the consensus held has no keys for it.
 */
export class PacketFactory {
  constructor(
    private readonly view: NetworkView,
    private readonly crypto: Crypto,
    private readonly random: RandomSource,
    /** The user's own address of an epoch (ACK SURBs, loops): MailEndpoint.ownAddress. */
    private readonly ownAddress: (epoch: number) => Uint8Array,
    /** The mixes (by key) paths leave out in an epoch: a high alert's suspects (docs/network.md, "Alerts"). */
    private readonly avoided: (epoch: number) => ReadonlySet<string>,
    /** The user's mailbox polls per epoch (the settings'), standing for the recipient's in `readAfterItsEpoch`. */
    private readonly pollsPerEpoch: number,
  ) {}

  /**
   * What the builder needs for a fragment to the recipient's mailbox (its card's address for a
   * first contact, else the session's): both paths are chosen here (cheap), the Sphinx and seal work
   * is the builder's. It makes a fresh SURB to the sender's own address on `surbPath` (starting at a
   * layer-1 mix, so the recipient's own gateway can carry the reply; usable in one epoch only: this
   * one for the first copy, the next for a copy sent again (`resends` > 0) or one leaving too late in
   * its epoch to be read in it: reply-window.ts), seals
   * the shard with it inside (a whole packet payload), and builds the packet on `path`, whose last
   * hop names a random SURB ID, as a reply's does, so the provider stores it as it stores an ACK or
   * a loop. `shard` is what the seal needs besides the SURB.
   */
  fragmentJob(now: number, gateway: NodeDescriptor, recipient: { provider: NodeDescriptor; target: DeliveryTarget }, shard: FragmentShard, resends: number): { job: FragmentPacketJob; firstHop: Uint8Array; surbId: Uint8Array; epoch: number; surbEpoch: number } {
    const { network, sphinx } = this.view;
    const epoch = this.view.epochAt(now);
    const surbEpoch = this.surbEpoch(now, resends);
    const surbId = this.random(SURB_ID_LENGTH);
    const avoid = this.avoided(epoch);
    const surbPath = network.path(this.random, surbEpoch, undefined, this.view.ownProvider, [
      { type: 'recipient', recipient: this.ownAddress(surbEpoch) },
      { type: 'surb-reply', surbId },
    ], avoid);
    const path = network.path(this.random, epoch, gateway, recipient.provider, [
      { type: 'recipient', recipient: deliveryAddress(this.crypto, recipient.target, epoch) },
      { type: 'surb-reply', surbId: this.random(SURB_ID_LENGTH) },
    ], avoid);
    const { hops, userForwardPayloadLength, withSurb } = sphinx.geometry;
    const job: FragmentPacketJob = {
      kind: 'fragment-packet', backend: this.crypto.name, suite: sphinx.suite.name,
      geometry: { hops, userForwardPayloadLength, withSurb }, path, surbPath, epoch: surbEpoch, ...shard,
    };
    return { job, firstHop: path[0].id, surbId, epoch, surbEpoch };
  }

  /**
   * The epoch whose keys the SURB of a copy leaving at `now` is made with (reply-window.ts): the
   * outbox checks it again when a packet built ahead takes its slot, since a packet built early in
   * an epoch may leave too late in it to be read there.
   */
  surbEpoch(now: number, resends: number): number {
    const { doc } = this.view;
    return replyEpoch(this.view.epochAt(now), resends, readAfterItsEpoch(now, doc, replyTravelOf(doc, this.pollsPerEpoch)));
  }

  /** Drop cover: an empty payload to a random provider's all-zero mailbox, read by nobody. */
  cover(now: number, gateway: NodeDescriptor): GatewayFrame {
    const { network, sphinx } = this.view;
    const epoch = this.view.epochAt(now);
    const path = network.path(this.random, epoch, gateway, pick(this.random, network.providers), [
      { type: 'recipient', recipient: new Uint8Array(32) },
    ], this.avoided(epoch));
    // The geometry carries a SURB in every forward packet; cover's is random bytes nobody reads.
    return frameOf(path, sphinx.newPacket(path, new Uint8Array(0), this.random, this.random(sphinx.geometry.surbLength)));
  }

  /**
   * A loop: a SURB reply through every mix layer back to the client's own mailbox, and its route
   * (the gateway on layer 0, the mixes on layers 1..3, the provider on 4; due after its delays).
   */
  loop(now: number, gateway: NodeDescriptor): GatewayFrame & { surbId: Uint8Array; decryptionToken: Uint8Array; route: LoopRoute } {
    const epoch = this.view.epochAt(now);
    const surbId = this.random(SURB_ID_LENGTH);
    const path = this.view.network.path(this.random, epoch, gateway, this.view.ownProvider, [
      { type: 'recipient', recipient: this.ownAddress(epoch) },
      { type: 'surb-reply', surbId },
    ], this.avoided(epoch));
    const surb = this.view.sphinx.newSurb(path, this.random);
    const reply = this.view.sphinx.newPacketFromSurb(surb.surb, new Uint8Array(0));
    const delays = path.flatMap((hop) => hop.commands.flatMap((c) => (c.type === 'delay' ? [c.delayMs] : [])));
    const hops = [{ node: nodeKey(gateway), layer: GATEWAY_LAYER }, ...path.map((hop, i) => ({ node: hexOf(hop.id), layer: i === path.length - 1 ? PROVIDER_LAYER : i + 1 }))];
    const route: LoopRoute = { epoch, hops, dueMs: now + delays.reduce((a, b) => a + b, 0) };
    return { firstHop: reply.firstHop, packet: reply.packet, surbId, decryptionToken: surb.decryptionToken, route };
  }
}

function frameOf(path: readonly PathHop[], packet: Uint8Array): GatewayFrame {
  return { firstHop: path[0].id, packet };
}
