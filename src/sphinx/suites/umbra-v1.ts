import { Lioness, LIONESS_KEY_LENGTH } from '../../crypto/lioness.js';
import type { Crypto } from '../../crypto/types.js';
import type { CipherSuite, HopKeys } from '../suite.js';

/**
 * Umbra's default suite, built only from libsodium's fastest primitives (docs/sphinx.md):
 * - KDF: prk = BLAKE2b-256 keyed by the shared secret over the label; the keys are the ChaCha20
 *   (RFC 8439, zero nonce) keystream of prk: MAC key 32 | header key 32 | LIONESS key 32 |
 *   blinding factor 32 | replay tag 32. Two native calls give every key a hop needs.
 * - Header MAC: BLAKE2b-256 keyed; header stream: ChaCha20 with a zero nonce (each key is used once).
 * - Payload SPRP: LIONESS over ChaCha20 and BLAKE2b.
 */
const KDF_LABEL = new TextEncoder().encode('umbra-v1 sphinx hop keys');
const ZERO_NONCE12 = new Uint8Array(12);
const KDF_LENGTH = 32 + 32 + LIONESS_KEY_LENGTH + 32 + 32;
const EMPTY_KDF_INPUT = new Uint8Array(KDF_LENGTH);
const EMPTY = new Uint8Array(0);

function hopKeys(out: Uint8Array): HopKeys {
  return {
    headerMacKey: out.subarray(0, 32),
    headerStreamKey: out.subarray(32, 64),
    headerStreamIv: EMPTY,
    payloadKey: out.subarray(64, 96),
    blindingFactor: out.subarray(96, 128),
    replayTag: out.subarray(128, 160),
  };
}

export function umbraV1Suite(crypto: Crypto): CipherSuite {
  const lioness = new Lioness(crypto);
  // The unwrap path's scratch: prk | keys, and the views of it, made once.
  const scratch = new Uint8Array(32 + KDF_LENGTH);
  const scratchPrk = scratch.subarray(0, 32);
  const scratchKeys = scratch.subarray(32);
  const unwrapKeys = hopKeys(scratchKeys);
  const expand = (sharedSecret: Uint8Array, prk: Uint8Array | undefined, out: Uint8Array | undefined): Uint8Array => {
    const key = crypto.blake2b(32, KDF_LABEL, sharedSecret, prk);
    return crypto.chacha20Xor(key, ZERO_NONCE12, EMPTY_KDF_INPUT, 0, out);
  };
  return {
    name: 'umbra-v1',
    crypto,
    additionalData: new Uint8Array([0x55, 0x01]), // 'U', version 1
    macLength: 32,
    payloadTagLength: 32,
    payloadKeyLength: LIONESS_KEY_LENGTH,

    deriveKeys(sharedSecret): HopKeys {
      return hopKeys(expand(sharedSecret, undefined, undefined));
    },

    deriveUnwrapKeys(sharedSecret): HopKeys {
      expand(sharedSecret, scratchPrk, scratchKeys);
      return unwrapKeys;
    },

    mac(key, message, out) {
      return crypto.blake2b(32, message, key, out);
    },

    headerStreamXor(keys, data) {
      crypto.chacha20Xor(keys.headerStreamKey, ZERO_NONCE12, data, 0, data);
    },

    sprpEncrypt(payloadKey, data) {
      return lioness.encrypt(payloadKey, data);
    },

    sprpDecrypt(payloadKey, data, out) {
      return lioness.decrypt(payloadKey, data, out);
    },
  };
}
