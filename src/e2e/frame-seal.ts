import type { Crypto } from '../crypto/types.js';
import { encodeFirstContactPayload, EnvelopeKind, SESSION_SECRET_BYTES } from './envelope.js';
import { frame, paddedShardCount } from './padding.js';
import { encryptWithStep, type RatchetStep } from './ratchet.js';
import { MESSAGE_OVERHEAD } from './ratchet-crypto.js';
import { SEALED_OVERHEAD, sealFirstContactPayload, type FirstContactHead } from './sealed.js';
import type { SealedFrame } from './mail-types.js';

/**
 * A message's frame in two steps (MailEndpoint.prepareFrame, then sealFrameWith): the endpoint
 * steps the ratchet, encrypts the header and runs the first contact's handshake (cheap, and the
 * state changes there); what is left, one or two AEADs over the whole message and its padding, is
 * this pure function of the recipe and the message, for any thread. Together they give the bytes
 * MailEndpoint.sealFrame gives. A recipe holds the message's keys: it is as secret as the message.
 */
export interface FrameRecipe {
  readonly messageId: Uint8Array;
  readonly recipient: Uint8Array;
  readonly senderTag: Uint8Array;
  readonly addressKey: Uint8Array | undefined;
  /** The size class (checked when the recipe was made, for `mailLength` bytes). */
  readonly dataShards: number;
  readonly mailLength: number;
  readonly chunkLength: number;
  readonly ratchet: RatchetStep;
  /** For a first contact: the sender's card, the announced session secret, and the seal's head. */
  readonly firstContact?: { readonly card: Uint8Array; readonly sessionSecret: Uint8Array; readonly seal: FirstContactHead };
}

/** The envelope's length for a message of `mailLength` bytes (a first contact carrying a card of `cardLength` bytes). */
export function envelopeLength(mailLength: number, cardLength: number | undefined): number {
  const ratchetMessage = MESSAGE_OVERHEAD + mailLength;
  return cardLength === undefined ? ratchetMessage : SEALED_OVERHEAD + 2 + cardLength + SESSION_SECRET_BYTES + ratchetMessage;
}

/** The size class of such an envelope ('too-large' beyond the largest). */
export function frameShards(mailLength: number, cardLength: number | undefined, chunkLength: number): number {
  return paddedShardCount(envelopeLength(mailLength, cardLength), chunkLength);
}

/** The sealed frame of `mail` under its recipe. RangeError when the mail is not the length the recipe was made for. */
export function sealFrameWith(crypto: Crypto, recipe: FrameRecipe, mail: Uint8Array): SealedFrame {
  if (mail.length !== recipe.mailLength) throw new RangeError(`frame: a ${mail.length}-byte mail for a recipe of ${recipe.mailLength} bytes`);
  const ratchetMessage = encryptWithStep(crypto, recipe.ratchet, mail);
  const { firstContact } = recipe;
  const envelope = firstContact === undefined
    ? ratchetMessage
    : sealFirstContactPayload(crypto, firstContact.seal, encodeFirstContactPayload(firstContact.card, firstContact.sessionSecret, ratchetMessage));
  const framed = frame(firstContact === undefined ? EnvelopeKind.ratchet : EnvelopeKind.firstContact, envelope, recipe.chunkLength);
  if (framed.dataShards !== recipe.dataShards) throw new RangeError(`frame: ${framed.dataShards} data shards, the recipe said ${recipe.dataShards}`);
  const { messageId, recipient, senderTag, addressKey } = recipe;
  return { messageId, dataShards: framed.dataShards, recipient, senderTag, frame: framed.data, addressKey };
}
