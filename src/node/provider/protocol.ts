/**
 * The provider's client protocol (docs/network.md, "Client protocols"), as pure encoders and
 * decoders shared by the provider and clients: one binary WebSocket message per request and per
 * response, big-endian.
 *
 *   fetch bucket  0x01 ‖ request id (u32) ‖ epoch (u64) ‖ bucket (u32) ‖ buckets (u32)
 *   fetch epoch   0x02 ‖ request id (u32) ‖ epoch (u64)
 *   messages      0x81 ‖ request id (u32) ‖ count (u32) ‖ count × (address (32) ‖ length (u32) ‖ stored ciphertext)
 *   error         0xE0 ‖ request id (u32) ‖ code (u16) ‖ length (u16) ‖ UTF-8 reason
 *
 * The PIR requests (0x03 … 0x06) and their responses are in pir-protocol.ts.
 *
 * And what a provider stores (docs/network.md, "What a provider stores"):
 *
 *   forward delivery  0x01 ‖ forward payload
 *   SURB reply        0x02 ‖ SURB ID (16) ‖ reply payload
 */
export const FETCH_BUCKET = 0x01;
export const FETCH_EPOCH = 0x02;
export const MESSAGES = 0x81;
export const ERROR = 0xe0;

export const FETCH_BUCKET_BYTES = 21;
export const FETCH_EPOCH_BYTES = 13;
/**
 * The largest request a provider reads; a longer message closes the WebSocket (1009). Sized for the
 * largest PIR message, a snapshot chunk between partner providers (pir-protocol.ts).
 */
export const MAX_REQUEST_BYTES = 64 * 1024;
export const MAX_BUCKETS = 1 << 20;
const ADDRESS_BYTES = 32;
const SURB_ID_BYTES = 16;

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
  /** PIR: the DPF key is longer than the longest key (463 bytes). */
  'key-too-large': 13,
  /** PIR: no partner provider in the consensus, or the snapshot could not be replicated to it; retry later. */
  'pir-unavailable': 14,
  /** PIR replication: an offer from no partner, a bad signature, a shape out of bounds, or data that does not hash to the id. */
  'bad-snapshot': 15,
});

export type RetrievalErrorName = keyof typeof RETRIEVAL_ERRORS;

export type RetrievalRequest =
  | { readonly type: 'bucket'; readonly requestId: number; readonly epoch: number; readonly bucket: number; readonly buckets: number }
  | { readonly type: 'epoch'; readonly requestId: number; readonly epoch: number };

export type RetrievalResponse =
  | { readonly type: 'messages'; readonly requestId: number; readonly messages: readonly { readonly address: Uint8Array; readonly ciphertext: Uint8Array }[] }
  | { readonly type: 'error'; readonly requestId: number; readonly code: number; readonly reason: string };

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

// Field helpers shared by every retrieval message (this file's and pir-protocol.ts's).
export function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function checkU32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`${what} must be a u32`);
}

export function checkEpoch(epoch: number): void {
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError('epoch must be a non-negative safe integer');
}

export function encodeFetchBucket(requestId: number, epoch: number, bucket: number, buckets: number): Uint8Array {
  checkU32(requestId, 'requestId');
  checkEpoch(epoch);
  checkU32(bucket, 'bucket');
  checkU32(buckets, 'buckets');
  const out = new Uint8Array(FETCH_BUCKET_BYTES);
  const v = view(out);
  out[0] = FETCH_BUCKET;
  v.setUint32(1, requestId);
  v.setBigUint64(5, BigInt(epoch));
  v.setUint32(13, bucket);
  v.setUint32(17, buckets);
  return out;
}

export function encodeFetchEpoch(requestId: number, epoch: number): Uint8Array {
  checkU32(requestId, 'requestId');
  checkEpoch(epoch);
  const out = new Uint8Array(FETCH_EPOCH_BYTES);
  out[0] = FETCH_EPOCH;
  view(out).setUint32(1, requestId);
  view(out).setBigUint64(5, BigInt(epoch));
  return out;
}

/** Parses a request; RetrievalRequestError for anything that is not a valid one. */
export function decodeRetrievalRequest(bytes: Uint8Array): RetrievalRequest {
  const requestId = bytes.length >= 5 ? view(bytes).getUint32(1) : 0;
  if (bytes.length === 0) throw new RetrievalRequestError('malformed', 0, 'empty request');
  const type = bytes[0];
  if (type !== FETCH_BUCKET && type !== FETCH_EPOCH) throw new RetrievalRequestError('unknown-command', requestId, 'unknown request type');
  const expected = type === FETCH_BUCKET ? FETCH_BUCKET_BYTES : FETCH_EPOCH_BYTES;
  if (bytes.length !== expected) throw new RetrievalRequestError('malformed', requestId, `this request is exactly ${expected} bytes`);
  const epochBig = view(bytes).getBigUint64(5);
  if (epochBig > BigInt(Number.MAX_SAFE_INTEGER)) throw new RetrievalRequestError('malformed', requestId, 'the epoch is too large');
  const epoch = Number(epochBig);
  if (type === FETCH_EPOCH) return { type: 'epoch', requestId, epoch };
  const bucket = view(bytes).getUint32(13);
  const buckets = view(bytes).getUint32(17);
  if (buckets < 1 || buckets > MAX_BUCKETS || bucket >= buckets) {
    throw new RetrievalRequestError('bad-buckets', requestId, `buckets must lie in 1..${MAX_BUCKETS} and the bucket below it`);
  }
  return { type: 'bucket', requestId, epoch, bucket, buckets };
}

