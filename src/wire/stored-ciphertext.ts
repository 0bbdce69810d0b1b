/**
 * What a provider stores for a mailbox address and a client fetches (docs/network.md, "What a
 * provider stores"):
 *
 *   forward delivery  0x01 ‖ forward payload
 *   SURB reply        0x02 ‖ SURB ID (16) ‖ reply payload
 */
export const STORED_MESSAGE = 0x01;
export const STORED_SURB_REPLY = 0x02;
const SURB_ID_BYTES = 16;

export type StoredCiphertext =
  | { readonly kind: 'forward'; readonly payload: Uint8Array }
  | { readonly kind: 'surb-reply'; readonly surbId: Uint8Array; readonly payload: Uint8Array };

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

/** A stored ciphertext's kind and parts (views into it), or undefined for a kind or length not known here. */
export function parseStoredCiphertext(bytes: Uint8Array): StoredCiphertext | undefined {
  if (bytes.length >= 1 && bytes[0] === STORED_MESSAGE) return { kind: 'forward', payload: bytes.subarray(1) };
  if (bytes.length >= 1 + SURB_ID_BYTES && bytes[0] === STORED_SURB_REPLY) {
    return { kind: 'surb-reply', surbId: bytes.subarray(1, 1 + SURB_ID_BYTES), payload: bytes.subarray(1 + SURB_ID_BYTES) };
  }
  return undefined;
}
