/**
 * Typed errors raised by the crypto floor. Callers switch on `code`, never on message text.
 */
export type CryptoErrorCode =
  | 'low-order-point'
  | 'authentication-failed'
  | 'invalid-length'
  | 'counter-out-of-range';

export class CryptoError extends Error {
  readonly code: CryptoErrorCode;
  constructor(code: CryptoErrorCode, message: string) {
    super(message);
    this.name = 'CryptoError';
    this.code = code;
  }
}

/** X25519 produced the all-zero output: the peer's point has small order. */
export class LowOrderPointError extends CryptoError {
  constructor() {
    super('low-order-point', 'X25519: the point has small order (all-zero shared secret)');
    this.name = 'LowOrderPointError';
  }
}

export class AuthenticationError extends CryptoError {
  constructor(what: string) {
    super('authentication-failed', `${what}: authentication failed`);
    this.name = 'AuthenticationError';
  }
}

export class InvalidLengthError extends CryptoError {
  constructor(what: string, expected: string, actual: number) {
    super('invalid-length', `${what}: expected ${expected} bytes, got ${actual}`);
    this.name = 'InvalidLengthError';
  }
}

/** Throws InvalidLengthError unless `bytes` has exactly `length` bytes. */
export function requireLength(what: string, bytes: Uint8Array, length: number): Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw new InvalidLengthError(what, String(length), bytes instanceof Uint8Array ? bytes.length : -1);
  }
  return bytes;
}

/** A stream cipher asked for a block number outside the range every backend supports. */
export class CounterRangeError extends CryptoError {
  constructor(what: string, detail: string) {
    super('counter-out-of-range', `${what}: ${detail}`);
    this.name = 'CounterRangeError';
  }
}
