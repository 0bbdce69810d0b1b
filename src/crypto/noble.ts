import { ctr } from '@noble/ciphers/aes.js';
import { chacha20, chacha20orig, xchacha20, xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { ED25519_TORSION_SUBGROUP, ed25519, x25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE, hexToBytes } from '@noble/curves/utils.js';
import { blake2b } from '@noble/hashes/blake2.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256, sha512, sha512_256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { AuthenticationError, InvalidLengthError, LowOrderPointError, requireLength } from './errors.js';
import { checkChachaCounter } from './chacha-counter.js';
import { hkdfExpandWith, hkdfWith } from './hkdf-expand.js';
import type { Crypto } from './types.js';

/**
 * Pure JavaScript through the audited @noble libraries: runs anywhere (browsers included, hence no
 * node: imports) and must match sodium.ts byte for byte, errors included. Where noble's defaults
 * differ from libsodium (Ed25519 verification rules) the code below follows libsodium and says why.
 */

/** getRandomValues, and so noble's randomBytes, refuses more than 64 KiB per call. */
const RANDOM_CHUNK = 65536;

function outputFor(input: Uint8Array, out: Uint8Array | undefined): Uint8Array {
  if (out === undefined) return new Uint8Array(input.length);
  requireLength('stream output', out, input.length);
  return out;
}

/**
 * The bytes to read when writing to `target`. Exactly in place is fine for noble, but it refuses an
 * `out` that starts inside the input; copying a partially overlapped input first gives the result
 * of reading all input before writing, which is what node:crypto's AES in sodium.ts does.
 */
function sourceFor(input: Uint8Array, target: Uint8Array): Uint8Array {
  const sameBuffer = input.buffer === target.buffer;
  const overlaps =
    sameBuffer &&
    input.byteOffset < target.byteOffset + target.length &&
    target.byteOffset < input.byteOffset + input.length;
  return overlaps && input.byteOffset !== target.byteOffset ? input.slice() : input;
}

const hmacSha256 = (key: Uint8Array, message: Uint8Array): Uint8Array => hmac(sha256, key, message);

// --- Ed25519 verification, libsodium's rules ------------------------------------------------

const Point = ed25519.Point;
const FIELD_P = Point.Fp.ORDER;
const GROUP_L = Point.Fn.ORDER;

/** The y coordinate an encoding names, sign bit dropped and not reduced. */
function encodedY(bytes: Uint8Array): bigint {
  const copy = bytes.slice();
  copy[31] &= 0x7f;
  return bytesToNumberLE(copy);
}

/** y mod p of the eight small-order points; libsodium's blacklist is these plus p and p + 1. */
const SMALL_ORDER_Y = new Set(ED25519_TORSION_SUBGROUP.map((hex) => encodedY(hexToBytes(hex))));

const hasSmallOrder = (encoding: Uint8Array): boolean => SMALL_ORDER_Y.has(encodedY(encoding) % FIELD_P);

/**
 * libsodium's crypto_sign_verify_detached, step for step. noble's own verify is cofactored and
 * accepts small-order R, so crafted signatures would verify on one backend and not the other.
 * libsodium: S < L; R and A not of small order; A canonical; then the cofactorless check that
 * [S]B - [k]A encodes to exactly the bytes of R.
 */
function verifyLikeLibsodium(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const r = signature.subarray(0, 32);
  const s = bytesToNumberLE(signature.subarray(32, 64));
  if (s >= GROUP_L || hasSmallOrder(r)) return false;
  if (encodedY(publicKey) >= FIELD_P || hasSmallOrder(publicKey)) return false;
  let a;
  try {
    a = Point.fromBytes(publicKey);
  } catch {
    return false; // not on the curve
  }
  const k = bytesToNumberLE(sha512.create().update(r).update(publicKey).update(message).digest()) % GROUP_L;
  const check = Point.BASE.multiplyUnsafe(s).subtract(a.multiplyUnsafe(k)).toBytes();
  return constantTimeEqual(check, r);
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}

// --- The backend ------------------------------------------------------------------------------

export const nobleCrypto: Crypto = {
  name: 'noble',

  randomBytes(length) {
    const out = new Uint8Array(length);
    for (let offset = 0; offset < length; offset += RANDOM_CHUNK) {
      out.set(randomBytes(Math.min(RANDOM_CHUNK, length - offset)), offset);
    }
    return out;
  },

  x25519(scalar, point, out) {
    requireLength('X25519 scalar', scalar, 32);
    requireLength('X25519 point', point, 32);
    if (out !== undefined) requireLength('X25519 output', out, 32);
    let result: Uint8Array;
    try {
      result = x25519.getSharedSecret(scalar, point);
    } catch {
      // With the lengths checked, noble fails only on a small-order u (it refuses them up front).
      throw new LowOrderPointError();
    }
    if (out === undefined) return result;
    out.set(result);
    return out;
  },

  x25519Base(scalar) {
    requireLength('X25519 scalar', scalar, 32);
    return x25519.getPublicKey(scalar);
  },

  ed25519PublicKey(seed) {
    requireLength('Ed25519 seed', seed, 32);
    return ed25519.getPublicKey(seed);
  },

  ed25519Sign(seed, message) {
    requireLength('Ed25519 seed', seed, 32);
    return ed25519.sign(message, seed);
  },

  ed25519Verify(publicKey, message, signature) {
    if (publicKey.length !== 32 || signature.length !== 64) return false;
    return verifyLikeLibsodium(publicKey, message, signature);
  },

  blake2b(outLength, message, key, out) {
    if (!Number.isInteger(outLength) || outLength < 1 || outLength > 64) {
      throw new InvalidLengthError('BLAKE2b output', '1..64', outLength);
    }
    if (key !== undefined && (key.length < 16 || key.length > 64)) {
      throw new InvalidLengthError('BLAKE2b key', '16..64', key.length);
    }
    const digest = blake2b(message, { dkLen: outLength, key });
    if (out === undefined) return digest;
    requireLength('BLAKE2b output', out, outLength);
    out.set(digest);
    return out;
  },

  chacha20Xor(key, nonce, input, counter = 0, out) {
    requireLength('ChaCha20 key', key, 32);
    const target = outputFor(input, out);
    if (nonce.length !== 8 && nonce.length !== 12) throw new InvalidLengthError('ChaCha20 nonce', '8 or 12', nonce.length);
    checkChachaCounter(counter, input.length);
    const cipher = nonce.length === 8 ? chacha20orig : chacha20;
    cipher(key, nonce, sourceFor(input, target), target, counter);
    return target;
  },

  chacha20Stream(key, nonce, out) {
    requireLength('ChaCha20 key', key, 32);
    if (!(out instanceof Uint8Array)) throw new InvalidLengthError('ChaCha20 keystream output', 'a byte array of any length', -1);
    if (nonce.length !== 8 && nonce.length !== 12) throw new InvalidLengthError('ChaCha20 nonce', '8 or 12', nonce.length);
    checkChachaCounter(0, out.length);
    out.fill(0);
    (nonce.length === 8 ? chacha20orig : chacha20)(key, nonce, out, out, 0);
    return out;
  },

  xchacha20Xor(key, nonce, input, out) {
    requireLength('XChaCha20 key', key, 32);
    requireLength('XChaCha20 nonce', nonce, 24);
    const target = outputFor(input, out);
    xchacha20(key, nonce, sourceFor(input, target), target);
    return target;
  },

  xchacha20Poly1305Seal(key, nonce, plaintext, ad) {
    requireLength('XChaCha20-Poly1305 key', key, 32);
    requireLength('XChaCha20-Poly1305 nonce', nonce, 24);
    return xchacha20poly1305(key, nonce, ad).encrypt(plaintext);
  },

  xchacha20Poly1305Open(key, nonce, sealed, ad) {
    requireLength('XChaCha20-Poly1305 key', key, 32);
    requireLength('XChaCha20-Poly1305 nonce', nonce, 24);
    if (sealed.length < 16) throw new AuthenticationError('XChaCha20-Poly1305');
    try {
      return xchacha20poly1305(key, nonce, ad).decrypt(sealed);
    } catch {
      throw new AuthenticationError('XChaCha20-Poly1305');
    }
  },

  hmacSha256,

  hkdfSha256(ikm, salt, info, length) {
    return hkdfWith(hmacSha256, ikm, salt, info, length);
  },

  hkdfSha256Expand(prk, info, length) {
    return hkdfExpandWith(hmacSha256, prk, info, length);
  },

  sha256: (message) => sha256(message),
  sha512: (message) => sha512(message),
  sha512_256: (message) => sha512_256(message),

  aes256CtrXor(key, iv, input, out) {
    requireLength('AES-256 key', key, 32);
    requireLength('AES-CTR IV', iv, 16);
    const target = outputFor(input, out);
    const cipher = ctr(key, iv);
    const source = sourceFor(input, target);
    // noble writes into a caller buffer through 32-bit words, so it must be 4-byte aligned.
    if (target.byteOffset % 4 === 0) cipher.encrypt(source, target);
    else target.set(cipher.encrypt(source));
    return target;
  },

  constantTimeEqual,
};
