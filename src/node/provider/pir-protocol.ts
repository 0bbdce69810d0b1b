/**
 * The PIR messages of the provider's client protocol (docs/network.md, "Client protocols", and
 * docs/pir.md, "Mailbox retrieval"), as pure encoders and decoders shared by providers and clients.
 * One binary WebSocket message per request and per response, big-endian, on the same WebSocket as
 * the bucket fetches (protocol.ts), with the same request ids and the same `error` response.
 *
 *   pir-info     0x03 ‖ request id (u32) ‖ epoch (u64)
 *   pir-query    0x04 ‖ request id (u32) ‖ snapshot id (32) ‖ DPF key (38 … 463 bytes, the rest)
 *   pir-offer    0x05 ‖ request id (u32) ‖ epoch (u64) ‖ snapshot id (32) ‖ rows (u32) ‖ slots (u32)
 *                     ‖ slot bytes (u32) ‖ origin node ID (32) ‖ signature (64)          [provider → partner]
 *   pir-chunk    0x06 ‖ request id (u32) ‖ snapshot id (32) ‖ offset (u32) ‖ bytes (1 … 61 440)  [provider → partner]
 *
 *   info         0x83 ‖ request id (u32) ‖ epoch (u64) ‖ snapshot id (32) ‖ rows (u32) ‖ slots (u32)
 *                     ‖ slot bytes (u32) ‖ row bytes (u32)
 *   answer       0x84 ‖ request id (u32) ‖ answer (row bytes)
 *   ack          0x85 ‖ request id (u32) ‖ status (u8: 0 = send the next chunk, 1 = held and verified)
 *   error        0xE0 ‖ request id (u32) ‖ code (u16) ‖ length (u16) ‖ UTF-8 reason   (protocol.ts)
 *
 * The two servers of a provider P are P itself and its partner: the provider after P among the
 * consensus's providers in node-ID order, cyclically (`pirPartner`). P replicates each snapshot to
 * its partner with pir-offer (signed by P's identity key) and pir-chunk before it answers pir-info.
 */
import { sameBytes } from '../../codec/bytes.js';
import { MAX_KEY_BYTES } from '../../pir/index.js';
import type { PirSnapshotInfo, SnapshotShape } from '../../pir/snapshot.js';

export type { PirSnapshotInfo, SnapshotShape } from '../../pir/snapshot.js';
import { pathLayers, PROVIDER_LAYER, type ConsensusDocument, type NodeDescriptor } from '../../pki/index.js';
import { checkEpoch, checkU32, RetrievalRequestError, view } from './protocol.js';

export const PIR_INFO = 0x03;
export const PIR_QUERY = 0x04;
export const PIR_OFFER = 0x05;
export const PIR_CHUNK = 0x06;
export const PIR_INFO_RESPONSE = 0x83;
export const PIR_ANSWER = 0x84;
export const PIR_ACK = 0x85;
const ERROR = 0xe0;

export const SNAPSHOT_ID_BYTES = 32;
export const NODE_ID_BYTES = 32;
export const SIGNATURE_BYTES = 64;
/** The shortest DPF key (a domain of at most 128 rows); MAX_KEY_BYTES (463) is the longest. */
export const MIN_KEY_BYTES = 38;
export const PIR_INFO_BYTES = 13;
export const PIR_QUERY_HEADER_BYTES = 1 + 4 + SNAPSHOT_ID_BYTES;
export const PIR_OFFER_BYTES = 1 + 4 + 8 + SNAPSHOT_ID_BYTES + 12 + NODE_ID_BYTES + SIGNATURE_BYTES;
export const PIR_CHUNK_HEADER_BYTES = 1 + 4 + SNAPSHOT_ID_BYTES + 4;
/** The largest chunk of snapshot data in one pir-chunk (60 KiB: the message stays below 64 KiB). */
export const PIR_CHUNK_BYTES = 60 * 1024;
export const PIR_INFO_RESPONSE_BYTES = 1 + 4 + 8 + SNAPSHOT_ID_BYTES + 16;
export const PIR_ANSWER_HEADER_BYTES = 5;
export const PIR_ACK_BYTES = 6;

