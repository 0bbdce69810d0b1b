import { ByteWriter } from '../codec/bytes.js';
import { nobleCrypto } from '../crypto/noble.js';

/**
 * The mailbox store: what a provider keeps for the mailboxes it serves, behind one interface that
 * every storage adapter implements (SQLite now in sqlite.ts, PostgreSQL later). docs/mailbox.md is
 * the reference: schema, bucket hash, retention and error policy.
 *
 * A store holds only what it is given: 32-byte pseudonymous mailbox addresses and ciphertexts, each
 * under the epoch it arrived in, with the time it was received (for retention only; it is never
 * handed out). No plaintext, sender or recipient identity exists here.
 *
 * This file is pure (no I/O) and runs in browsers too, so a client can import `bucketOf` and compute
 * exactly the bucket the server files an address under.
 */

/** Length of a mailbox address. */
export const ADDRESS_BYTES = 32;

/** Most buckets an epoch may be split into; keeps the modulo bias of `bucketOf` below 2^-12. */
export const MAX_BUCKETS = 1 << 20;

/** Domain separation of the bucket hash (ASCII). */
export const BUCKET_HASH_LABEL = new TextEncoder().encode('umbra/mailbox-bucket/v1');

/** Domain separation of the duplicate digest (ASCII). */
export const DUPLICATE_DIGEST_LABEL = new TextEncoder().encode('umbra/mailbox-duplicate/v1');

/** One stored message, as handed out by the fetch methods. */
export interface StoredMessage {
  /** Assigned by the store: unique, increasing in order of storage, never reused. */
  readonly id: number;
  readonly address: Uint8Array;
  readonly ciphertext: Uint8Array;
}

export interface StoreStats {
  /** Messages stored. */
  readonly messages: number;
  /** Ciphertext bytes stored (addresses and bookkeeping not counted). */
  readonly bytes: number;
  /** Distinct epochs with at least one message. */
  readonly epochs: number;
}

/**
 * Every method is asynchronous whatever the adapter does underneath. Storage failures reject with
 * StoreError (errors.ts); contract violations (malformed arguments) reject with RangeError. After
 * `close()` every method but `close` rejects with StoreError 'closed'.
 */
export interface MailboxStore {
  /** Largest ciphertext `deliver` accepts, in bytes (from the adapter's configuration). */
  readonly maxCiphertextBytes: number;

  /**
   * Stores `ciphertext` for the 32-byte `address` under `epoch`. Idempotent: an exact duplicate of
   * (address, ciphertext), whatever its epoch or time, is stored once (the first delivery wins)
   * and resolves without error. Rejects with 'too-large' past `maxCiphertextBytes`, 'full' when
   * out of room, 'io' when the database cannot be written; nothing is stored then.
   * `receivedAtMs` is the arrival time (ms since the Unix epoch), used only by `deleteBefore`.
   */
  deliver(address: Uint8Array, epoch: number, ciphertext: Uint8Array, receivedAtMs: number): Promise<void>;

  /** Everything stored under `epoch` whose address falls in `bucket` of `buckets`, by id. */
  fetchBucket(epoch: number, bucket: number, buckets: number): Promise<StoredMessage[]>;

  /** Everything stored under `epoch` (the `download` mode: the whole epoch database), by id. */
  fetchEpoch(epoch: number): Promise<StoredMessage[]>;

  /** Retention: deletes every message received strictly before `cutoffMs`; resolves to the count. */
  deleteBefore(cutoffMs: number): Promise<number>;

  stats(): Promise<StoreStats>;

  /** Releases the database. Idempotent. */
  close(): Promise<void>;
}

// --- The bucket mapping --------------------------------------------------------------------------

/**
 * The 32-bit bucket hash of an address in an epoch: the first 4 bytes, big-endian, of
 * BLAKE2b-256(BUCKET_HASH_LABEL || u64be(epoch) || address). Adapters store it with each message so
 * a bucket is selected with `hash mod buckets` in the database.
 */
