import type { Crypto } from '../../crypto/types.js';
import type { RandomSource } from '../../crypto/seeded-random.js';
import type { FragmentSurb } from '../../e2e/fragment.js';
import { deliveryAddress, type DeliveryTarget } from '../../e2e/relationship-address.js';
import { fragmentPacket } from '../../e2e/sphinx-link.js';
import type { NodeDescriptor } from '../../pki/index.js';
import { SURB_ID_LENGTH } from '../../sphinx/index.js';
import { pick } from '../routes.js';
import type { NetworkView } from './network-view.js';

/**
 * The three kinds of packet a client makes (docs/client.md, "Packets"), all of one size and all
 * through gateway → 3 mixes → provider: a fragment of a mail with an ACK SURB back to the sender,
 * drop cover to a random provider, and a loop: a SURB reply to the client itself. Each is built with
 * the keys of the epoch it leaves in. RouteError when the consensus held has no keys for it.
 */
export class PacketFactory {
  constructor(
    private readonly view: NetworkView,
    private readonly crypto: Crypto,
    private readonly random: RandomSource,
    /** The user's own address of an epoch (ACK SURBs, loops): MailEndpoint.ownAddress. */
    private readonly ownAddress: (epoch: number) => Uint8Array,
  ) {}

  /**
   * A fragment for the recipient's mailbox (its card's address for a first contact, else the
   * session's): a fresh SURB to the sender's own address is made, `seal` seals the fragment with it
   * inside (a whole packet payload), and the packet's last hop names a random SURB ID, as a
   * reply's does, so the provider stores it as it stores an ACK or a loop.
   */
  fragment(now: number, gateway: NodeDescriptor, recipient: { provider: NodeDescriptor; target: DeliveryTarget }, seal: (surb: FragmentSurb) => Uint8Array): { packet: Uint8Array; surbId: Uint8Array; decryptionToken: Uint8Array } {
    const { network, sphinx } = this.view;
    const epoch = this.view.epochAt(now);
    const surbId = this.random(SURB_ID_LENGTH);
    const surbPath = network.path(this.random, epoch, pick(this.random, network.gateways), this.view.ownProvider, [
      { type: 'recipient', recipient: this.ownAddress(epoch) },
      { type: 'surb-reply', surbId },
    ]);
    const { surb, decryptionToken } = sphinx.newSurb(surbPath, this.random);
    const path = network.path(this.random, epoch, gateway, recipient.provider, [
      { type: 'recipient', recipient: deliveryAddress(this.crypto, recipient.target, epoch) },
      { type: 'surb-reply', surbId: this.random(SURB_ID_LENGTH) },
    ]);
    const sealed = seal({ epoch, bytes: surb });
    return { packet: fragmentPacket(sphinx, path, sealed, this.random), surbId, decryptionToken };
  }

  /** Drop cover: an empty payload to a random provider's all-zero mailbox, read by nobody. */
  cover(now: number, gateway: NodeDescriptor): Uint8Array {
    const { network, sphinx } = this.view;
    const path = network.path(this.random, this.view.epochAt(now), gateway, pick(this.random, network.providers), [
      { type: 'recipient', recipient: new Uint8Array(32) },
    ]);
    // The geometry carries a SURB in every forward packet; cover's is random bytes nobody reads.
    return sphinx.newPacket(path, new Uint8Array(0), this.random, this.random(sphinx.geometry.surbLength));
  }

  /** A loop: a SURB reply through every layer back to the client's own mailbox. */
  loop(now: number, gateway: NodeDescriptor): { packet: Uint8Array; surbId: Uint8Array; decryptionToken: Uint8Array } {
    const epoch = this.view.epochAt(now);
    const surbId = this.random(SURB_ID_LENGTH);
    const path = this.view.network.path(this.random, epoch, gateway, this.view.ownProvider, [
      { type: 'recipient', recipient: this.ownAddress(epoch) },
      { type: 'surb-reply', surbId },
    ]);
    const surb = this.view.sphinx.newSurb(path, this.random);
    return { packet: this.view.sphinx.newPacketFromSurb(surb.surb, new Uint8Array(0)).packet, surbId, decryptionToken: surb.decryptionToken };
  }
}
