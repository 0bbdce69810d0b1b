import type { ContactCard } from './card.js';

/** The values a MailEndpoint (mail-endpoint.ts) hands out: contacts, outgoing messages, deliveries. */
export interface Contact {
  readonly card: ContactCard;
  /** Hex of the contact's X25519 identity key: how the endpoint names contacts. */
  readonly key: string;
  /** What this contact writes into its fragments to us, and we into ours to it. */
  readonly senderTag: Uint8Array;
}

/**
 * A sealed message ready for the network: one fragment per Sphinx packet. The sender keeps it
 * until the ACK, to resend what a NACK names (`resend`); `frame` is already end-to-end encrypted.
 */
export interface Outgoing extends SealedFrame {
  /**
   * The sealed fragments; empty when the fragment parameters carry a SURB (each fragment is then
   * sealed as it leaves, with its SURB: `shards` and `sealShard`).
   */
  readonly fragments: Uint8Array[];
}

/** A message encrypted and framed (end to end) for a contact, its fragments not sealed yet (sealFrame). */
export interface SealedFrame {
  readonly messageId: Uint8Array;
  readonly dataShards: number;
  readonly recipient: Uint8Array;
  readonly senderTag: Uint8Array;
  readonly frame: Uint8Array;
  /**
   * The session's address key when the recipient holds the session (the message goes to the
   * relationship address); undefined for a first contact (it goes to the address of the card).
   */
  readonly addressKey: Uint8Array | undefined;
}

export type Delivery =
  | { readonly status: 'pending' | 'duplicate' | 'already-complete'; readonly messageId: Uint8Array }
  | {
      readonly status: 'delivered';
      readonly messageId: Uint8Array;
      readonly from: ContactCard;
      /** True when the sender was not a contact before this message (its card came with it). */
      readonly newContact: boolean;
      readonly mail: Uint8Array;
    };
