import { ByteReader, ByteWriter } from '../codec/bytes.js';

/**
 * What every message of the provider's client protocol shares (docs/network.md, "Client
 * protocols"): one binary WebSocket message per request and per response, big-endian, opening with
 * `type (u8) ‖ request id (u32)`; the rest is the body of its type.
 */
export const MESSAGE_HEADER_BYTES = 5;

/**
 * The largest request a provider reads; a longer message closes the WebSocket (1009). Sized for the
 * largest PIR message, a snapshot chunk between partner providers (pir-messages.ts).
 */
export const MAX_REQUEST_BYTES = 64 * 1024;

export function checkU32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`${what} must be a u32`);
}

export function checkEpoch(epoch: number): void {
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError('epoch must be a non-negative safe integer');
}

export function checkBytes(bytes: Uint8Array, length: number, what: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) throw new RangeError(`${what} must be ${length} bytes`);
}

/** A writer holding a message's header, sized for the whole message of `length` bytes. */
export function messageWriter(type: number, requestId: number, length: number): ByteWriter {
  checkU32(requestId, 'requestId');
  return new ByteWriter(length).u8(type).u32(requestId);
}

/** The request id of a message, or 0 when it is too short to carry one. */
export function requestIdOf(bytes: Uint8Array): number {
  if (bytes.length < MESSAGE_HEADER_BYTES) return 0;
  const reader = new ByteReader(bytes.subarray(1, MESSAGE_HEADER_BYTES), 'message');
  return reader.u32('request id');
}

/** A reader past the header of a message already known to carry one. */
export function bodyReader(bytes: Uint8Array, what: string): ByteReader {
  const reader = new ByteReader(bytes, what);
  reader.u8('type');
  reader.u32('request id');
  return reader;
}
