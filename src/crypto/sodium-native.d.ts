// The subset of sodium-native's API that src/crypto/sodium.ts uses.
declare module 'sodium-native' {
  type Bytes = Uint8Array;
  const sodium: {
    randombytes_buf(out: Bytes): void;
    crypto_scalarmult(out: Bytes, scalar: Bytes, point: Bytes): void;
    crypto_scalarmult_base(out: Bytes, scalar: Bytes): void;
    crypto_sign_seed_keypair(pk: Bytes, sk: Bytes, seed: Bytes): void;
    crypto_sign_detached(sig: Bytes, message: Bytes, sk: Bytes): void;
    crypto_sign_verify_detached(sig: Bytes, message: Bytes, pk: Bytes): boolean;
    crypto_generichash(out: Bytes, message: Bytes, key?: Bytes): void;
    crypto_stream_chacha20(out: Bytes, nonce: Bytes, key: Bytes): void;
    crypto_stream_chacha20_ietf(out: Bytes, nonce: Bytes, key: Bytes): void;
    crypto_stream_chacha20_xor_ic(out: Bytes, message: Bytes, nonce: Bytes, ic: number, key: Bytes): void;
    crypto_stream_chacha20_ietf_xor_ic(out: Bytes, message: Bytes, nonce: Bytes, ic: number, key: Bytes): void;
    crypto_stream_xchacha20_xor(out: Bytes, message: Bytes, nonce: Bytes, key: Bytes): void;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
      out: Bytes, message: Bytes, ad: Bytes | null, nsec: null, nonce: Bytes, key: Bytes): number;
    crypto_aead_xchacha20poly1305_ietf_decrypt(
      out: Bytes, nsec: null, ciphertext: Bytes, ad: Bytes | null, nonce: Bytes, key: Bytes): number;
    crypto_hash_sha256(out: Bytes, message: Bytes): void;
    crypto_hash_sha512(out: Bytes, message: Bytes): void;
    sodium_memcmp(a: Bytes, b: Bytes): boolean;
  };
  export default sodium;
}

// The three functions of sodium-native's native binding that src/crypto/sodium-binding.ts calls.
declare module 'sodium-native/binding.js' {
  const binding: {
    crypto_generichash(
      out: ArrayBufferLike, outOffset: number, outLength: number,
      message: ArrayBufferLike, messageOffset: number, messageLength: number,
      key: ArrayBufferLike, keyOffset: number, keyLength: number): number;
    crypto_stream_chacha20_ietf_xor_ic(out: Uint8Array, message: Uint8Array, nonce: Uint8Array, ic: number, key: Uint8Array): number;
    crypto_stream_chacha20(out: Uint8Array, nonce: Uint8Array, key: Uint8Array): number;
  };
  export default binding;
}