/** The size of a `messages` response holding these ciphertexts. */
export function messagesResponseBytes(ciphertextLengths: Iterable<number>): number {
  let total = 9;
  for (const length of ciphertextLengths) total += ADDRESS_BYTES + 4 + length;
  return total;
}

export function encodeMessagesResponse(requestId: number, messages: readonly { readonly address: Uint8Array; readonly ciphertext: Uint8Array }[]): Uint8Array {
  checkU32(requestId, 'requestId');
  const out = new Uint8Array(messagesResponseBytes(messages.map((m) => m.ciphertext.length)));
  const v = view(out);
  out[0] = MESSAGES;
  v.setUint32(1, requestId);
  v.setUint32(5, messages.length);
  let offset = 9;
  for (const { address, ciphertext } of messages) {
    if (address.length !== ADDRESS_BYTES) throw new RangeError('an address is 32 bytes');
    out.set(address, offset);
    v.setUint32(offset + ADDRESS_BYTES, ciphertext.length);
    out.set(ciphertext, offset + ADDRESS_BYTES + 4);
    offset += ADDRESS_BYTES + 4 + ciphertext.length;
  }
  return out;
}

export function encodeErrorResponse(requestId: number, code: number, reason: string): Uint8Array {
  checkU32(requestId, 'requestId');
  if (!Number.isInteger(code) || code < 0 || code > 0xffff) throw new RangeError('code must be a u16');
  const text = new TextEncoder().encode(reason).subarray(0, 0xffff);
  const out = new Uint8Array(9 + text.length);
  const v = view(out);
  out[0] = ERROR;
  v.setUint32(1, requestId);
  v.setUint16(5, code);
  v.setUint16(7, text.length);
  out.set(text, 9);
  return out;
}

/** Parses a provider's response (for clients); RangeError when it is not a well-formed one. */
export function decodeRetrievalResponse(bytes: Uint8Array): RetrievalResponse {
  if (bytes.length < 9) throw new RangeError('response too short');
  const v = view(bytes);
  const requestId = v.getUint32(1);
  if (bytes[0] === ERROR) {
    const length = v.getUint16(7);
    if (bytes.length !== 9 + length) throw new RangeError('error response has the wrong length');
    const reason = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(9));
    return { type: 'error', requestId, code: v.getUint16(5), reason };
  }
  if (bytes[0] !== MESSAGES) throw new RangeError('unknown response type');
  const count = v.getUint32(5);
  const messages: { address: Uint8Array; ciphertext: Uint8Array }[] = [];
  let offset = 9;
  for (let i = 0; i < count; i++) {
    if (offset + ADDRESS_BYTES + 4 > bytes.length) throw new RangeError('messages response truncated');
    const address = bytes.slice(offset, offset + ADDRESS_BYTES);
    const length = v.getUint32(offset + ADDRESS_BYTES);
    const start = offset + ADDRESS_BYTES + 4;
    if (start + length > bytes.length) throw new RangeError('messages response truncated');
    messages.push({ address, ciphertext: bytes.slice(start, start + length) });
    offset = start + length;
  }
  if (offset !== bytes.length) throw new RangeError('messages response has trailing bytes');
  return { type: 'messages', requestId, messages };
}

// --- Stored ciphertexts ------------------------------------------------------------------------

export const STORED_MESSAGE = 0x01;
export const STORED_SURB_REPLY = 0x02;

export function encodeStoredMessage(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + payload.length);
  out[0] = STORED_MESSAGE;
  out.set(payload, 1);
  return out;
}

export function encodeStoredSurbReply(surbId: Uint8Array, payload: Uint8Array): Uint8Array {
  if (surbId.length !== SURB_ID_BYTES) throw new RangeError('a SURB ID is 16 bytes');
  const out = new Uint8Array(1 + SURB_ID_BYTES + payload.length);
  out[0] = STORED_SURB_REPLY;
  out.set(surbId, 1);
  out.set(payload, 1 + SURB_ID_BYTES);
  return out;
}

export type StoredCiphertext =
  | { readonly kind: 'message'; readonly payload: Uint8Array }
  | { readonly kind: 'surb-reply'; readonly surbId: Uint8Array; readonly payload: Uint8Array };

/** Splits a stored ciphertext (as fetched) into its kind and parts; RangeError for anything else. */
export function parseStoredCiphertext(bytes: Uint8Array): StoredCiphertext {
  if (bytes.length >= 1 && bytes[0] === STORED_MESSAGE) return { kind: 'message', payload: bytes.subarray(1) };
  if (bytes.length >= 1 + SURB_ID_BYTES && bytes[0] === STORED_SURB_REPLY) {
    return { kind: 'surb-reply', surbId: bytes.subarray(1, 1 + SURB_ID_BYTES), payload: bytes.subarray(1 + SURB_ID_BYTES) };
  }
  throw new RangeError('not a stored ciphertext');
}
