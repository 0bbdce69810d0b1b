import { ByteWriter, hexOf } from '../codec/bytes.js';
import { requireLength } from '../crypto/errors.js';
import type { Crypto } from '../crypto/types.js';
import { MAILBOX_ADDRESS_BYTES, mailboxAddress } from './mailbox-address.js';

/**
 * The mailbox addresses nobody outside a relationship can compute (docs/e2e-card.md, "Relationship
 * and own addresses"). The card's address serves first contact only; once a session exists, each
 * side writes to addresses keyed from the session's secret, per epoch and per recipient; ACK SURBs
 * and loops go to the user's own address, keyed from the X25519 identity secret, which no card
 * carries. Pure: the epoch is a parameter.
 */

/** Bytes of a relationship address key. */
export const ADDRESS_KEY_BYTES = 32;

const RELATIONSHIP_KEY_LABEL = new TextEncoder().encode('umbra relationship address key v1');
const LEGACY_KEY_LABEL = new TextEncoder().encode('umbra relationship address key legacy v1');
const RELATIONSHIP_ADDRESS_LABEL = new TextEncoder().encode('umbra relationship address v1');
const OWN_SECRET_LABEL = new TextEncoder().encode('umbra own mailbox secret v1');

/** A session's address key: BLAKE2b-256(key = session secret SK, "umbra relationship address key v1"). */
export function relationshipKey(crypto: Crypto, sessionSecret: Uint8Array): Uint8Array {
  requireLength('session secret', sessionSecret, 32);
  return crypto.blake2b(ADDRESS_KEY_BYTES, RELATIONSHIP_KEY_LABEL, sessionSecret);
}

/**
 * The address key of a session saved before address keys existed (endpoint state 1 or 2, which
 * kept no SK): from the static X25519 secret both contacts share,
 * BLAKE2b-256(key = X25519(own secret, peer public), "umbra relationship address key legacy v1").
 */
export function legacyRelationshipKey(crypto: Crypto, ownX25519Secret: Uint8Array, peerX25519Public: Uint8Array): Uint8Array {
  const shared = crypto.x25519(ownX25519Secret, peerX25519Public);
  const key = crypto.blake2b(ADDRESS_KEY_BYTES, LEGACY_KEY_LABEL, shared);
  shared.fill(0);
  return key;
}

/**
 * Where a session's mail to `recipient` goes in `epoch`:
 * BLAKE2b-256(key = address key, "umbra relationship address v1" ‖ recipient X25519 public ‖ u64 epoch).
 * The two directions of one session use different addresses.
 */
export function relationshipAddress(crypto: Crypto, addressKey: Uint8Array, recipientX25519Public: Uint8Array, epoch: number): Uint8Array {
  requireLength('relationship address key', addressKey, ADDRESS_KEY_BYTES);
  requireLength('recipient key', recipientX25519Public, 32);
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError(`mailbox epoch ${epoch} is not a non-negative safe integer`);
  const message = new ByteWriter(RELATIONSHIP_ADDRESS_LABEL.length + 40)
    .bytes(RELATIONSHIP_ADDRESS_LABEL).bytes(recipientX25519Public).u64(epoch).finish();
  return crypto.blake2b(MAILBOX_ADDRESS_BYTES, message, addressKey);
}

/**
 * The own-address secret of identities from before reply secrets (identity version 1):
 * BLAKE2b-256(key = X25519 secret, "umbra own mailbox secret v1"). Reading such an identity makes it
 * its reply secret (migrateReplySecret); newer identities draw the reply secret at random.
 */
export function ownMailboxSecret(crypto: Crypto, x25519Secret: Uint8Array): Uint8Array {
  requireLength('X25519 secret', x25519Secret, 32);
  return crypto.blake2b(32, OWN_SECRET_LABEL, x25519Secret);
}

/** The user's own address of `epoch`: the mailbox address formula under the own secret. */
export function ownAddress(crypto: Crypto, ownSecret: Uint8Array, epoch: number): Uint8Array {
  return mailboxAddress(crypto, ownSecret, epoch);
}

/**
 * Where a message goes: a first contact (no address key) to the address of the recipient's card,
 * anything in a session the recipient holds to the session's address for the recipient.
 */
export interface DeliveryTarget {
  readonly addressKey: Uint8Array | undefined;
  /** The recipient's X25519 public key. */
  readonly recipient: Uint8Array;
  /** The mailbox secret of the recipient's card as held. */
  readonly cardMailboxSecret: Uint8Array;
}

export function deliveryAddress(crypto: Crypto, target: DeliveryTarget, epoch: number): Uint8Array {
  if (target.addressKey === undefined) return mailboxAddress(crypto, target.cardMailboxSecret, epoch);
  return relationshipAddress(crypto, target.addressKey, target.recipient, epoch);
}

/** The addresses in order, each once. */
export function distinct(addresses: readonly Uint8Array[]): Uint8Array[] {
  const seen = new Set<string>();
  return addresses.filter((address) => {
    const hex = hexOf(address);
    if (seen.has(hex)) return false;
    seen.add(hex);
    return true;
  });
}
