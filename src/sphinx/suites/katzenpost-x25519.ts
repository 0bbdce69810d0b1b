import { aezSprpDecrypt, aezSprpEncrypt, AEZ_KEY_LENGTH, AEZ_NONCE_LENGTH } from '../../crypto/aez.js';
import type { Crypto } from '../../crypto/types.js';
import type { CipherSuite, HopKeys } from '../suite.js';

/**
 * Byte-compatible with Katzenpost's X25519 Sphinx (proven by its published vectors):
 * KDF = HKDF-SHA256 Expand only, IKM the raw shared secret; header stream AES-256-CTR; header MAC
 * HMAC-SHA256 (32 bytes); payload SPRP AEZ v5 (tau 0) keyed by 48 bytes with the 16-byte header
 * IV as nonce; blinding factor = first 32 bytes of ChaCha20(blinding seed, zero 8-byte nonce).
 */
const KDF_INFO = new TextEncoder().encode('katzenpost-kdf-v0-hkdf-sha256');
const KDF_LENGTH = 32 + 32 + 16 + AEZ_KEY_LENGTH + 32;
const ZERO_NONCE8 = new Uint8Array(8);

export function katzenpostSuite(crypto: Crypto): CipherSuite {
  return {
    name: 'katzenpost-x25519',
    crypto,
    additionalData: new Uint8Array([0x00, 0x00]),
    macLength: 32,
    payloadTagLength: 32,
    // A SURB's own layer: AEZ key then nonce.
    payloadKeyLength: AEZ_KEY_LENGTH + AEZ_NONCE_LENGTH,

    deriveKeys(sharedSecret): HopKeys {
      const out = crypto.hkdfSha256Expand(sharedSecret, KDF_INFO, KDF_LENGTH);
      const headerStreamIv = out.subarray(64, 80);
      const payloadKey = new Uint8Array(AEZ_KEY_LENGTH + AEZ_NONCE_LENGTH);
      payloadKey.set(out.subarray(80, 128), 0);
      payloadKey.set(headerStreamIv, AEZ_KEY_LENGTH);
      const blindingSeed = out.subarray(128, 160);
      return {
        headerMacKey: out.subarray(0, 32),
        headerStreamKey: out.subarray(32, 64),
        headerStreamIv,
        payloadKey,
        blindingFactor: crypto.chacha20Xor(blindingSeed, ZERO_NONCE8, new Uint8Array(32)),
        replayTag: crypto.sha512_256(sharedSecret),
      };
    },

    deriveUnwrapKeys(sharedSecret): HopKeys {
      return this.deriveKeys(sharedSecret);
    },

    mac(key, message, out) {
      const mac = crypto.hmacSha256(key, message);
      if (out === undefined) return mac;
      out.set(mac);
      return out;
    },

    headerStreamXor(keys, data) {
      crypto.aes256CtrXor(keys.headerStreamKey, keys.headerStreamIv, data, data);
    },

    sprpEncrypt(payloadKey, data) {
      return aezSprpEncrypt(payloadKey.subarray(0, AEZ_KEY_LENGTH), payloadKey.subarray(AEZ_KEY_LENGTH), data);
    },

    sprpDecrypt(payloadKey, data, out) {
      const plaintext = aezSprpDecrypt(payloadKey.subarray(0, AEZ_KEY_LENGTH), payloadKey.subarray(AEZ_KEY_LENGTH), data);
      if (out === undefined) return plaintext;
      out.set(plaintext);
      return out;
    },
  };
}
