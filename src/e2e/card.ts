import { ByteReader, ByteWriter, concatBytes, fromBase64Url, sameBytes, toBase64Url } from '../codec/bytes.js';
import { LowOrderPointError } from '../crypto/errors.js';
import type { Crypto } from '../crypto/types.js';
import { E2eError } from './errors.js';
import {
  isKey,
  KEY_BYTES,
  MAX_NAME_BYTES,
  MAX_SERVER_BYTES,
  MAX_SERVERS,
  profileProblem,
  readProfile,
  writeProfile,
  type Identity,
} from './identity.js';

export { formatSafetyNumber, safetyNumber } from './safety-number.js';

/**
 * A contact card (docs/e2e-card.md): what a user hands to contacts so they can write to them.
 * Self-signed by its Ed25519 key; decodeCard accepts only cards whose signature verifies.
 */
export interface ContactCard {
  readonly version: typeof CARD_VERSION;
  readonly x25519Public: Uint8Array;
  readonly ed25519Public: Uint8Array;
  /** Lets contacts compute the owner's mailbox addresses (mailbox-address.ts). */
  readonly mailboxSecret: Uint8Array;
  readonly name: string;
  readonly servers: readonly string[];
  /** Seconds since the Unix epoch, as given to makeCard. */
  readonly createdAt: number;
  /** Ed25519 over CARD_SIGNATURE_LABEL ‖ every preceding byte of the encoding. */
  readonly signature: Uint8Array;
}

export const CARD_VERSION = 1;
export const CARD_MAGIC = new Uint8Array([0x55, 0x4d, 0x42, 0x43]); // "UMBC"
/** Domain separation: the card's Ed25519 key signs this label followed by the card's bytes. */
export const CARD_SIGNATURE_LABEL = new TextEncoder().encode('umbra contact card signature v1');
export const SIGNATURE_BYTES = 64;
/** The largest encoding: magic, version, 3 keys, name, 8 servers of 255 bytes, time, signature. */
export const MAX_CARD_BYTES =
  CARD_MAGIC.length + 1 + 3 * KEY_BYTES + 1 + MAX_NAME_BYTES + 1 + MAX_SERVERS * (1 + MAX_SERVER_BYTES) + 8 + SIGNATURE_BYTES;
export const CARD_URI_PREFIX = 'umbra:card:';
/** The longest card URI: the prefix and the unpadded base64url of the largest card. */
export const MAX_CARD_URI_LENGTH = CARD_URI_PREFIX.length + Math.ceil((MAX_CARD_BYTES * 4) / 3);

/** A clamped scalar: X25519 of it and any small-order point is zero, of any other point not. */
const PROBE_SCALAR = new Uint8Array(32).fill(0x5a);

function badCard(detail: string): E2eError {
  return new E2eError('bad-card', detail);
}

/** The bytes the signature covers: everything of the encoding before it. */
function cardBody(card: Omit<ContactCard, 'signature'>): Uint8Array {
  if (card.version !== CARD_VERSION) throw badCard(`version ${String(card.version)} is not ${CARD_VERSION}`);
  if (!isKey(card.x25519Public) || !isKey(card.ed25519Public) || !isKey(card.mailboxSecret)) {
    throw badCard('a key is not 32 bytes');
  }
  const problem = profileProblem(card.name, card.servers);
  if (problem !== undefined) throw badCard(problem);
  if (!Number.isSafeInteger(card.createdAt) || card.createdAt < 0) throw badCard('createdAt is not a non-negative safe integer');
  const writer = new ByteWriter(512)
    .bytes(CARD_MAGIC)
    .u8(CARD_VERSION)
    .bytes(card.x25519Public)
    .bytes(card.ed25519Public)
    .bytes(card.mailboxSecret);
  writeProfile(writer, card.name, card.servers);
  return writer.u64(card.createdAt).finish();
}

/**
 * The card of `identity`, signed with its Ed25519 key. `createdAt` is seconds since the Unix epoch
 * (this core reads no clock). A name, server list or time a card cannot carry is 'bad-card'.
 */
