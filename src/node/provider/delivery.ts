import type { MailboxStore } from '../../store/mailbox.js';
import type { NodeRuntime } from '../runtime/node.js';
import type { PacketRecorder } from '../runtime/packet-record.js';
import type { ForwardResult } from '../../sphinx/index.js';
import { epochAt } from '../../pki/index.js';
import { encodeStoredItem } from '../../wire/index.js';
import type { StoreFailures } from './store-failures.js';

/** The recipient address of drop cover: 32 zero bytes. */
export const COVER_ADDRESS = new Uint8Array(32);

/**
 * Packets arriving from the last layer of mixes: unwrapped (the provider is their last hop); every
 * item for a mailbox (a fragment, an acknowledgement, a loop) arrives as a SURB-reply delivery and
 * is stored as `0x03 ‖ SURB ID ‖ payload` under (recipient address, the provider's current epoch):
 * one layout, one size, the kind inside the encryption. Drop cover (the all-zero address) is
 * discarded; a plain forward delivery to a mailbox (the layout of old clients, which left a SURB in
 * clear) is refused, so nothing stored stands out. A packet whose next hop is a mix is a mix's loop
 * on its way back to it (docs/network.md, "Mix loops"): it goes to `forward`, which sends it on. Metrics count every
 * packet that ends here as one `node_packets_exited_total`, whatever it carried: no counter or label
 * tells drop cover from mail, loops or SURB replies (docs/privacy.md).
 */
export class MailboxDelivery {
  constructor(
    private readonly runtime: NodeRuntime,
    private readonly store: MailboxStore,
    private readonly failures: StoreFailures,
    /** A mix loop's way back to its mix (peers.nextHop knows only mixes as a provider's next hops). */
    private readonly forward: (result: ForwardResult) => void,
    /** Test networks only: records each packet that reaches this last hop. */
    private readonly recorder?: PacketRecorder,
  ) {
    runtime.metrics.count('node_packets_exited_total', {}, 0);
  }

  /** Handles one packet from a link. */
  readonly onPacket = (packet: Uint8Array): void => {
    const { metrics } = this.runtime;
    this.recorder?.delivery(packet);
    const result = this.runtime.unwrap(packet);
    if (result === undefined) return;
    if (result.kind === 'forward') return this.forward(result);
    if (result.recipient === undefined) return metrics.drop('no-recipient');
    const { clock, timing } = this.runtime;
    const now = clock.now();
    const epoch = epochAt(now, timing);
    if (epoch < 0) return metrics.drop('no-epoch');
    metrics.count('node_packets_exited_total');
    if (isZero(result.recipient)) return;
    if (result.kind === 'deliver') return metrics.drop('not-uniform');
    this.deliver(result.recipient, epoch, now, encodeStoredItem(result.surbId, result.payload));
  };

  private deliver(address: Uint8Array, epoch: number, now: number, ciphertext: Uint8Array): void {
    const { metrics } = this.runtime;
    this.store.deliver(address, epoch, ciphertext, now).then(
      () => this.failures.recovered('deliver'),
      (error: unknown) => {
        const reply = this.failures.failed('deliver', error);
        metrics.drop(reply === 'store-full' ? 'store-full' : reply === 'store-io' ? 'store-io' : 'store-error');
      },
    );
  }
}

function isZero(bytes: Uint8Array): boolean {
  let any = 0;
  for (const byte of bytes) any |= byte;
  return any === 0;
}
