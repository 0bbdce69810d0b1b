import { ByteReader, ByteWriter } from '../codec/bytes.js';
import { DecodeError } from '../codec/errors.js';
import { MAX_KEY_BYTES, MIN_KEY_BYTES } from '../pir/index.js';
import type { PirSnapshotInfo, SnapshotShape } from '../pir/snapshot.js';
import { bodyReader, checkBytes, checkEpoch, checkU32, messageWriter, MESSAGE_HEADER_BYTES, requestIdOf } from './message.js';
import { ERROR, readErrorResponse, refuseMalformed, RetrievalRequestError, type ErrorResponse } from './retrieval-errors.js';

export type { PirSnapshotInfo, SnapshotShape } from '../pir/snapshot.js';

/**
 * The PIR messages of the provider's client protocol (docs/network.md, "Client protocols", and
 * docs/pir.md, "Mailbox retrieval"), as pure encoders and decoders shared by providers and clients.
 * One binary WebSocket message per request and per response, big-endian, on the same WebSocket as
 * the bucket fetches (retrieval.ts), with the same request ids and the same `error` response.
 *
 *   pir-info     0x03 ‖ request id (u32) ‖ epoch (u64)
 *   pir-query    0x04 ‖ request id (u32) ‖ snapshot id (32) ‖ DPF key (86 … 477 bytes, the rest)
 *   pir-offer    0x05 ‖ request id (u32) ‖ shape ‖ origin node ID (32) ‖ signature (64)   [provider → partner]
 *   pir-chunk    0x06 ‖ request id (u32) ‖ snapshot id (32) ‖ offset (u32) ‖ bytes (1 … 61 440)  [provider → partner]
 *   pir-delta    0x07 ‖ request id (u32) ‖ shape ‖ origin node ID (32) ‖ signature (64) ‖ base snapshot id (32)
 *                ‖ delta bytes (u32)   [provider → partner; the chunks then carry the delta, src/pir/snapshot-delta.ts]
 *
 *   info         0x83 ‖ request id (u32) ‖ shape
 *
 *   shape        epoch (u64) ‖ snapshot id (32) ‖ rows (u32) ‖ buckets (u32) ‖ slots (u32) ‖ slot bytes (u32)
 *                ‖ row bytes (u32)    (version 2: buckets and row bytes, for rows of a fixed size in pages)
 *   answer       0x84 ‖ request id (u32) ‖ answer (row bytes)
 *   ack          0x85 ‖ request id (u32) ‖ status (u8: 0 = send the next chunk, 1 = held and verified)
 *   error        0xE0 ‖ request id (u32) ‖ code (u16) ‖ length (u16) ‖ UTF-8 reason   (retrieval-errors.ts)
 *
 * Each snapshot is replicated from the provider that built it to its partner (pir-partner.ts) with
 * pir-offer (signed by the builder's identity key) and pir-chunk before the builder answers pir-info;
 * when the partner holds an earlier snapshot of the epoch, pir-delta (the same signature) and
 * pir-chunk carrying only the changes from that base.
 */
export const PIR_INFO = 0x03;
export const PIR_QUERY = 0x04;
export const PIR_OFFER = 0x05;
export const PIR_CHUNK = 0x06;
export const PIR_DELTA = 0x07;
export const PIR_INFO_RESPONSE = 0x83;
export const PIR_ANSWER = 0x84;
export const PIR_ACK = 0x85;

export const SNAPSHOT_ID_BYTES = 32;
export const NODE_ID_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const PIR_INFO_BYTES = 13;
export const PIR_QUERY_HEADER_BYTES = MESSAGE_HEADER_BYTES + SNAPSHOT_ID_BYTES;
/** epoch, snapshot id, rows, buckets, slots, slot bytes, row bytes. */
export const PIR_SHAPE_BYTES = 8 + SNAPSHOT_ID_BYTES + 20;
export const PIR_OFFER_BYTES = MESSAGE_HEADER_BYTES + PIR_SHAPE_BYTES + NODE_ID_BYTES + SIGNATURE_BYTES;
export const PIR_DELTA_BYTES = PIR_OFFER_BYTES + SNAPSHOT_ID_BYTES + 4;
export const PIR_CHUNK_HEADER_BYTES = MESSAGE_HEADER_BYTES + SNAPSHOT_ID_BYTES + 4;
/** The largest chunk of snapshot data in one pir-chunk (60 KiB: the message stays below 64 KiB). */
export const PIR_CHUNK_BYTES = 60 * 1024;
export const PIR_INFO_RESPONSE_BYTES = MESSAGE_HEADER_BYTES + PIR_SHAPE_BYTES;
export const PIR_ANSWER_HEADER_BYTES = MESSAGE_HEADER_BYTES;
export const PIR_ACK_BYTES = 6;

