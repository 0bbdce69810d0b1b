import { createCipheriv, createHash, createHmac } from 'node:crypto';
import { blake2b as nobleBlake2b } from '@noble/hashes/blake2.js';
import sodium from 'sodium-native';
import { checkChachaCounter } from './chacha-counter.js';
import { AuthenticationError, InvalidLengthError, LowOrderPointError, requireLength } from './errors.js';
import { hkdfExpandWith, hkdfWith } from './hkdf-expand.js';
import { sodiumBlake2b, sodiumChaCha20IetfXor, sodiumChaCha20Stream } from './sodium-binding.js';
import type { Crypto } from './types.js';

/**
 * libsodium through sodium-native: the fastest backend on Node for everything on the packet path.
 * HMAC-SHA256, HKDF, SHA-512/256 and AES-CTR come from node:crypto (OpenSSL), which libsodium
 * either lacks or does not expose through sodium-native; BLAKE2b outputs under 16 bytes (which
 * libsodium refuses) come from @noble/hashes. BLAKE2b and IETF ChaCha20, called several times per
 * packet, and the original ChaCha20's keystream (the PIR DPF's PRG, a thousand calls per evaluation)
 * skip sodium-native's argument re-checks (sodium-binding.ts).
 */

function outputFor(input: Uint8Array, out: Uint8Array | undefined): Uint8Array {
  if (out === undefined) return new Uint8Array(input.length);
  requireLength('stream output', out, input.length);
  return out;
}

/** `result`, or `result` copied into `target` when the caller gave one. */
function copyInto(result: Uint8Array, target: Uint8Array | undefined): Uint8Array {
  if (target === undefined) return result;
  requireLength('output', target, result.length);
  target.set(result);
  return target;
}

function hmacSha256(key: Uint8Array, message: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', key).update(message).digest());
}


