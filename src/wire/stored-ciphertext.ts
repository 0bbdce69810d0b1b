/**
 * What a provider stores for a mailbox address and a client fetches (docs/network.md, "What a
 * provider stores"). Every item has one layout, whatever it carries (a fragment of a mail, an
 * acknowledgement, a loop):
 *
 *   stored item  0x03 ‖ SURB ID (16) ‖ payload (the packet's whole payload)
 *
 * The payload is opaque to the provider: what kind of item it is, and anything else, is inside
 * the encryption, readable only by the address's owner. Versions before 0x03 stored
 * `0x01 ‖ forward payload` and `0x02 ‖ SURB ID ‖ reply payload`, which showed the kind and left a
 * fragment's SURB in clear; they are neither written nor read any more.
 */
export const STORED_ITEM = 0x03;
export const STORED_SURB_ID_BYTES = 16;

export interface StoredCiphertext {
  readonly surbId: Uint8Array;
  readonly payload: Uint8Array;
}

export function encodeStoredItem(surbId: Uint8Array, payload: Uint8Array): Uint8Array {
  if (surbId.length !== STORED_SURB_ID_BYTES) throw new RangeError('a SURB ID is 16 bytes');
  const out = new Uint8Array(1 + STORED_SURB_ID_BYTES + payload.length);
  out[0] = STORED_ITEM;
  out.set(surbId, 1);
  out.set(payload, 1 + STORED_SURB_ID_BYTES);
  return out;
}

/** A stored item's SURB ID and payload (views into it), or undefined for another layout or a short item. */
export function parseStoredCiphertext(bytes: Uint8Array): StoredCiphertext | undefined {
  if (bytes.length < 1 + STORED_SURB_ID_BYTES || bytes[0] !== STORED_ITEM) return undefined;
  return { surbId: bytes.subarray(1, 1 + STORED_SURB_ID_BYTES), payload: bytes.subarray(1 + STORED_SURB_ID_BYTES) };
}
