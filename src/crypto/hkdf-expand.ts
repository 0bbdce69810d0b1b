import { InvalidLengthError } from './errors.js';

/**
 * RFC 5869 HKDF (Extract then Expand) over any HMAC-SHA256. Extract is PRK = HMAC(salt, IKM); an
 * empty salt equals RFC 5869's HashLen zero bytes under HMAC. node's hkdfSync is not used: it caps
 * `info` at 1024 bytes, which RFC 5869 does not.
 */
export function hkdfWith(
  hmac: (key: Uint8Array, message: Uint8Array) => Uint8Array,
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  if (!Number.isInteger(length) || length < 1 || length > 255 * 32) {
    throw new InvalidLengthError('HKDF output', `1..${255 * 32}`, length);
  }
  return hkdfExpandWith(hmac, hmac(salt, ikm), info, length);
}

/**
 * RFC 5869 HKDF-Expand over any HMAC-SHA256. node:crypto offers HKDF only with its Extract step,
 * and the Katzenpost suite needs Expand alone, so the sodium backend builds it from node's HMAC.
 */
export function hkdfExpandWith(
  hmac: (key: Uint8Array, message: Uint8Array) => Uint8Array,
  prk: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  const hashLength = 32;
  if (!Number.isInteger(length) || length < 0 || length > 255 * hashLength) {
    throw new InvalidLengthError('HKDF-Expand output', `0..${255 * hashLength}`, length);
  }
  const out = new Uint8Array(length);
  let previous: Uint8Array = new Uint8Array(0);
  const block = new Uint8Array(hashLength + info.length + 1);
  for (let counter = 1, offset = 0; offset < length; counter++) {
    // T(i) = HMAC(PRK, T(i-1) | info | i)
    const input = block.subarray(0, previous.length + info.length + 1);
    input.set(previous, 0);
    input.set(info, previous.length);
    input[previous.length + info.length] = counter;
    previous = hmac(prk, input);
    out.set(previous.subarray(0, Math.min(hashLength, length - offset)), offset);
    offset += hashLength;
  }
  return out;
}
