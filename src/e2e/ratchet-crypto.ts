import { ByteReader, ByteWriter, concatBytes } from '../codec/bytes.js';
import { DecodeError } from '../codec/errors.js';
import { AuthenticationError, LowOrderPointError } from '../crypto/errors.js';
import type { RandomSource } from '../crypto/seeded-random.js';
import type { Crypto } from '../crypto/types.js';
import { E2eError } from './errors.js';

/**
 * The external functions of the Double Ratchet with header encryption (Signal, "The Double
 * Ratchet Algorithm", rev. 1, sections 3 and 4) as Umbra instantiates them: GENERATE_DH, DH,
 * KDF_RK_HE, KDF_CK, ENCRYPT, HENCRYPT / HDECRYPT and the header and message formats.
 * docs/e2e-ratchet.md gives every byte. Internal to the ratchet: the public API is `ratchet.ts`.
 */

/** Every ratchet key (root, chain, message, header, X25519) is 32 bytes. */
export const KEY_LENGTH = 32;
/** Plain header: DH public (32) ‖ PN (u32) ‖ N (u32). */
export const HEADER_LENGTH = KEY_LENGTH + 4 + 4;
export const NONCE_LENGTH = 24;
export const TAG_LENGTH = 16;
/** HENCRYPT output: nonce (24) ‖ sealed header (40) ‖ tag (16) = 80 bytes. */
export const ENCRYPTED_HEADER_LENGTH = NONCE_LENGTH + HEADER_LENGTH + TAG_LENGTH;
/** The largest plaintext one ratchet message carries: 16 MiB. */
export const MAX_PLAINTEXT_LENGTH = 16 * 1024 * 1024;
/** u16 header length ‖ encrypted header ‖ body tag: what a message adds to its plaintext. */
export const MESSAGE_OVERHEAD = 2 + ENCRYPTED_HEADER_LENGTH + TAG_LENGTH;
export const MAX_MESSAGE_LENGTH = MAX_PLAINTEXT_LENGTH + MESSAGE_OVERHEAD;
/**
 * Message numbers are u32 on the wire; N = 2^32 - 1 is never sent, so that Nr (the next expected
 * number) still fits a u32 after the last message of a chain.
 */
export const MAX_MESSAGE_NUMBER = 0xfffffffe;

const encoder = new TextEncoder();
const INFO_ROOT = encoder.encode('umbra ratchet root');
const INFO_MESSAGE = encoder.encode('umbra ratchet message');
const INFO_HEADER_KEYS = encoder.encode('umbra ratchet header keys');
const ZERO_SALT = new Uint8Array(KEY_LENGTH);
const CK_MESSAGE = Uint8Array.of(0x01);
const CK_NEXT = Uint8Array.of(0x02);

/** An X25519 ratchet key pair. */
export interface KeyPair {
  secret: Uint8Array;
  public: Uint8Array;
}

/** The header a ratchet message carries (encrypted): the sender's ratchet key, PN and N. */
export interface Header {
  dh: Uint8Array;
  pn: number;
  n: number;
}

/** GENERATE_DH: secret = random(32), public = X25519(secret, 9). */
export function generateDh(crypto: Crypto, random: RandomSource): KeyPair {
  const secret = random(KEY_LENGTH);
  return { secret, public: crypto.x25519Base(secret) };
}

/** DH: X25519; a small-order peer key is the peer's fault, so it is a 'bad-message'. */
export function dh(crypto: Crypto, secret: Uint8Array, peerPublic: Uint8Array): Uint8Array {
  try {
    return crypto.x25519(secret, peerPublic);
  } catch (error) {
    if (error instanceof LowOrderPointError) throw new E2eError('bad-message', 'the peer ratchet key has small order');
    throw error;
  }
}

/** KDF_RK_HE: HKDF-SHA256(ikm = dh_out, salt = rk, info = "umbra ratchet root", 96) → RK, CK, NHK. */
export function kdfRkHe(crypto: Crypto, rk: Uint8Array, dhOut: Uint8Array): [Uint8Array, Uint8Array, Uint8Array] {
  const okm = crypto.hkdfSha256(dhOut, rk, INFO_ROOT, 3 * KEY_LENGTH);
  return [okm.slice(0, 32), okm.slice(32, 64), okm.slice(64, 96)];
}

/** KDF_CK: next CK = HMAC-SHA256(ck, 0x02), MK = HMAC-SHA256(ck, 0x01). Returns [next CK, MK]. */
export function kdfCk(crypto: Crypto, ck: Uint8Array): [Uint8Array, Uint8Array] {
  return [crypto.hmacSha256(ck, CK_NEXT), crypto.hmacSha256(ck, CK_MESSAGE)];
}

/** shared_hka ‖ shared_nhkb = HKDF-SHA256(ikm = SK, salt = 0^32, info = "umbra ratchet header keys", 64). */
export function initialHeaderKeys(crypto: Crypto, sharedSecret: Uint8Array): [Uint8Array, Uint8Array] {
  const okm = crypto.hkdfSha256(sharedSecret, ZERO_SALT, INFO_HEADER_KEYS, 2 * KEY_LENGTH);
  return [okm.slice(0, 32), okm.slice(32, 64)];
}

