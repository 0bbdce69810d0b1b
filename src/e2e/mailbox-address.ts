import { ByteWriter } from '../codec/bytes.js';
import { requireLength } from '../crypto/errors.js';
import type { Crypto } from '../crypto/types.js';

const LABEL = new TextEncoder().encode('umbra mailbox address');

/** Length of a mailbox address in bytes. */
export const MAILBOX_ADDRESS_BYTES = 32;

/**
 * The mailbox address of `epoch` (docs/e2e-card.md):
 * BLAKE2b-256(key = mailboxSecret, message = "umbra mailbox address" ‖ u64 big-endian epoch).
 * Whoever holds the card computes it; without the secret, addresses of different epochs cannot be
 * linked. The epoch is a parameter (this core reads no clock): a non-negative safe integer.
 */
export function mailboxAddress(crypto: Crypto, mailboxSecret: Uint8Array, epoch: number): Uint8Array {
  requireLength('mailbox secret', mailboxSecret, 32);
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError(`mailbox epoch ${epoch} is not a non-negative safe integer`);
  const message = new ByteWriter(LABEL.length + 8).bytes(LABEL).u64(epoch).finish();
  return crypto.blake2b(MAILBOX_ADDRESS_BYTES, message, mailboxSecret);
}