/** Domain separation of the offer signature (ASCII). */
export const PIR_OFFER_LABEL = new TextEncoder().encode('umbra/pir-offer/v2');

/** A snapshot offered to the partner provider for replication. */
export interface PirOffer extends SnapshotShape {
  readonly snapshotId: Uint8Array;
  /** The node ID (Ed25519 identity public key) of the provider that built the snapshot. */
  readonly origin: Uint8Array;
  /** Ed25519 by `origin` over pirOfferSignedBytes(offer, partner). */
  readonly signature: Uint8Array;
}

export type PirRequest =
  | { readonly type: 'pir-info'; readonly requestId: number; readonly epoch: number }
  | { readonly type: 'pir-query'; readonly requestId: number; readonly snapshotId: Uint8Array; readonly key: Uint8Array }
  | { readonly type: 'pir-offer'; readonly requestId: number; readonly offer: PirOffer }
  | { readonly type: 'pir-chunk'; readonly requestId: number; readonly snapshotId: Uint8Array; readonly offset: number; readonly data: Uint8Array }
  | { readonly type: 'pir-delta'; readonly requestId: number; readonly offer: PirOffer; readonly baseId: Uint8Array; readonly deltaBytes: number };

export type PirResponse =
  | { readonly type: 'pir-info'; readonly requestId: number; readonly info: PirSnapshotInfo }
  | { readonly type: 'pir-answer'; readonly requestId: number; readonly answer: Uint8Array }
  | { readonly type: 'pir-ack'; readonly requestId: number; readonly complete: boolean }
  | ErrorResponse;

/** True when the first byte names a PIR request (the provider dispatches on it). */
export function isPirRequest(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes[0] >= PIR_INFO && bytes[0] <= PIR_DELTA;
}

function checkShape(shape: SnapshotShape): void {
  checkEpoch(shape.epoch);
  const fields = [[shape.rows, 'rows'], [shape.buckets, 'buckets'], [shape.slots, 'slots'], [shape.slotBytes, 'slotBytes'], [shape.rowBytes, 'rowBytes']] as const;
  for (const [value, what] of fields) checkU32(value, what);
}

/** epoch ‖ snapshot id ‖ rows ‖ buckets ‖ slots ‖ slot bytes ‖ row bytes: the part of an offer and of an info response alike. */
function writeShape(writer: ByteWriter, shape: SnapshotShape, snapshotId: Uint8Array): ByteWriter {
  return writer.u64(shape.epoch).bytes(snapshotId).u32(shape.rows).u32(shape.buckets).u32(shape.slots).u32(shape.slotBytes).u32(shape.rowBytes);
}

function readShape(reader: ByteReader): SnapshotShape & { readonly snapshotId: Uint8Array } {
  const epoch = reader.u64('epoch');
  const snapshotId = reader.bytesOf(SNAPSHOT_ID_BYTES, 'snapshot id');
  const rows = reader.u32('rows');
  const buckets = reader.u32('buckets');
  const slots = reader.u32('slots');
  return { epoch, snapshotId, rows, buckets, slots, slotBytes: reader.u32('slot bytes'), rowBytes: reader.u32('row bytes') };
}

// --- Requests ---------------------------------------------------------------------------------------

export function encodePirInfo(requestId: number, epoch: number): Uint8Array {
  checkEpoch(epoch);
  return messageWriter(PIR_INFO, requestId, PIR_INFO_BYTES).u64(epoch).finish();
}

export function encodePirQuery(requestId: number, snapshotId: Uint8Array, key: Uint8Array): Uint8Array {
  checkBytes(snapshotId, SNAPSHOT_ID_BYTES, 'a snapshot id');
  if (!(key instanceof Uint8Array)) throw new RangeError('key must be bytes');
  return messageWriter(PIR_QUERY, requestId, PIR_QUERY_HEADER_BYTES + key.length).bytes(snapshotId).bytes(key).finish();
}