/** Domain separation of the offer signature (ASCII). */
export const PIR_OFFER_LABEL = new TextEncoder().encode('umbra/pir-offer/v1');

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
  | { readonly type: 'pir-chunk'; readonly requestId: number; readonly snapshotId: Uint8Array; readonly offset: number; readonly data: Uint8Array };

export type PirResponse =
  | { readonly type: 'pir-info'; readonly requestId: number; readonly info: PirSnapshotInfo }
  | { readonly type: 'pir-answer'; readonly requestId: number; readonly answer: Uint8Array }
  | { readonly type: 'pir-ack'; readonly requestId: number; readonly complete: boolean }
  | { readonly type: 'error'; readonly requestId: number; readonly code: number; readonly reason: string };

function checkBytes(bytes: Uint8Array, length: number, what: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) throw new RangeError(`${what} must be ${length} bytes`);
}

/** True when the first byte names a PIR request (the provider dispatches on it). */
export function isPirRequest(bytes: Uint8Array): boolean {
  return bytes.length > 0 && bytes[0] >= PIR_INFO && bytes[0] <= PIR_CHUNK;
}

// --- Requests ---------------------------------------------------------------------------------------

export function encodePirInfo(requestId: number, epoch: number): Uint8Array {
  checkU32(requestId, 'requestId');
  checkEpoch(epoch);
  const out = new Uint8Array(PIR_INFO_BYTES);
  out[0] = PIR_INFO;
  view(out).setUint32(1, requestId);
  view(out).setBigUint64(5, BigInt(epoch));
  return out;
}

export function encodePirQuery(requestId: number, snapshotId: Uint8Array, key: Uint8Array): Uint8Array {
  checkU32(requestId, 'requestId');
  checkBytes(snapshotId, SNAPSHOT_ID_BYTES, 'a snapshot id');
  if (!(key instanceof Uint8Array)) throw new RangeError('key must be bytes');
  const out = new Uint8Array(PIR_QUERY_HEADER_BYTES + key.length);
  out[0] = PIR_QUERY;
  view(out).setUint32(1, requestId);
  out.set(snapshotId, 5);
  out.set(key, PIR_QUERY_HEADER_BYTES);
  return out;
}

/** What the origin signs in an offer: label ‖ epoch ‖ id ‖ rows ‖ slots ‖ slot bytes ‖ origin ‖ partner. */
export function pirOfferSignedBytes(offer: Omit<PirOffer, 'signature'>, partner: Uint8Array): Uint8Array {
  checkBytes(partner, NODE_ID_BYTES, 'a partner node ID');
  const out = new Uint8Array(PIR_OFFER_LABEL.length + 8 + SNAPSHOT_ID_BYTES + 12 + 2 * NODE_ID_BYTES);
  const v = view(out);
  let at = 0;
  out.set(PIR_OFFER_LABEL, at);
  at += PIR_OFFER_LABEL.length;
  v.setBigUint64(at, BigInt(offer.epoch));
  out.set(offer.snapshotId, at + 8);
  at += 8 + SNAPSHOT_ID_BYTES;
  v.setUint32(at, offer.rows);
  v.setUint32(at + 4, offer.slots);
  v.setUint32(at + 8, offer.slotBytes);
  out.set(offer.origin, at + 12);
  out.set(partner, at + 12 + NODE_ID_BYTES);
  return out;
}

export function encodePirOffer(requestId: number, offer: PirOffer): Uint8Array {
  checkU32(requestId, 'requestId');
  checkEpoch(offer.epoch);
  checkBytes(offer.snapshotId, SNAPSHOT_ID_BYTES, 'a snapshot id');
  checkBytes(offer.origin, NODE_ID_BYTES, 'an origin node ID');
  checkBytes(offer.signature, SIGNATURE_BYTES, 'a signature');
  for (const [value, what] of [[offer.rows, 'rows'], [offer.slots, 'slots'], [offer.slotBytes, 'slotBytes']] as const) checkU32(value, what);
  const out = new Uint8Array(PIR_OFFER_BYTES);
  const v = view(out);
  out[0] = PIR_OFFER;
  v.setUint32(1, requestId);
  v.setBigUint64(5, BigInt(offer.epoch));
  out.set(offer.snapshotId, 13);
  v.setUint32(45, offer.rows);
  v.setUint32(49, offer.slots);
  v.setUint32(53, offer.slotBytes);
  out.set(offer.origin, 57);
  out.set(offer.signature, 89);
  return out;
}