/** key 32 ‖ nonce 24 = HKDF-SHA256(ikm = mk, salt = 0^32, info = "umbra ratchet message", 56). */
function messageKeyAndNonce(crypto: Crypto, mk: Uint8Array): [Uint8Array, Uint8Array] {
  const okm = crypto.hkdfSha256(mk, ZERO_SALT, INFO_MESSAGE, KEY_LENGTH + NONCE_LENGTH);
  return [okm.subarray(0, KEY_LENGTH), okm.subarray(KEY_LENGTH)];
}

/** ENCRYPT(mk, plaintext, ad): XChaCha20-Poly1305 under the key and nonce derived from mk. */
export function encryptBody(crypto: Crypto, mk: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  const [key, nonce] = messageKeyAndNonce(crypto, mk);
  return crypto.xchacha20Poly1305Seal(key, nonce, plaintext, ad);
}

/** DECRYPT(mk, ciphertext, ad); a body that does not authenticate is a 'bad-message'. */
export function decryptBody(crypto: Crypto, mk: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array): Uint8Array {
  const [key, nonce] = messageKeyAndNonce(crypto, mk);
  try {
    return crypto.xchacha20Poly1305Open(key, nonce, ciphertext, ad);
  } catch (error) {
    if (error instanceof AuthenticationError) throw new E2eError('bad-message', 'the message body does not authenticate');
    throw error;
  }
}

/** HEADER(dh, pn, n) = DH public (32) ‖ PN (u32 big-endian) ‖ N (u32 big-endian). */
export function encodeHeader(header: Header): Uint8Array {
  return new ByteWriter(HEADER_LENGTH).bytes(header.dh).u32(header.pn).u32(header.n).finish();
}

function decodeHeader(bytes: Uint8Array): Header {
  const reader = new ByteReader(bytes, 'ratchet header');
  const header = { dh: reader.bytesOf(KEY_LENGTH, 'dh'), pn: reader.u32('pn'), n: reader.u32('n') };
  reader.end();
  return header;
}

/** HENCRYPT(hk, header) = nonce (24 random bytes) ‖ XChaCha20-Poly1305(hk, nonce, header). */
export function hencrypt(crypto: Crypto, random: RandomSource, hk: Uint8Array, header: Header): Uint8Array {
  const nonce = random(NONCE_LENGTH);
  return concatBytes(nonce, crypto.xchacha20Poly1305Seal(hk, nonce, encodeHeader(header)));
}

/** HDECRYPT(hk, encrypted header): the header, or null when the tag does not verify under hk. */
export function hdecrypt(crypto: Crypto, hk: Uint8Array, encryptedHeader: Uint8Array): Header | null {
  if (encryptedHeader.length !== ENCRYPTED_HEADER_LENGTH) return null;
  const nonce = encryptedHeader.subarray(0, NONCE_LENGTH);
  try {
    return decodeHeader(crypto.xchacha20Poly1305Open(hk, nonce, encryptedHeader.subarray(NONCE_LENGTH)));
  } catch (error) {
    if (error instanceof AuthenticationError) return null;
    throw error;
  }
}

/** A ratchet message on the wire: u16 encrypted-header length ‖ encrypted header ‖ body. */
export function encodeMessage(encryptedHeader: Uint8Array, body: Uint8Array): Uint8Array {
  return new ByteWriter(2 + encryptedHeader.length + body.length).prefixed(2, encryptedHeader).bytes(body).finish();
}

/**
 * Splits a message; anything oversized, truncated or with a wrong header length is a 'bad-message'.
 * Without `withBody` the body is checked but not copied (header routing reads only the header).
 */
export function parseMessage(message: Uint8Array, withBody = true): { encryptedHeader: Uint8Array; body: Uint8Array } {
  if (!(message instanceof Uint8Array)) throw new E2eError('bad-message', 'a ratchet message must be bytes');
  if (message.length > MAX_MESSAGE_LENGTH) throw new E2eError('bad-message', 'the ratchet message is too large');
  if (message.length < MESSAGE_OVERHEAD) throw new E2eError('bad-message', 'the ratchet message is truncated');
  const reader = new ByteReader(message, 'ratchet message');
  try {
    const encryptedHeader = reader.prefixed(2, ENCRYPTED_HEADER_LENGTH, 'encrypted header');
    if (encryptedHeader.length !== ENCRYPTED_HEADER_LENGTH) {
      throw new DecodeError('ratchet message', `encrypted header is ${encryptedHeader.length} bytes, not ${ENCRYPTED_HEADER_LENGTH}`);
    }
    if (reader.remaining < TAG_LENGTH) throw new DecodeError('ratchet message', 'body shorter than its tag');
    return { encryptedHeader, body: withBody ? reader.rest() : new Uint8Array(0) };
  } catch (error) {
    if (error instanceof DecodeError) throw new E2eError('bad-message', error.message);
    throw error;
  }
}