/** What the origin signs in an offer: label ‖ shape ‖ origin ‖ partner. */
export function pirOfferSignedBytes(offer: Omit<PirOffer, 'signature'>, partner: Uint8Array): Uint8Array {
  checkBytes(partner, NODE_ID_BYTES, 'a partner node ID');
  const writer = new ByteWriter(PIR_OFFER_LABEL.length + PIR_SHAPE_BYTES + 2 * NODE_ID_BYTES).bytes(PIR_OFFER_LABEL);
  return writeShape(writer, offer, offer.snapshotId).bytes(offer.origin).bytes(partner).finish();
}

export function encodePirOffer(requestId: number, offer: PirOffer): Uint8Array {
  checkBytes(offer.snapshotId, SNAPSHOT_ID_BYTES, 'a snapshot id');
  checkBytes(offer.origin, NODE_ID_BYTES, 'an origin node ID');
  checkBytes(offer.signature, SIGNATURE_BYTES, 'a signature');
  checkShape(offer);
  const writer = messageWriter(PIR_OFFER, requestId, PIR_OFFER_BYTES);
  return writeShape(writer, offer, offer.snapshotId).bytes(offer.origin).bytes(offer.signature).finish();
}

/**
 * A snapshot offered as a delta from `baseId`, an earlier snapshot of its origin and epoch that the
 * partner holds: the offer's fields and signature as in pir-offer, then the base and the length of
 * the delta that the pir-chunks carry.
 */
export function encodePirDelta(requestId: number, offer: PirOffer, baseId: Uint8Array, deltaBytes: number): Uint8Array {
  checkBytes(offer.snapshotId, SNAPSHOT_ID_BYTES, 'a snapshot id');
  checkBytes(offer.origin, NODE_ID_BYTES, 'an origin node ID');
  checkBytes(offer.signature, SIGNATURE_BYTES, 'a signature');
  checkBytes(baseId, SNAPSHOT_ID_BYTES, 'a base snapshot id');
  checkShape(offer);
  checkU32(deltaBytes, 'deltaBytes');
  if (deltaBytes < 1) throw new RangeError('a delta is at least 1 byte');
  const writer = messageWriter(PIR_DELTA, requestId, PIR_DELTA_BYTES);
  return writeShape(writer, offer, offer.snapshotId).bytes(offer.origin).bytes(offer.signature).bytes(baseId).u32(deltaBytes).finish();
}

export function encodePirChunk(requestId: number, snapshotId: Uint8Array, offset: number, data: Uint8Array): Uint8Array {
  checkBytes(snapshotId, SNAPSHOT_ID_BYTES, 'a snapshot id');
  checkU32(offset, 'offset');
  if (!(data instanceof Uint8Array) || data.length < 1 || data.length > PIR_CHUNK_BYTES) throw new RangeError(`a chunk is 1..${PIR_CHUNK_BYTES} bytes`);
  return messageWriter(PIR_CHUNK, requestId, PIR_CHUNK_HEADER_BYTES + data.length).bytes(snapshotId).u32(offset).bytes(data).finish();
}

/** Fails unless the request is exactly `length` bytes. */
function exactly(bytes: Uint8Array, length: number, name: string, requestId: number): void {
  if (bytes.length !== length) throw new RetrievalRequestError('malformed', requestId, `${name} is exactly ${length} bytes`);
}

/**
 * Parses a PIR request; RetrievalRequestError ('malformed', 'key-too-large', 'bad-key') for one that
 * is not well formed. Whether the key fits the snapshot is the service's check (it knows the rows).
 */
