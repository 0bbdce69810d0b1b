import { ByteReader, ByteWriter } from '../codec/bytes.js';
import { DecodeError } from '../codec/errors.js';
import { MAX_CARD_BYTES } from './card.js';
import { E2eError } from './errors.js';

/**
 * The envelope inside a frame (docs/e2e.md). Its kind travels in the frame header, which only the
 * recipient sees (fragments are sealed):
 *
 *   kind 1, first contact: sealed first contact whose payload is
 *                          card length (u16) ‖ sender's card ‖ session secret (32) ‖ ratchet message
 *   kind 2, ratchet:       ratchet message alone (header-encrypted Double Ratchet)
 */
export const EnvelopeKind = { firstContact: 1, ratchet: 2 } as const;
export type EnvelopeKindValue = (typeof EnvelopeKind)[keyof typeof EnvelopeKind];

/** The bytes of the secret a first contact announces: the root of the session's Double Ratchet. */
export const SESSION_SECRET_BYTES = 32;

/**
 * A first contact's payload: `card length (u16) ‖ card ‖ session secret (32) ‖ ratchet message`.
 * The session secret is the sender's for the whole unanswered session, while every seal of it
 * uses a fresh ephemeral key (docs/e2e.md, Sessions).
 */
export function encodeFirstContactPayload(card: Uint8Array, sessionSecret: Uint8Array, ratchetMessage: Uint8Array): Uint8Array {
  if (sessionSecret.length !== SESSION_SECRET_BYTES) throw new E2eError('bad-state', 'the session secret is not 32 bytes');
  return new ByteWriter(2 + card.length + SESSION_SECRET_BYTES + ratchetMessage.length)
    .prefixed(2, card).bytes(sessionSecret).bytes(ratchetMessage).finish();
}

export function decodeFirstContactPayload(payload: Uint8Array): { card: Uint8Array; sessionSecret: Uint8Array; ratchetMessage: Uint8Array } {
  try {
    const reader = new ByteReader(payload, 'first contact payload');
    const card = reader.prefixed(2, MAX_CARD_BYTES, 'card');
    const sessionSecret = reader.bytesOf(SESSION_SECRET_BYTES, 'session secret');
    return { card, sessionSecret, ratchetMessage: reader.rest() };
  } catch (error) {
    if (error instanceof DecodeError) throw new E2eError('bad-message', error.message);
    throw error;
  }
}

/**
 * Associated data bound into every ratchet message: both parties' identity keys, sender first,
 * so a message cannot be presented as coming from or going to anyone else.
 */
const AD_LABEL = new TextEncoder().encode('umbra mail v1');
export function ratchetAd(senderX25519: Uint8Array, recipientX25519: Uint8Array): Uint8Array {
  return new ByteWriter(AD_LABEL.length + 64).bytes(AD_LABEL).bytes(senderX25519).bytes(recipientX25519).finish();
}
