import { concatBytes } from '../codec/bytes.js';
import type { Crypto } from '../crypto/types.js';
import { E2eError } from './errors.js';
import { isKey } from './identity.js';

/**
 * Safety numbers (docs/e2e-card.md): Signal's numeric fingerprint (libsignal's
 * NumericFingerprintGenerator, hash version 0, 5200 iterations) over each card, with
 *   key        = X25519 public ‖ Ed25519 public (64 bytes)
 *   identifier = the UTF-8 name.
 * Each card gives 30 digits; the two halves are sorted and concatenated, so both users compute the
 * same 60 digits whatever the order of the arguments.
 */

/** The parts of a contact card a safety number covers. */
export interface SafetyNumberInput {
  readonly x25519Public: Uint8Array;
  readonly ed25519Public: Uint8Array;
  readonly name: string;
}

export const SAFETY_NUMBER_ITERATIONS = 5200;
export const SAFETY_NUMBER_DIGITS = 60;
/** Signal's fingerprint hash version: the two bytes 00 00 that start the first hash input. */
const HASH_VERSION = new Uint8Array([0, 0]);

/**
 * Signal's 30-digit half:
 *   H_0 = 00 00 ‖ key ‖ identifier
 *   H_i = SHA-512(H_{i-1} ‖ key)           for i = 1 .. iterations
 *   for j = 0..5: (bytes 5j .. 5j+4 of H_iterations, a 40-bit big-endian integer) mod 100000,
 *   written as 5 decimal digits with leading zeros.
 */
export function numericFingerprint(crypto: Crypto, key: Uint8Array, identifier: Uint8Array, iterations = SAFETY_NUMBER_ITERATIONS): string {
  let hash = concatBytes(HASH_VERSION, key, identifier);
  for (let i = 0; i < iterations; i++) hash = crypto.sha512(concatBytes(hash, key));
  let digits = '';
  for (let chunk = 0; chunk < 6; chunk++) {
    let value = 0;
    for (let j = 0; j < 5; j++) value = value * 256 + hash[chunk * 5 + j]; // < 2^40: exact in a double
    digits += String(value % 100000).padStart(5, '0');
  }
  return digits;
}

/** The 30 digits one card contributes. */
export function safetyNumberHalf(crypto: Crypto, card: SafetyNumberInput): string {
  if (!isKey(card.x25519Public) || !isKey(card.ed25519Public) || typeof card.name !== 'string') {
    throw new E2eError('bad-card', 'a safety number needs two 32-byte public keys and a name');
  }
  const key = concatBytes(card.x25519Public, card.ed25519Public);
  return numericFingerprint(crypto, key, new TextEncoder().encode(card.name));
}

/** The 60-digit safety number of two cards; symmetric in its arguments. */
export function safetyNumber(crypto: Crypto, a: SafetyNumberInput, b: SafetyNumberInput): string {
  const halves = [safetyNumberHalf(crypto, a), safetyNumberHalf(crypto, b)].sort();
  return halves[0] + halves[1];
}

/** The safety number as people read it: 12 groups of 5 digits separated by spaces. */
export function formatSafetyNumber(digits: string): string {
  return digits.match(/\d{1,5}/g)?.join(' ') ?? '';
}