export function decodePirRequest(bytes: Uint8Array): PirRequest {
  const requestId = requestIdOf(bytes);
  if (!isPirRequest(bytes)) throw new RetrievalRequestError('unknown-command', requestId, 'not a PIR request');
  // Every case checks the length first; the fields are then read past the header.
  const reader = (): ByteReader => bodyReader(bytes, 'PIR request');
  switch (bytes[0]) {
    case PIR_INFO:
      exactly(bytes, PIR_INFO_BYTES, 'pir-info', requestId);
      return { type: 'pir-info', requestId, epoch: refuseMalformed(requestId, () => reader().u64('epoch')) };
    case PIR_QUERY: {
      if (bytes.length < PIR_QUERY_HEADER_BYTES) throw new RetrievalRequestError('malformed', requestId, 'pir-query is truncated');
      const keyBytes = bytes.length - PIR_QUERY_HEADER_BYTES;
      if (keyBytes > MAX_KEY_BYTES) throw new RetrievalRequestError('key-too-large', requestId, `a DPF key is at most ${MAX_KEY_BYTES} bytes`);
      if (keyBytes < MIN_KEY_BYTES) throw new RetrievalRequestError('bad-key', requestId, `a DPF key is at least ${MIN_KEY_BYTES} bytes`);
      const fields = reader();
      return { type: 'pir-query', requestId, snapshotId: fields.bytesOf(SNAPSHOT_ID_BYTES, 'snapshot id'), key: fields.rest() };
    }
    case PIR_OFFER: {
      exactly(bytes, PIR_OFFER_BYTES, 'pir-offer', requestId);
      const fields = reader();
      const shape = refuseMalformed(requestId, () => readShape(fields));
      const offer: PirOffer = { ...shape, origin: fields.bytesOf(NODE_ID_BYTES, 'origin'), signature: fields.bytesOf(SIGNATURE_BYTES, 'signature') };
      return { type: 'pir-offer', requestId, offer };
    }
    case PIR_DELTA: {
      exactly(bytes, PIR_DELTA_BYTES, 'pir-delta', requestId);
      const fields = reader();
      const shape = refuseMalformed(requestId, () => readShape(fields));
      const offer: PirOffer = { ...shape, origin: fields.bytesOf(NODE_ID_BYTES, 'origin'), signature: fields.bytesOf(SIGNATURE_BYTES, 'signature') };
      const baseId = fields.bytesOf(SNAPSHOT_ID_BYTES, 'base snapshot id');
      const deltaBytes = fields.u32('delta bytes');
      if (deltaBytes < 1) throw new RetrievalRequestError('malformed', requestId, 'a delta is at least 1 byte');
      return { type: 'pir-delta', requestId, offer, baseId, deltaBytes };
    }
    default: {
      if (bytes.length <= PIR_CHUNK_HEADER_BYTES || bytes.length > PIR_CHUNK_HEADER_BYTES + PIR_CHUNK_BYTES) {
        throw new RetrievalRequestError('malformed', requestId, `pir-chunk carries 1..${PIR_CHUNK_BYTES} bytes`);
      }
      const fields = reader();
      const snapshotId = fields.bytesOf(SNAPSHOT_ID_BYTES, 'snapshot id');
      return { type: 'pir-chunk', requestId, snapshotId, offset: fields.u32('offset'), data: fields.rest() };
    }
  }
}

// --- Responses --------------------------------------------------------------------------------------

export function encodePirInfoResponse(requestId: number, info: PirSnapshotInfo): Uint8Array {
  checkShape(info);
  checkBytes(info.snapshotId, SNAPSHOT_ID_BYTES, 'a snapshot id');
  const writer = messageWriter(PIR_INFO_RESPONSE, requestId, PIR_INFO_RESPONSE_BYTES);
  return writeShape(writer, info, info.snapshotId).finish();
}

export function encodePirAnswer(requestId: number, answer: Uint8Array): Uint8Array {
  return messageWriter(PIR_ANSWER, requestId, PIR_ANSWER_HEADER_BYTES + answer.length).bytes(answer).finish();
}

export function encodePirAck(requestId: number, complete: boolean): Uint8Array {
  return messageWriter(PIR_ACK, requestId, PIR_ACK_BYTES).u8(complete ? 1 : 0).finish();
}

/** Parses a provider's answer to a PIR request (or its error); DecodeError when it is not a well-formed one. */
export function decodePirResponse(bytes: Uint8Array): PirResponse {
  const reader = bodyReader(bytes, 'PIR response');
  const requestId = requestIdOf(bytes);
  switch (bytes[0]) {
    case ERROR:
      return readErrorResponse(reader, requestId);
    case PIR_INFO_RESPONSE: {
      const info: PirSnapshotInfo = readShape(reader);
      reader.end();
      return { type: 'pir-info', requestId, info };
    }
    case PIR_ANSWER:
      return { type: 'pir-answer', requestId, answer: reader.rest() };
    case PIR_ACK: {
      const status = reader.u8('status');
      reader.end();
      if (status > 1) throw new DecodeError('PIR response', 'ack status is neither 0 nor 1');
      return { type: 'pir-ack', requestId, complete: status === 1 };
    }
    default:
      throw new DecodeError('PIR response', 'not a PIR response');
  }
}
