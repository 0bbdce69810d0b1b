import aez from 'aez';
import { InvalidLengthError, requireLength } from './errors.js';

/**
 * AEZ v5 used as a strong pseudo-random permutation (tau = 0: no expansion, no tag), as the
 * Katzenpost Sphinx suite encrypts packet payloads. The `aez` package ports the AEZ reference
 * implementation; Katzenpost's published Sphinx vectors prove the pairing byte for byte.
 * It is Node-only (it works on Buffers), like the suite that needs it.
 */
export const AEZ_KEY_LENGTH = 48;
export const AEZ_NONCE_LENGTH = 16;

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function check(key: Uint8Array, nonce: Uint8Array, message: Uint8Array): void {
  requireLength('AEZ key', key, AEZ_KEY_LENGTH);
  requireLength('AEZ nonce', nonce, AEZ_NONCE_LENGTH);
  // AEZ's wide-block mode needs at least 32 bytes; shorter inputs use a different, tiny-block mode
  // that the Sphinx payload never needs.
  if (message.length < 32) throw new InvalidLengthError('AEZ message', '>= 32', message.length);
}

export function aezSprpEncrypt(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Uint8Array {
  check(key, nonce, plaintext);
  return new Uint8Array(aez.encrypt(asBuffer(key), asBuffer(nonce), null, 0, asBuffer(plaintext)));
}

export function aezSprpDecrypt(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  check(key, nonce, ciphertext);
  const out = aez.decrypt(asBuffer(key), asBuffer(nonce), null, 0, asBuffer(ciphertext));
  // With tau = 0 there is no tag to verify, so decryption cannot fail.
  if (out === null) throw new Error('AEZ: decryption with tau = 0 returned no plaintext');
  return new Uint8Array(out);
}
