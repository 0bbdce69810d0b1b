import { ByteReader, ByteWriter, sameBytes } from '../codec/bytes.js';
import type { Crypto } from '../crypto/types.js';
import type { RandomSource } from '../crypto/seeded-random.js';
import { E2eError } from './errors.js';
import { ownMailboxSecret } from './relationship-address.js';

/**
 * A user's long-term end-to-end identity: the secrets behind a contact card (docs/e2e-card.md).
 * It lives in the client's keystore only; what contacts see of it is the card.
 */
export interface Identity {
  /** Display name, UTF-8, at most MAX_NAME_BYTES bytes, no control characters. */
  readonly name: string;
  /** The user's providers ("host:port" text), at most MAX_SERVERS of them. */
  readonly servers: string[];
  /** X25519 private scalar (32 bytes, clamped by X25519 when used). */
  readonly x25519Secret: Uint8Array;
  readonly x25519Public: Uint8Array;
  /** Ed25519 secret key seed (32 bytes). */
  readonly ed25519Seed: Uint8Array;
  readonly ed25519Public: Uint8Array;
  /** Shared with contacts through the card; derives mailbox addresses (mailbox-address.ts). */
  readonly mailboxSecret: Uint8Array;
  /**
   * Never shared: keys the user's own address, where its acknowledgement SURBs and loops land
   * (ownAddress in relationship-address.ts), which no contact can compute.
   */
  readonly replySecret: Uint8Array;
}

export interface IdentityOptions {
  readonly name: string;
  readonly servers: readonly string[];
}

/** Bounds shared by the identity and the card (the card must always be able to carry an identity). */
export const MAX_NAME_BYTES = 64;
export const MAX_SERVERS = 8;
export const MAX_SERVER_BYTES = 255;
export const KEY_BYTES = 32;

const IDENTITY_MAGIC = new Uint8Array([0x55, 0x4d, 0x42, 0x49]); // "UMBI"
const IDENTITY_VERSION = 2;
/** Version 1 had no reply secret: reading one derives it (migrateReplySecret). */
const IDENTITY_VERSION_NO_REPLY = 1;

const encoder = new TextEncoder();

/** C0 controls, DEL and C1 controls: never part of a name or a server address. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * The UTF-8 bytes of `text`, or undefined when the text has a lone surrogate (it would not survive
 * a round trip through UTF-8) or a control character.
 */
function textBytes(text: unknown): Uint8Array | undefined {
  if (typeof text !== 'string' || CONTROL.test(text)) return undefined;
  const bytes = encoder.encode(text);
  // TextEncoder turns a lone surrogate into U+FFFD: the bytes would decode to another string.
  return decodeText(bytes) === text ? bytes : undefined;
}

