import type { ByteReader } from '../codec/bytes.js';
import { DecodeError } from '../codec/errors.js';
import { messageWriter, MESSAGE_HEADER_BYTES } from './message.js';

/**
 * The `error` response of the provider's client protocol, the answer to any request that cannot
 * be served (docs/network.md, "Client protocols"):
 *
 *   error  0xE0 ‖ request id (u32) ‖ code (u16) ‖ length (u16) ‖ UTF-8 reason
 */
export const ERROR = 0xe0;

/** Error codes of the `error` response (u16). */
export const RETRIEVAL_ERRORS = Object.freeze({
  /** The request is not the length its type needs, or a field is out of range (an epoch beyond 2^53 − 1). */
  malformed: 1,
  /** The first byte names no request. */
  'unknown-command': 2,
  /** `buckets` is outside 1..2^20, or `bucket` is not below it. */
  'bad-buckets': 3,
  /** The epoch is in the future, or older than the provider's retention. */
  'epoch-not-held': 4,
  /** The answer would exceed the provider's largest response: fetch with more buckets. */
  'too-large': 5,
  /** Too many requests in flight on this connection, or its send buffer is full. */
  busy: 6,
  /** The mailbox store cannot be read (an I/O error); retry later. */
  'store-io': 7,
  /** The mailbox store is full. */
  'store-full': 8,
  /** The provider is closing. */
  unavailable: 9,
  internal: 10,
  /** PIR: the snapshot id names no snapshot this provider holds (never built here, or expired). */
  'unknown-snapshot': 11,
  /** PIR: the DPF key does not decode, or was made for another number of rows than the snapshot's. */
  'bad-key': 12,
  /** PIR: the DPF key is longer than the longest key (477 bytes). */
  'key-too-large': 13,
  /** PIR: no partner provider in the consensus, or the snapshot could not be replicated to it; retry later. */
  'pir-unavailable': 14,
  /** PIR replication: an offer from no partner, a bad signature, a shape out of bounds, or data that does not hash to the id. */
  'bad-snapshot': 15,
  /** The network retrieves by PIR: the provider answers no bucket or whole-epoch fetch by address. */
  'pir-only': 16,
});

export type RetrievalErrorName = keyof typeof RETRIEVAL_ERRORS;

export interface ErrorResponse {
  readonly type: 'error';
  readonly requestId: number;
  readonly code: number;
  readonly reason: string;
}

/** A request that cannot be served, with the request id when it could be read (else 0). */
export class RetrievalRequestError extends Error {
  constructor(
    readonly code: RetrievalErrorName,
    readonly requestId: number,
    message: string,
  ) {
    super(message);
    this.name = 'RetrievalRequestError';
  }
}

/** Runs a request decoder; a DecodeError (a field out of range) becomes a 'malformed' refusal. */
export function refuseMalformed<T>(requestId: number, decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    if (error instanceof DecodeError) throw new RetrievalRequestError('malformed', requestId, error.message);
    throw error;
  }
}

export function encodeErrorResponse(requestId: number, code: number, reason: string): Uint8Array {
  if (!Number.isInteger(code) || code < 0 || code > 0xffff) throw new RangeError('code must be a u16');
  const text = new TextEncoder().encode(reason).subarray(0, 0xffff);
  return messageWriter(ERROR, requestId, MESSAGE_HEADER_BYTES + 4 + text.length).u16(code).prefixed(2, text).finish();
}

/** The body of an `error` response, the reader past its header; DecodeError when it is malformed. */
export function readErrorResponse(reader: ByteReader, requestId: number): ErrorResponse {
  const code = reader.u16('code');
  const reason = reader.text(2, 0xffff, 'reason');
  reader.end();
  return { type: 'error', requestId, code, reason };
}