export function encodePirChunk(requestId: number, snapshotId: Uint8Array, offset: number, data: Uint8Array): Uint8Array {
  checkU32(requestId, 'requestId');
  checkBytes(snapshotId, SNAPSHOT_ID_BYTES, 'a snapshot id');
  checkU32(offset, 'offset');
  if (!(data instanceof Uint8Array) || data.length < 1 || data.length > PIR_CHUNK_BYTES) throw new RangeError(`a chunk is 1..${PIR_CHUNK_BYTES} bytes`);
  const out = new Uint8Array(PIR_CHUNK_HEADER_BYTES + data.length);
  out[0] = PIR_CHUNK;
  view(out).setUint32(1, requestId);
  out.set(snapshotId, 5);
  view(out).setUint32(37, offset);
  out.set(data, PIR_CHUNK_HEADER_BYTES);
  return out;
}

/**
 * Parses a PIR request; RetrievalRequestError ('malformed', 'key-too-large', 'bad-key') for one that
 * is not well formed. Whether the key fits the snapshot is the service's check (it knows the rows).
 */
export function decodePirRequest(bytes: Uint8Array): PirRequest {
  const requestId = bytes.length >= 5 ? view(bytes).getUint32(1) : 0;
  if (!isPirRequest(bytes)) throw new RetrievalRequestError('unknown-command', requestId, 'not a PIR request');
  const v = view(bytes);
  const epochAt = (offset: number): number => {
    const epoch = v.getBigUint64(offset);
    if (epoch > BigInt(Number.MAX_SAFE_INTEGER)) throw new RetrievalRequestError('malformed', requestId, 'the epoch is too large');
    return Number(epoch);
  };
  switch (bytes[0]) {
    case PIR_INFO:
      if (bytes.length !== PIR_INFO_BYTES) throw new RetrievalRequestError('malformed', requestId, `pir-info is exactly ${PIR_INFO_BYTES} bytes`);
      return { type: 'pir-info', requestId, epoch: epochAt(5) };
    case PIR_QUERY: {
      if (bytes.length < PIR_QUERY_HEADER_BYTES) throw new RetrievalRequestError('malformed', requestId, 'pir-query is truncated');
      const keyBytes = bytes.length - PIR_QUERY_HEADER_BYTES;
      if (keyBytes > MAX_KEY_BYTES) throw new RetrievalRequestError('key-too-large', requestId, `a DPF key is at most ${MAX_KEY_BYTES} bytes`);
      if (keyBytes < MIN_KEY_BYTES) throw new RetrievalRequestError('bad-key', requestId, `a DPF key is at least ${MIN_KEY_BYTES} bytes`);
      return { type: 'pir-query', requestId, snapshotId: bytes.slice(5, 5 + SNAPSHOT_ID_BYTES), key: bytes.slice(PIR_QUERY_HEADER_BYTES) };
    }
    case PIR_OFFER: {
      if (bytes.length !== PIR_OFFER_BYTES) throw new RetrievalRequestError('malformed', requestId, `pir-offer is exactly ${PIR_OFFER_BYTES} bytes`);
      const offer: PirOffer = {
        epoch: epochAt(5),
        snapshotId: bytes.slice(13, 45),
        rows: v.getUint32(45),
        slots: v.getUint32(49),
        slotBytes: v.getUint32(53),
        origin: bytes.slice(57, 89),
        signature: bytes.slice(89, 153),
      };
      return { type: 'pir-offer', requestId, offer };
    }
    default: {
      if (bytes.length <= PIR_CHUNK_HEADER_BYTES || bytes.length > PIR_CHUNK_HEADER_BYTES + PIR_CHUNK_BYTES) {
        throw new RetrievalRequestError('malformed', requestId, `pir-chunk carries 1..${PIR_CHUNK_BYTES} bytes`);
      }
      return { type: 'pir-chunk', requestId, snapshotId: bytes.slice(5, 37), offset: v.getUint32(37), data: bytes.slice(PIR_CHUNK_HEADER_BYTES) };
    }
  }
}

