import { ByteReader, ByteWriter } from '../codec/bytes.js';
import { DecodeError } from '../codec/errors.js';
import { SURB_ID_LENGTH } from '../sphinx/commands.js';

/**
 * The provider's client protocol (docs/network.md, "Client protocols"), client side: requests are
 * encoded here, responses decoded with every length checked before it is used. Big-endian.
 *
 *     fetch bucket  0x01 ‖ request id (u32) ‖ epoch (u64) ‖ bucket (u32) ‖ buckets (u32)
 *     fetch epoch   0x02 ‖ request id (u32) ‖ epoch (u64)
 *     messages      0x81 ‖ request id (u32) ‖ count (u32) ‖ count × (address (32) ‖ length (u32) ‖ stored ciphertext)
 *     error         0xE0 ‖ request id (u32) ‖ code (u16) ‖ length (u16) ‖ UTF-8 reason
 */
export const ProviderMessageType = {
  fetchBucket: 0x01,
  fetchEpoch: 0x02,
  messages: 0x81,
  error: 0xe0,
} as const;

/** Stored ciphertext kinds (docs/network.md, "What a provider stores"). */
export const StoredKind = {
  forward: 0x01,
  surbReply: 0x02,
} as const;

export interface StoredItem {
  readonly address: Uint8Array;
  readonly ciphertext: Uint8Array;
}

export type ProviderResponse =
  | { readonly type: 'messages'; readonly requestId: number; readonly items: StoredItem[] }
  | { readonly type: 'error'; readonly requestId: number; readonly code: number; readonly reason: string };

export function encodeFetchBucket(requestId: number, epoch: number, bucket: number, buckets: number): Uint8Array {
  return new ByteWriter(21).u8(ProviderMessageType.fetchBucket).u32(requestId).u64(epoch).u32(bucket).u32(buckets).finish();
}

export function encodeFetchEpoch(requestId: number, epoch: number): Uint8Array {
  return new ByteWriter(13).u8(ProviderMessageType.fetchEpoch).u32(requestId).u64(epoch).finish();
}

/** Encodes a messages response (the provider's side; here for tests and for symmetry). */
export function encodeMessages(requestId: number, items: readonly StoredItem[]): Uint8Array {
  const writer = new ByteWriter(16 + items.reduce((sum, item) => sum + 36 + item.ciphertext.length, 0));
  writer.u8(ProviderMessageType.messages).u32(requestId).u32(items.length);
  for (const item of items) writer.bytes(item.address).prefixed(4, item.ciphertext);
  return writer.finish();
}

export function encodeProviderError(requestId: number, code: number, reason: string): Uint8Array {
  const text = new TextEncoder().encode(reason).subarray(0, 0xffff);
  return new ByteWriter(9 + text.length).u8(ProviderMessageType.error).u32(requestId).u16(code).prefixed(2, text).finish();
}

/** Decodes a provider response; DecodeError for anything malformed. */
export function decodeProviderResponse(bytes: Uint8Array, maxCiphertextBytes: number): ProviderResponse {
  const reader = new ByteReader(bytes, 'provider response');
  const type = reader.u8('type');
  const requestId = reader.u32('request id');
  if (type === ProviderMessageType.messages) {
    const count = reader.u32('count');
    // Each item takes at least 36 bytes: refuse a count the message cannot hold before allocating.
    if (count > reader.remaining / 36) throw new DecodeError('provider response', 'count exceeds the message');
    const items: StoredItem[] = [];
    for (let i = 0; i < count; i++) {
      const address = reader.bytesOf(32, 'address');
      const ciphertext = reader.prefixed(4, maxCiphertextBytes, 'stored ciphertext');
      items.push({ address, ciphertext });
    }
    reader.end();
    return { type: 'messages', requestId, items };
  }
  if (type === ProviderMessageType.error) {
    const code = reader.u16('code');
    const reason = new TextDecoder().decode(reader.prefixed(2, 0xffff, 'reason'));
    reader.end();
    return { type: 'error', requestId, code, reason };
  }
  throw new DecodeError('provider response', `unknown type 0x${type.toString(16)}`);
}

/** A stored ciphertext's parts, or undefined for a kind or length the client does not know. */
export type StoredCiphertext =
  | { readonly kind: 'forward'; readonly payload: Uint8Array }
  | { readonly kind: 'surb-reply'; readonly surbId: Uint8Array; readonly payload: Uint8Array };

export function parseStoredCiphertext(ciphertext: Uint8Array): StoredCiphertext | undefined {
  if (ciphertext.length < 1) return undefined;
  if (ciphertext[0] === StoredKind.forward) return { kind: 'forward', payload: ciphertext.subarray(1) };
  if (ciphertext[0] === StoredKind.surbReply && ciphertext.length > 1 + SURB_ID_LENGTH) {
    return { kind: 'surb-reply', surbId: ciphertext.subarray(1, 1 + SURB_ID_LENGTH), payload: ciphertext.subarray(1 + SURB_ID_LENGTH) };
  }
  return undefined;
}