export const sodiumCrypto: Crypto = {
  name: 'sodium',

  randomBytes(length) {
    const out = new Uint8Array(length);
    sodium.randombytes_buf(out);
    return out;
  },

  x25519(scalar, point, target) {
    requireLength('X25519 scalar', scalar, 32);
    requireLength('X25519 point', point, 32);
    const out = target === undefined ? new Uint8Array(32) : requireLength('X25519 output', target, 32);
    try {
      sodium.crypto_scalarmult(out, scalar, point);
    } catch {
      // libsodium fails only when the result is all zeros, i.e. the point has small order.
      throw new LowOrderPointError();
    }
    return out;
  },

  x25519Base(scalar) {
    requireLength('X25519 scalar', scalar, 32);
    const out = new Uint8Array(32);
    sodium.crypto_scalarmult_base(out, scalar);
    return out;
  },

  ed25519PublicKey(seed) {
    requireLength('Ed25519 seed', seed, 32);
    const pk = new Uint8Array(32);
    const sk = new Uint8Array(64);
    sodium.crypto_sign_seed_keypair(pk, sk, seed);
    sk.fill(0);
    return pk;
  },

  ed25519Sign(seed, message) {
    requireLength('Ed25519 seed', seed, 32);
    const pk = new Uint8Array(32);
    const sk = new Uint8Array(64);
    sodium.crypto_sign_seed_keypair(pk, sk, seed);
    const signature = new Uint8Array(64);
    sodium.crypto_sign_detached(signature, message, sk);
    sk.fill(0);
    return signature;
  },

  ed25519Verify(publicKey, message, signature) {
    if (publicKey.length !== 32 || signature.length !== 64) return false;
    try {
      return sodium.crypto_sign_verify_detached(signature, message, publicKey);
    } catch {
      return false;
    }
  },

  blake2b(outLength, message, key, target) {
    if (!Number.isInteger(outLength) || outLength < 1 || outLength > 64) {
      throw new InvalidLengthError('BLAKE2b output', '1..64', outLength);
    }
    if (key !== undefined && (key.length < 16 || key.length > 64)) {
      throw new InvalidLengthError('BLAKE2b key', '16..64', key.length);
    }
    if (outLength < 16) return copyInto(nobleBlake2b(message, { dkLen: outLength, key }), target);
    const out = target === undefined ? new Uint8Array(outLength) : requireLength('BLAKE2b output', target, outLength);
    sodiumBlake2b(out, message, key);
    return out;
  },

  chacha20Xor(key, nonce, input, counter = 0, out) {
    requireLength('ChaCha20 key', key, 32);
    const target = outputFor(input, out);
    if (nonce.length === 8 || nonce.length === 12) checkChachaCounter(counter, input.length);
    if (nonce.length === 8) sodium.crypto_stream_chacha20_xor_ic(target, input, nonce, counter, key);
    else if (nonce.length === 12) sodiumChaCha20IetfXor(target, input, nonce, counter, key);
    else throw new InvalidLengthError('ChaCha20 nonce', '8 or 12', nonce.length);
    return target;
  },

  chacha20Stream(key, nonce, out) {
    requireLength('ChaCha20 key', key, 32);
    if (!(out instanceof Uint8Array)) throw new InvalidLengthError('ChaCha20 keystream output', 'a byte array of any length', -1);
    if (nonce.length !== 8 && nonce.length !== 12) throw new InvalidLengthError('ChaCha20 nonce', '8 or 12', nonce.length);
    checkChachaCounter(0, out.length);
    if (out.length === 0) return out;
    if (nonce.length === 8) sodiumChaCha20Stream(out, nonce, key);
    else sodium.crypto_stream_chacha20_ietf(out, nonce, key);
    return out;
  },

  xchacha20Xor(key, nonce, input, out) {
    requireLength('XChaCha20 key', key, 32);
    requireLength('XChaCha20 nonce', nonce, 24);
    const target = outputFor(input, out);
    sodium.crypto_stream_xchacha20_xor(target, input, nonce, key);
    return target;
  },

  xchacha20Poly1305Seal(key, nonce, plaintext, ad) {
    requireLength('XChaCha20-Poly1305 key', key, 32);
    requireLength('XChaCha20-Poly1305 nonce', nonce, 24);
    const out = new Uint8Array(plaintext.length + 16);
    sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(out, plaintext, ad ?? null, null, nonce, key);
    return out;
  },

  xchacha20Poly1305Open(key, nonce, sealed, ad) {
    requireLength('XChaCha20-Poly1305 key', key, 32);
    requireLength('XChaCha20-Poly1305 nonce', nonce, 24);
    if (sealed.length < 16) throw new AuthenticationError('XChaCha20-Poly1305');
    const out = new Uint8Array(sealed.length - 16);
    try {
      sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(out, null, sealed, ad ?? null, nonce, key);
    } catch {
      throw new AuthenticationError('XChaCha20-Poly1305');
    }
    return out;
  },

  hmacSha256,

  hkdfSha256(ikm, salt, info, length) {
    return hkdfWith(hmacSha256, ikm, salt, info, length);
  },

  hkdfSha256Expand(prk, info, length) {
    return hkdfExpandWith(hmacSha256, prk, info, length);
  },

  sha256(message) {
    const out = new Uint8Array(32);
    sodium.crypto_hash_sha256(out, message);
    return out;
  },

  sha512(message) {
    const out = new Uint8Array(64);
    sodium.crypto_hash_sha512(out, message);
    return out;
  },

  sha512_256(message) {
    return new Uint8Array(createHash('sha512-256').update(message).digest());
  },

  aes256CtrXor(key, iv, input, out) {
    requireLength('AES-256 key', key, 32);
    requireLength('AES-CTR IV', iv, 16);
    const target = outputFor(input, out);
    const cipher = createCipheriv('aes-256-ctr', key, iv);
    const head = cipher.update(input);
    target.set(head, 0);
    const tail = cipher.final();
    if (tail.length > 0) target.set(tail, head.length);
    return target;
  },

  constantTimeEqual(a, b) {
    if (a.length !== b.length) return false;
    // Short inputs (MACs, tags) are compared here: a native call costs more than the comparison.
    if (a.length > 64) return sodium.sodium_memcmp(a, b);
    let difference = 0;
    for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i];
    return difference === 0;
  },
};
