import { DecodeError } from '../codec/errors.js';
import {
  decodeRetrievalResponse,
  encodeFetchBucket,
  encodeFetchEpoch,
  parseStoredCiphertext as parseStored,
} from '../node/provider/protocol.js';

/**
 * The provider's client protocol as the client uses it (docs/network.md, "Client
 * protocols"). The wire codec is the provider's own (src/node/provider/protocol.ts), so both sides
 * always speak the same format; this file only adds the client's bounds and shapes.
 */
export { encodeFetchBucket, encodeFetchEpoch };

export interface StoredItem {
  readonly address: Uint8Array;
  readonly ciphertext: Uint8Array;
}

export type ProviderResponse =
  | { readonly type: 'messages'; readonly requestId: number; readonly items: StoredItem[] }
  | { readonly type: 'error'; readonly requestId: number; readonly code: number; readonly reason: string };

/** Decodes a provider response; DecodeError for anything malformed or holding an oversized ciphertext. */
export function decodeProviderResponse(bytes: Uint8Array, maxCiphertextBytes: number): ProviderResponse {
  let response;
  try {
    response = decodeRetrievalResponse(bytes);
  } catch (error) {
    throw new DecodeError('provider response', error instanceof Error ? error.message : 'malformed');
  }
  if (response.type === 'error') return response;
  const items = response.messages.map((m) => ({ address: m.address, ciphertext: m.ciphertext }));
  if (items.some((item) => item.address.length !== 32 || item.ciphertext.length > maxCiphertextBytes)) {
    throw new DecodeError('provider response', 'a stored ciphertext beyond the bound');
  }
  return { type: 'messages', requestId: response.requestId, items };
}

/** A stored ciphertext's parts, or undefined for a kind or length the client does not know. */
export type StoredCiphertext =
  | { readonly kind: 'forward'; readonly payload: Uint8Array }
  | { readonly kind: 'surb-reply'; readonly surbId: Uint8Array; readonly payload: Uint8Array };

export function parseStoredCiphertext(ciphertext: Uint8Array): StoredCiphertext | undefined {
  try {
    const stored = parseStored(ciphertext);
    return stored.kind === 'message' ? { kind: 'forward', payload: stored.payload } : stored;
  } catch {
    return undefined;
  }
}