// --- Responses --------------------------------------------------------------------------------------

export function encodePirInfoResponse(requestId: number, info: PirSnapshotInfo): Uint8Array {
  checkU32(requestId, 'requestId');
  checkEpoch(info.epoch);
  checkBytes(info.snapshotId, SNAPSHOT_ID_BYTES, 'a snapshot id');
  const out = new Uint8Array(PIR_INFO_RESPONSE_BYTES);
  const v = view(out);
  out[0] = PIR_INFO_RESPONSE;
  v.setUint32(1, requestId);
  v.setBigUint64(5, BigInt(info.epoch));
  out.set(info.snapshotId, 13);
  v.setUint32(45, info.rows);
  v.setUint32(49, info.slots);
  v.setUint32(53, info.slotBytes);
  v.setUint32(57, info.rowBytes);
  return out;
}

export function encodePirAnswer(requestId: number, answer: Uint8Array): Uint8Array {
  checkU32(requestId, 'requestId');
  const out = new Uint8Array(PIR_ANSWER_HEADER_BYTES + answer.length);
  out[0] = PIR_ANSWER;
  view(out).setUint32(1, requestId);
  out.set(answer, PIR_ANSWER_HEADER_BYTES);
  return out;
}

export function encodePirAck(requestId: number, complete: boolean): Uint8Array {
  checkU32(requestId, 'requestId');
  const out = new Uint8Array(PIR_ACK_BYTES);
  out[0] = PIR_ACK;
  view(out).setUint32(1, requestId);
  out[5] = complete ? 1 : 0;
  return out;
}

/** Parses a provider's answer to a PIR request (or its error); RangeError when it is not a well-formed one. */
export function decodePirResponse(bytes: Uint8Array): PirResponse {
  if (bytes.length < 5) throw new RangeError('response too short');
  const v = view(bytes);
  const requestId = v.getUint32(1);
  switch (bytes[0]) {
    case ERROR: {
      if (bytes.length < 9 || bytes.length !== 9 + v.getUint16(7)) throw new RangeError('error response has the wrong length');
      const reason = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(9));
      return { type: 'error', requestId, code: v.getUint16(5), reason };
    }
    case PIR_INFO_RESPONSE: {
      if (bytes.length !== PIR_INFO_RESPONSE_BYTES) throw new RangeError('info response has the wrong length');
      const epoch = v.getBigUint64(5);
      if (epoch > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('info response epoch too large');
      const info: PirSnapshotInfo = {
        epoch: Number(epoch),
        snapshotId: bytes.slice(13, 45),
        rows: v.getUint32(45),
        slots: v.getUint32(49),
        slotBytes: v.getUint32(53),
        rowBytes: v.getUint32(57),
      };
      return { type: 'pir-info', requestId, info };
    }
    case PIR_ANSWER:
      return { type: 'pir-answer', requestId, answer: bytes.slice(PIR_ANSWER_HEADER_BYTES) };
    case PIR_ACK:
      if (bytes.length !== PIR_ACK_BYTES || bytes[5] > 1) throw new RangeError('ack response is malformed');
      return { type: 'pir-ack', requestId, complete: bytes[5] === 1 };
    default:
      throw new RangeError('not a PIR response');
  }
}

// --- Who answers with whom ---------------------------------------------------------------------------

/** The providers that can serve PIR (those with a client WebSocket), in node-ID order. */
export function pirProviders(doc: Pick<ConsensusDocument, 'nodes'>): NodeDescriptor[] {
  return pathLayers(doc)[PROVIDER_LAYER].filter((node) => node.addresses.ws !== undefined);
}

/**
 * The second PIR server of `providerId`'s snapshots: the next provider after it in node-ID order,
 * cyclically (with two providers, each is the other's partner). Undefined when the provider is not
 * in the document or is its only provider.
 */
export function pirPartner(doc: Pick<ConsensusDocument, 'nodes'>, providerId: Uint8Array): NodeDescriptor | undefined {
  const providers = pirProviders(doc);
  const index = providers.findIndex((node) => sameBytes(node.nodeId, providerId));
  if (index < 0 || providers.length < 2) return undefined;
  return providers[(index + 1) % providers.length];
}