export function bucketHash(address: Uint8Array, epoch: number): number {
  checkAddress(address);
  checkEpoch(epoch);
  const input = new ByteWriter(BUCKET_HASH_LABEL.length + 8 + ADDRESS_BYTES)
    .bytes(BUCKET_HASH_LABEL)
    .u64(epoch)
    .bytes(address)
    .finish();
  const digest = nobleCrypto.blake2b(32, input);
  return new DataView(digest.buffer, digest.byteOffset, 4).getUint32(0, false);
}

/**
 * The bucket (0 .. buckets-1) that `address` falls in during `epoch` when the epoch's messages are
 * split into `buckets` buckets: bucketHash(address, epoch) mod buckets. Pure; clients and servers
 * compute the same value. The epoch is hashed in so that addresses sharing a bucket change every
 * epoch.
 */
export function bucketOf(address: Uint8Array, epoch: number, buckets: number): number {
  checkBuckets(buckets);
  return bucketHash(address, epoch) % buckets;
}

/**
 * What makes two deliveries duplicates: BLAKE2b-256(DUPLICATE_DIGEST_LABEL || address ||
 * ciphertext). The address has a fixed length, so the concatenation is unambiguous. Adapters keep
 * it in a unique column instead of indexing whole ciphertexts.
 */
export function duplicateDigest(address: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  checkAddress(address);
  const input = new Uint8Array(DUPLICATE_DIGEST_LABEL.length + ADDRESS_BYTES + ciphertext.length);
  input.set(DUPLICATE_DIGEST_LABEL, 0);
  input.set(address, DUPLICATE_DIGEST_LABEL.length);
  input.set(ciphertext, DUPLICATE_DIGEST_LABEL.length + ADDRESS_BYTES);
  return nobleCrypto.blake2b(32, input);
}

// --- Argument checks shared by every adapter -------------------------------------------------------

export function checkAddress(address: Uint8Array): void {
  if (!(address instanceof Uint8Array) || address.length !== ADDRESS_BYTES) {
    throw new RangeError(`mailbox address must be ${ADDRESS_BYTES} bytes`);
  }
}

export function checkEpoch(epoch: number): void {
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError(`epoch must be a non-negative safe integer, got ${epoch}`);
}

export function checkBuckets(buckets: number): void {
  if (!Number.isSafeInteger(buckets) || buckets < 1 || buckets > MAX_BUCKETS) {
    throw new RangeError(`buckets must be an integer in 1..${MAX_BUCKETS}, got ${buckets}`);
  }
}

export function checkBucket(bucket: number, buckets: number): void {
  checkBuckets(buckets);
  if (!Number.isSafeInteger(bucket) || bucket < 0 || bucket >= buckets) {
    throw new RangeError(`bucket must be an integer in 0..${buckets - 1}, got ${bucket}`);
  }
}

/** A time in milliseconds since the Unix epoch (receivedAtMs, cutoffMs). */
export function checkTimeMs(timeMs: number, what: string): void {
  if (!Number.isSafeInteger(timeMs) || timeMs < 0) throw new RangeError(`${what} must be a non-negative safe integer, got ${timeMs}`);
}

export function checkCiphertext(ciphertext: Uint8Array): void {
  if (!(ciphertext instanceof Uint8Array)) throw new RangeError('ciphertext must be a Uint8Array');
  if (ciphertext.length === 0) throw new RangeError('ciphertext must not be empty');
}

/** A configured maximum ciphertext size: a positive safe integer. */
export function checkMaxCiphertextBytes(maxCiphertextBytes: number): void {
  if (!Number.isSafeInteger(maxCiphertextBytes) || maxCiphertextBytes < 1) {
    throw new RangeError(`maxCiphertextBytes must be a positive integer, got ${maxCiphertextBytes}`);
  }
}
