import { concatBytes } from '../codec/bytes.js';
import type { Crypto } from '../crypto/types.js';

/**
 * How the mail store seals a value (docs/client.md, "Mail store"): nonce ‖ XChaCha20-Poly1305 under
 * the store key, with the AD that binds it to its table, column and row. A ColumnSeal is what that
 * takes, so a large value (a mail, an outgoing message's frame) can be sealed off the event loop,
 * by the packet builder: it holds the store key.
 */
export interface ColumnSeal {
  readonly key: Uint8Array;
  readonly nonce: Uint8Array;
  readonly ad: Uint8Array;
}

export function sealColumn(crypto: Crypto, seal: ColumnSeal, plain: Uint8Array): Uint8Array {
  return concatBytes(seal.nonce, crypto.xchacha20Poly1305Seal(seal.key, seal.nonce, plain, seal.ad));
}
