/**
 * The one interface through which Umbra uses cryptography. Every backend implements all of it and
 * must produce identical bytes for identical inputs (cross-checked in test/crypto).
 *
 * Conventions:
 * - All inputs and outputs are Uint8Array; functions never keep references to their arguments.
 * - Stream functions take an optional `out` buffer of the input's length; it may be the input
 *   itself (in place) but must not overlap it otherwise. Without it a new buffer is returned.
 * - Wrong key, nonce or output lengths raise InvalidLengthError; X25519 with a small-order point
 *   raises LowOrderPointError; a failed AEAD open raises AuthenticationError.
 */
export type BackendName = 'sodium' | 'noble';

export interface Crypto {
  readonly name: BackendName;

  /** Cryptographically secure random bytes from the operating system. */
  randomBytes(length: number): Uint8Array;

  /**
   * RFC 7748 X25519(scalar, u): the scalar is clamped; any 32-byte u is accepted. With `out`
   * (32 bytes, not overlapping the inputs) the result is written there and `out` returned.
   */
  x25519(scalar: Uint8Array, point: Uint8Array, out?: Uint8Array): Uint8Array;
  /** X25519(scalar, 9): the public key of a private scalar. */
  x25519Base(scalar: Uint8Array): Uint8Array;

  /** RFC 8032 Ed25519; the secret key is the 32-byte seed. */
  ed25519PublicKey(seed: Uint8Array): Uint8Array;
  ed25519Sign(seed: Uint8Array, message: Uint8Array): Uint8Array;
  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;

  /**
   * RFC 7693 BLAKE2b with 1..64 output bytes and an optional 16..64-byte key. With `out`
   * (outLength bytes) the digest is written there and `out` returned.
   */
  blake2b(outLength: number, message: Uint8Array, key?: Uint8Array, out?: Uint8Array): Uint8Array;

  /**
   * ChaCha20 keystream XOR. An 8-byte nonce selects the original construction (64-bit counter),
   * a 12-byte nonce RFC 8439's (32-bit counter). `counter` is the first block number; every block
   * must lie in 0 .. 2^32 - 2, else CounterRangeError (chacha-counter.ts says why).
   */
  chacha20Xor(key: Uint8Array, nonce: Uint8Array, input: Uint8Array, counter?: number, out?: Uint8Array): Uint8Array;
  /**
   * The ChaCha20 keystream itself from block 0, out.length bytes written into `out` (returned):
   * chacha20Xor(key, nonce, zeros) without reading an input, for callers that want many short
   * keystreams under different keys (the PIR DPF's PRG). Nonces and the block range as chacha20Xor.
   */
  chacha20Stream(key: Uint8Array, nonce: Uint8Array, out: Uint8Array): Uint8Array;
  /** XChaCha20 keystream XOR with a 24-byte nonce. */
  xchacha20Xor(key: Uint8Array, nonce: Uint8Array, input: Uint8Array, out?: Uint8Array): Uint8Array;

  /** XChaCha20-Poly1305 (IETF): ciphertext || 16-byte tag. */
  xchacha20Poly1305Seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad?: Uint8Array): Uint8Array;
  /** Opens a sealed box; raises AuthenticationError when the tag does not verify. */
  xchacha20Poly1305Open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad?: Uint8Array): Uint8Array;

  hmacSha256(key: Uint8Array, message: Uint8Array): Uint8Array;
  /** RFC 5869 HKDF-SHA256 (Extract then Expand). */
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array;
  /** RFC 5869 HKDF-Expand alone, with `prk` used directly as the HMAC key. */
  hkdfSha256Expand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array;

  sha256(message: Uint8Array): Uint8Array;
  sha512(message: Uint8Array): Uint8Array;
  /** FIPS 180-4 SHA-512/256 (its own initial values, not a truncated SHA-512). */
  sha512_256(message: Uint8Array): Uint8Array;

  /** AES-256 in counter mode; the 16-byte IV is the whole initial 128-bit counter block. */
  aes256CtrXor(key: Uint8Array, iv: Uint8Array, input: Uint8Array, out?: Uint8Array): Uint8Array;

  /** True iff a and b have the same length and bytes; time depends only on the length. */
  constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean;
}