export function makeCard(crypto: Crypto, identity: Identity, createdAt: number): ContactCard {
  if (!isKey(identity.ed25519Seed)) throw badCard('the Ed25519 seed is not 32 bytes');
  const unsigned = {
    version: CARD_VERSION,
    x25519Public: identity.x25519Public.slice(),
    ed25519Public: identity.ed25519Public.slice(),
    mailboxSecret: identity.mailboxSecret.slice(),
    name: identity.name,
    servers: [...identity.servers],
    createdAt,
  } as const;
  const body = cardBody(unsigned);
  if (!sameBytes(crypto.ed25519PublicKey(identity.ed25519Seed), identity.ed25519Public)) {
    throw badCard('the Ed25519 public key does not belong to the seed');
  }
  const signature = crypto.ed25519Sign(identity.ed25519Seed, concatBytes(CARD_SIGNATURE_LABEL, body));
  return { ...unsigned, signature };
}

/** The card's binary encoding (docs/e2e-card.md). Does not check the signature (no crypto here). */
export function encodeCard(card: ContactCard): Uint8Array {
  if (!isKey(card.signature, SIGNATURE_BYTES)) throw badCard('the signature is not 64 bytes');
  return concatBytes(cardBody(card), card.signature);
}

/**
 * Parses and verifies a card: every bound, canonical UTF-8 text, no trailing bytes, an X25519 key
 * not of small order, and the Ed25519 signature. Anything wrong is 'bad-card'.
 */
export function decodeCard(crypto: Crypto, bytes: Uint8Array): ContactCard {
  if (!(bytes instanceof Uint8Array)) throw badCard('not bytes');
  if (bytes.length > MAX_CARD_BYTES) throw badCard(`over ${MAX_CARD_BYTES} bytes`);
  let card: ContactCard;
  let bodyLength: number;
  try {
    const reader = new ByteReader(bytes, 'contact card');
    if (!sameBytes(reader.bytesOf(CARD_MAGIC.length, 'magic'), CARD_MAGIC)) throw badCard('not a contact card');
    if (reader.u8('version') !== CARD_VERSION) throw badCard('unknown card version');
    const x25519Public = reader.bytesOf(KEY_BYTES, 'x25519 public');
    const ed25519Public = reader.bytesOf(KEY_BYTES, 'ed25519 public');
    const mailboxSecret = reader.bytesOf(KEY_BYTES, 'mailbox secret');
    const profile = readProfile(reader);
    if (profile === undefined) throw badCard('the name or a server breaks the rules');
    const createdAt = reader.u64('created at');
    bodyLength = bytes.length - reader.remaining;
    const signature = reader.bytesOf(SIGNATURE_BYTES, 'signature');
    reader.end();
    card = { version: CARD_VERSION, x25519Public, ed25519Public, mailboxSecret, ...profile, createdAt, signature };
  } catch (error) {
    if (error instanceof E2eError) throw error;
    throw badCard('does not parse: it is cut short or damaged'); // a DecodeError: truncated, oversized or trailing bytes
  }
  const signed = concatBytes(CARD_SIGNATURE_LABEL, bytes.subarray(0, bodyLength));
  if (!crypto.ed25519Verify(card.ed25519Public, signed, card.signature)) throw badCard('the signature does not verify');
  try {
    crypto.x25519(PROBE_SCALAR, card.x25519Public);
  } catch (error) {
    if (error instanceof LowOrderPointError) throw badCard('the X25519 key has small order');
    throw error;
  }
  return card;
}

/** "umbra:card:" followed by the unpadded base64url of the encoding: one line, no whitespace. */
export function cardToUri(card: ContactCard): string {
  return CARD_URI_PREFIX + toBase64Url(encodeCard(card));
}

/**
 * Parses a card URI. Text longer than the longest card URI, another scheme or bad base64url is
 * 'bad-uri' (checked before decoding anything); a URI whose card does not verify is 'bad-card'.
 * The text is taken as is: callers trim what a user pasted.
 */
export function cardFromUri(crypto: Crypto, text: string): ContactCard {
  if (typeof text !== 'string' || text.length > MAX_CARD_URI_LENGTH) throw new E2eError('bad-uri', 'not a card URI');
  if (!text.startsWith(CARD_URI_PREFIX)) throw new E2eError('bad-uri', 'not an umbra:card: URI');
  let bytes: Uint8Array;
  try {
    bytes = fromBase64Url(text.slice(CARD_URI_PREFIX.length), 'card URI', MAX_CARD_BYTES);
  } catch {
    const damaged = /^[A-Za-z0-9_-]*$/.test(text.slice(CARD_URI_PREFIX.length));
    throw new E2eError('bad-uri', damaged ? 'the card URI is cut short or damaged: copy the whole umbra:card: text' : 'the card URI has characters that are not base64url');
  }
  return decodeCard(crypto, bytes);
}