/** Strict UTF-8 (no replacement, no BOM stripping), so decoding is the inverse of encoding. */
function decodeText(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Why a name and server list cannot go into a card, or undefined when they can: the name is at
 * most 64 bytes of UTF-8, there are at most 8 servers of 1..255 bytes each, and no text has a
 * control character or a lone surrogate.
 */
export function profileProblem(name: unknown, servers: unknown): string | undefined {
  const nameBytes = textBytes(name);
  if (nameBytes === undefined) return 'the name is not text without control characters';
  if (nameBytes.length > MAX_NAME_BYTES) return `the name is over ${MAX_NAME_BYTES} bytes`;
  if (!Array.isArray(servers)) return 'the servers are not a list';
  if (servers.length > MAX_SERVERS) return `more than ${MAX_SERVERS} servers`;
  for (const server of servers) {
    const bytes = textBytes(server);
    if (bytes === undefined) return 'a server is not text without control characters';
    if (bytes.length === 0 || bytes.length > MAX_SERVER_BYTES) return `a server is not 1..${MAX_SERVER_BYTES} bytes`;
  }
  return undefined;
}

/** Writes the name (u8 length + UTF-8) and servers (u8 count, each u8 length + UTF-8). */
export function writeProfile(writer: ByteWriter, name: string, servers: readonly string[]): void {
  writer.text(1, name);
  writer.u8(servers.length);
  for (const server of servers) writer.text(1, server);
}

/**
 * Reads what writeProfile wrote and applies profileProblem's rules, so that only what can be
 * written is read (the encoding is canonical). Returns undefined when the fields break a rule;
 * a DecodeError from the reader propagates.
 */
export function readProfile(reader: ByteReader): { name: string; servers: string[] } | undefined {
  const name = decodeText(reader.prefixed(1, MAX_NAME_BYTES, 'name'));
  const count = reader.u8('server count');
  if (name === undefined || count > MAX_SERVERS) return undefined;
  const servers: string[] = [];
  for (let i = 0; i < count; i++) {
    const server = decodeText(reader.prefixed(1, MAX_SERVER_BYTES, 'server'));
    if (server === undefined) return undefined;
    servers.push(server);
  }
  return profileProblem(name, servers) === undefined ? { name, servers } : undefined;
}

/** True iff `key` is a Uint8Array of `length` bytes. */
export function isKey(key: unknown, length = KEY_BYTES): key is Uint8Array {
  return key instanceof Uint8Array && key.length === length;
}

/**
 * The reply secret given to an identity stored before reply secrets existed (version 1): the own
 * mailbox secret such identities used, BLAKE2b-256(key = X25519 secret, "umbra own mailbox secret
 * v1") (ownMailboxSecret), so their own address, where ACKs in flight come back, does not change.
 */
export function migrateReplySecret(crypto: Crypto, x25519Secret: Uint8Array): Uint8Array {
  return ownMailboxSecret(crypto, x25519Secret);
}

/**
 * A fresh identity. Draws from `random`, in this order: the X25519 secret (32 bytes), the Ed25519
 * seed (32 bytes), the mailbox secret (32 bytes), the reply secret (32 bytes). A name or server list that a card cannot carry
 * is refused with 'bad-card'.
 */
export function createIdentity(crypto: Crypto, random: RandomSource, options: IdentityOptions): Identity {
  const problem = profileProblem(options.name, options.servers);
  if (problem !== undefined) throw new E2eError('bad-card', `cannot create an identity: ${problem}`);
  const x25519Secret = random(KEY_BYTES);
  const ed25519Seed = random(KEY_BYTES);
  const mailboxSecret = random(KEY_BYTES);
  const replySecret = random(KEY_BYTES);
  return {
    name: options.name,
    servers: [...options.servers],
    x25519Secret,
    x25519Public: crypto.x25519Base(x25519Secret),
    ed25519Seed,
    ed25519Public: crypto.ed25519PublicKey(ed25519Seed),
    mailboxSecret,
    replySecret,
  };
}

/**
 * Keystore encoding (docs/e2e-card.md): "UMBI", version 2, the six 32-byte keys (X25519 secret,
 * X25519 public, Ed25519 seed, Ed25519 public, mailbox secret, reply secret), then name and
 * servers as in the card. It holds secrets: the keystore must encrypt it.
 */
export function encodeIdentity(identity: Identity): Uint8Array {
  const keys = [identity.x25519Secret, identity.x25519Public, identity.ed25519Seed, identity.ed25519Public, identity.mailboxSecret, identity.replySecret];
  const problem = keys.every((key) => isKey(key)) ? profileProblem(identity.name, identity.servers) : 'a key is not 32 bytes';
  if (problem !== undefined) throw new E2eError('bad-state', `cannot encode the identity: ${problem}`);
  const writer = new ByteWriter(512).bytes(IDENTITY_MAGIC).u8(IDENTITY_VERSION);
  for (const key of keys) writer.bytes(key);
  writeProfile(writer, identity.name, identity.servers);
  return writer.finish();
}

/**
 * Parses encodeIdentity's output, or a version 1 identity (no reply secret: one is derived, which
 * needs `crypto`); anything else is 'bad-state'. With `crypto`, also checks that both public keys
 * belong to their secrets (two base-point multiplications).
 */
export function decodeIdentity(bytes: Uint8Array, crypto?: Crypto): Identity {
  const fail = (): E2eError => new E2eError('bad-state', 'the stored identity does not parse');
  if (!(bytes instanceof Uint8Array)) throw fail();
  let identity: Identity;
  try {
    const reader = new ByteReader(bytes, 'identity');
    if (!sameBytes(reader.bytesOf(4, 'magic'), IDENTITY_MAGIC)) throw fail();
    const version = reader.u8('version');
    if (version !== IDENTITY_VERSION && !(version === IDENTITY_VERSION_NO_REPLY && crypto !== undefined)) throw fail();
    const x25519Secret = reader.bytesOf(KEY_BYTES, 'x25519 secret');
    const x25519Public = reader.bytesOf(KEY_BYTES, 'x25519 public');
    const ed25519Seed = reader.bytesOf(KEY_BYTES, 'ed25519 seed');
    const ed25519Public = reader.bytesOf(KEY_BYTES, 'ed25519 public');
    const mailboxSecret = reader.bytesOf(KEY_BYTES, 'mailbox secret');
    const replySecret = version === IDENTITY_VERSION ? reader.bytesOf(KEY_BYTES, 'reply secret') : migrateReplySecret(crypto!, x25519Secret);
    const profile = readProfile(reader);
    reader.end();
    if (profile === undefined) throw fail();
    identity = { ...profile, x25519Secret, x25519Public, ed25519Seed, ed25519Public, mailboxSecret, replySecret };
  } catch (error) {
    if (error instanceof E2eError) throw error;
    throw fail(); // a DecodeError: truncated, oversized or trailing bytes
  }
  if (crypto !== undefined) {
    const consistent =
      sameBytes(crypto.x25519Base(identity.x25519Secret), identity.x25519Public) &&
      sameBytes(crypto.ed25519PublicKey(identity.ed25519Seed), identity.ed25519Public);
    if (!consistent) throw new E2eError('bad-state', 'the stored public keys do not match the secrets');
  }
  return identity;
}
