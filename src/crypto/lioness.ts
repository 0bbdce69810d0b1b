import { InvalidLengthError, requireLength } from './errors.js';
import type { Crypto } from './types.js';

/**
 * LIONESS (Anderson and Biham, 1996): a wide-block cipher, i.e. a strong pseudo-random permutation
 * over the whole message, built from a stream cipher and a keyed hash. Here the stream cipher is
 * ChaCha20 and the hash keyed BLAKE2b-256, both libsodium's fastest primitives. Any change to the
 * ciphertext scrambles the whole plaintext, which is what lets Sphinx detect tagging attacks
 * with a plain zero tag.
 *
 * The message is split into L (32 bytes, one ChaCha20 key) and R (the rest):
 *   R ^= S(L ^ K1);  L ^= H_K2(R);  R ^= S(L ^ K3);  L ^= H_K4(R)
 * Both directions work in place on the given buffer; decryption can also write to another.
 *
 * The cipher takes one 32-byte key and expands it to the four round keys with ChaCha20. Four
 * independent round keys would let a changed K1 alone go unnoticed: decryption would undo every
 * round but the first, leaving L (and a Sphinx tag inside it) intact while garbling R. From one
 * key, any change alters all four round keys.
 */
export const LIONESS_KEY_LENGTH = 32;
const BLOCK = 32;
const ZERO_NONCE = new Uint8Array(12);
const ZEROS_128 = new Uint8Array(4 * BLOCK);

export class Lioness {
  private readonly crypto: Crypto;
  // Scratch, reused by every call (they are synchronous): round keys | subkey | digest. One buffer
  // larger than V8 keeps on its heap, so native calls take views of it without copying it out first.
  private readonly scratch = new Uint8Array(6 * BLOCK);
  private readonly roundKeys = this.scratch.subarray(0, 4 * BLOCK);
  private readonly subkey = this.scratch.subarray(4 * BLOCK, 5 * BLOCK);
  private readonly digest = this.scratch.subarray(5 * BLOCK, 6 * BLOCK);
  private readonly k1 = this.roundKeys.subarray(0, BLOCK);
  private readonly k2 = this.roundKeys.subarray(BLOCK, 2 * BLOCK);
  private readonly k3 = this.roundKeys.subarray(2 * BLOCK, 3 * BLOCK);
  private readonly k4 = this.roundKeys.subarray(3 * BLOCK, 4 * BLOCK);

  constructor(crypto: Crypto) {
    this.crypto = crypto;
  }

  encrypt(key: Uint8Array, data: Uint8Array): Uint8Array {
    this.check(key, data, data);
    this.expandKey(key);
    const right = data.subarray(BLOCK);
    this.streamRound(this.k1, data, right, right);
    this.hashRound(this.k2, data, data, right);
    this.streamRound(this.k3, data, right, right);
    this.hashRound(this.k4, data, data, right);
    this.roundKeys.fill(0);
    return data;
  }

  /**
   * Deciphers `data` into `out` (by default `data` itself, in place). A separate `out` of the same
   * length saves the caller copying the ciphertext first: the first two rounds read `data` and
   * write `out`, the last two work in place on `out`. `out` must not otherwise overlap `data`.
   */
  decrypt(key: Uint8Array, data: Uint8Array, out: Uint8Array = data): Uint8Array {
    this.check(key, data, out);
    this.expandKey(key);
    const rightIn = data.subarray(BLOCK);
    const right = out === data ? rightIn : out.subarray(BLOCK);
    this.hashRound(this.k4, data, out, rightIn);
    this.streamRound(this.k3, out, rightIn, right);
    this.hashRound(this.k2, out, out, right);
    this.streamRound(this.k1, out, right, right);
    this.roundKeys.fill(0);
    return out;
  }

  /** K1 | K2 | K3 | K4 = ChaCha20(key, zero nonce) keystream, into a reused scratch buffer. */
  private expandKey(key: Uint8Array): void {
    this.crypto.chacha20Xor(key, ZERO_NONCE, ZEROS_128, 0, this.roundKeys);
  }

  /** R' = R ^ ChaCha20(L ^ K), where L is the first BLOCK bytes of `left`. */
  private streamRound(roundKey: Uint8Array, left: Uint8Array, right: Uint8Array, rightOut: Uint8Array): void {
    const subkey = this.subkey;
    for (let i = 0; i < BLOCK; i++) subkey[i] = left[i] ^ roundKey[i];
    this.crypto.chacha20Xor(subkey, ZERO_NONCE, right, 0, rightOut);
    subkey.fill(0);
  }

  /** L' = L ^ BLAKE2b-256_K(R), L and L' the first BLOCK bytes of `left` and `leftOut`. */
  private hashRound(roundKey: Uint8Array, left: Uint8Array, leftOut: Uint8Array, right: Uint8Array): void {
    const digest = this.crypto.blake2b(BLOCK, right, roundKey, this.digest);
    for (let i = 0; i < BLOCK; i++) leftOut[i] = left[i] ^ digest[i];
  }

  private check(key: Uint8Array, data: Uint8Array, out: Uint8Array): void {
    requireLength('LIONESS key', key, LIONESS_KEY_LENGTH);
    if (data.length <= BLOCK) throw new InvalidLengthError('LIONESS message', `> ${BLOCK}`, data.length);
    requireLength('LIONESS output', out, data.length);
  }
}
