import { DecodeError } from '../codec/errors.js';
import { MAX_BUCKETS } from '../store/mailbox.js';
import { bodyReader, checkEpoch, checkU32, messageWriter, MESSAGE_HEADER_BYTES, requestIdOf } from './message.js';
import { ERROR, readErrorResponse, refuseMalformed, RetrievalRequestError, type ErrorResponse } from './retrieval-errors.js';

/**
 * The bucket fetches of the provider's client protocol (docs/network.md, "Client protocols"), as
 * pure encoders and decoders shared by the provider and clients:
 *
 *   fetch bucket  0x01 ‖ request id (u32) ‖ epoch (u64) ‖ bucket (u32) ‖ buckets (u32)
 *   fetch epoch   0x02 ‖ request id (u32) ‖ epoch (u64)
 *   messages      0x81 ‖ request id (u32) ‖ count (u32) ‖ count × (address (32) ‖ length (u32) ‖ stored ciphertext)
 *   error         0xE0 ‖ request id (u32) ‖ code (u16) ‖ length (u16) ‖ UTF-8 reason   (retrieval-errors.ts)
 *
 * The PIR requests (0x03 … 0x06) and their responses are in pir-messages.ts.
 */
export const FETCH_BUCKET = 0x01;
export const FETCH_EPOCH = 0x02;
export const MESSAGES = 0x81;

export const FETCH_BUCKET_BYTES = 21;
export const FETCH_EPOCH_BYTES = 13;
const ADDRESS_BYTES = 32;

/** One stored ciphertext as fetched, under the mailbox address it was stored for. */
export interface StoredItem {
  readonly address: Uint8Array;
  readonly ciphertext: Uint8Array;
}

export type RetrievalRequest =
  | { readonly type: 'bucket'; readonly requestId: number; readonly epoch: number; readonly bucket: number; readonly buckets: number }
  | { readonly type: 'epoch'; readonly requestId: number; readonly epoch: number };

export type RetrievalResponse =
  | { readonly type: 'messages'; readonly requestId: number; readonly messages: StoredItem[] }
  | ErrorResponse;

export function encodeFetchBucket(requestId: number, epoch: number, bucket: number, buckets: number): Uint8Array {
  checkEpoch(epoch);
  checkU32(bucket, 'bucket');
  checkU32(buckets, 'buckets');
  return messageWriter(FETCH_BUCKET, requestId, FETCH_BUCKET_BYTES).u64(epoch).u32(bucket).u32(buckets).finish();
}

export function encodeFetchEpoch(requestId: number, epoch: number): Uint8Array {
  checkEpoch(epoch);
  return messageWriter(FETCH_EPOCH, requestId, FETCH_EPOCH_BYTES).u64(epoch).finish();
}

/** Parses a request; RetrievalRequestError for anything that is not a valid one. */
export function decodeRetrievalRequest(bytes: Uint8Array): RetrievalRequest {
  const requestId = requestIdOf(bytes);
  if (bytes.length === 0) throw new RetrievalRequestError('malformed', 0, 'empty request');
  const type = bytes[0];
  if (type !== FETCH_BUCKET && type !== FETCH_EPOCH) throw new RetrievalRequestError('unknown-command', requestId, 'unknown request type');
  const expected = type === FETCH_BUCKET ? FETCH_BUCKET_BYTES : FETCH_EPOCH_BYTES;
  if (bytes.length !== expected) throw new RetrievalRequestError('malformed', requestId, `this request is exactly ${expected} bytes`);
  const reader = bodyReader(bytes, 'retrieval request');
  const epoch = refuseMalformed(requestId, () => reader.u64('epoch'));
  if (type === FETCH_EPOCH) return { type: 'epoch', requestId, epoch };
  const bucket = reader.u32('bucket');
  const buckets = reader.u32('buckets');
  if (buckets < 1 || buckets > MAX_BUCKETS || bucket >= buckets) {
    throw new RetrievalRequestError('bad-buckets', requestId, `buckets must lie in 1..${MAX_BUCKETS} and the bucket below it`);
  }
  return { type: 'bucket', requestId, epoch, bucket, buckets };
}

/** The size of a `messages` response holding these ciphertexts. */
export function messagesResponseBytes(ciphertextLengths: Iterable<number>): number {
  let total = MESSAGE_HEADER_BYTES + 4;
  for (const length of ciphertextLengths) total += ADDRESS_BYTES + 4 + length;
  return total;
}

export function encodeMessagesResponse(requestId: number, messages: readonly StoredItem[]): Uint8Array {
  const writer = messageWriter(MESSAGES, requestId, messagesResponseBytes(messages.map((m) => m.ciphertext.length)));
  writer.u32(messages.length);
  for (const { address, ciphertext } of messages) {
    if (address.length !== ADDRESS_BYTES) throw new RangeError('an address is 32 bytes');
    writer.bytes(address).prefixed(4, ciphertext);
  }
  return writer.finish();
}

/**
 * Parses a provider's response (for clients); DecodeError when it is not a well-formed one or holds
 * a stored ciphertext longer than `maxCiphertextBytes`.
 */
export function decodeRetrievalResponse(bytes: Uint8Array, maxCiphertextBytes = 0xffffffff): RetrievalResponse {
  const reader = bodyReader(bytes, 'provider response');
  const type = bytes[0];
  const requestId = requestIdOf(bytes);
  if (type === ERROR) return readErrorResponse(reader, requestId);
  if (type !== MESSAGES) throw new DecodeError('provider response', 'unknown response type');
  const count = reader.u32('count');
  const messages: StoredItem[] = [];
  for (let i = 0; i < count; i++) {
    const address = reader.bytesOf(ADDRESS_BYTES, 'address');
    messages.push({ address, ciphertext: reader.prefixed(4, maxCiphertextBytes, 'stored ciphertext') });
  }
  reader.end();
  return { type: 'messages', requestId, messages };
}
