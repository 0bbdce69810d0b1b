import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open as openFile, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import sodiumModule from 'sodium-native';
import { ByteReader, ByteWriter, concatBytes, hexOf } from '../codec/bytes.js';
import { DecodeError } from '../codec/errors.js';
import { AuthenticationError, CryptoError } from '../crypto/errors.js';
import type { RandomSource } from '../crypto/seeded-random.js';
import type { Crypto } from '../crypto/types.js';
import { ClientError, describeError } from './errors.js';

/**
 * The keystore (docs/client.md, "Keystore"): one file holding every secret of the user, encrypted
 * with a key derived from the passphrase by Argon2id (libsodium's crypto_pwhash through
 * sodium-native) and sealed with XChaCha20-Poly1305. Written atomically: a temporary file in the
 * same directory, fsync, rename over the old one, fsync of the directory.
 *
 *     "UMBK" ‖ version (u8 = 1) ‖ kdf (u8 = 1: Argon2id v1.3) ‖ opsLimit (u32) ‖ memLimit KiB (u32)
 *     ‖ salt (16) ‖ nonce (24) ‖ check (16) ‖ XChaCha20-Poly1305(key, nonce, payload, AD = all before)
 *
 * K = Argon2id(NFC(passphrase), salt, opsLimit, memLimit), 32 bytes;
 * key = BLAKE2b-256(key = K, "umbra keystore key v1"); check = BLAKE2b-128(key = K, "umbra keystore check v1").
 * The check tells a wrong passphrase ('bad-passphrase') from a damaged file ('corrupt-keystore'); it
 * gives a guesser nothing the AEAD tag does not already give.
 */
export interface KdfParams {
  /** Argon2id passes (libsodium opslimit), 1..MAX_OPS_LIMIT. */
  readonly opsLimit: number;
  /** Argon2id memory in bytes, a multiple of 1024, MIN_MEM_LIMIT..MAX_MEM_LIMIT. */
  readonly memLimitBytes: number;
}

/** libsodium's MODERATE profile: 3 passes over 256 MiB (about 0.4 s on a laptop core). */
export const DEFAULT_KDF: KdfParams = Object.freeze({ opsLimit: 3, memLimitBytes: 256 * 1024 * 1024 });
export const MIN_OPS_LIMIT = 1;
export const MAX_OPS_LIMIT = 64;
/** libsodium's minimum (8 KiB): only for tests; docs/client.md says why real keystores use the default. */
export const MIN_MEM_LIMIT = 8 * 1024;
/** A header asking for more (damaged or hostile) is refused before anything is allocated. */
export const MAX_MEM_LIMIT = 4 * 1024 * 1024 * 1024;
/** The largest keystore read (the endpoint state of 100 000 contacts stays well below). */
export const MAX_KEYSTORE_BYTES = 256 * 1024 * 1024;

export const KEYSTORE_MAGIC = new Uint8Array([0x55, 0x4d, 0x42, 0x4b]); // "UMBK"
export const KEYSTORE_VERSION = 1;
export const KDF_ARGON2ID13 = 1;
const SALT_BYTES = 16;
const NONCE_BYTES = 24;
const CHECK_BYTES = 16;
export const KEYSTORE_HEADER_BYTES = 4 + 1 + 1 + 4 + 4 + SALT_BYTES + NONCE_BYTES + CHECK_BYTES;
const KEY_LABEL = new TextEncoder().encode('umbra keystore key v1');
const CHECK_LABEL = new TextEncoder().encode('umbra keystore check v1');

interface PwhashSodium {
  crypto_pwhash_async(out: Uint8Array, password: Uint8Array, salt: Uint8Array, ops: number, mem: number, alg: number): Promise<void>;
  readonly crypto_pwhash_ALG_ARGON2ID13: number;
}
// src/crypto/sodium-native.d.ts declares only what src/crypto uses; crypto_pwhash is typed here.
const sodium = sodiumModule as unknown as PwhashSodium;

/** What opening a keystore yields: the payload, and the derived keys for rewriting it. */
export interface OpenedKeystore {
  readonly payload: Uint8Array;
  readonly keys: KeystoreKeys;
}

/** The derived key and the header fields that go with it (kept in memory while the client is open). */
export interface KeystoreKeys {
  readonly kdf: KdfParams;
  readonly salt: Uint8Array;
  readonly key: Uint8Array;
  readonly check: Uint8Array;
}

export function kdfProblem(kdf: KdfParams): string | undefined {
  if (typeof kdf !== 'object' || kdf === null) return 'the KDF parameters are not an object';
  if (!Number.isInteger(kdf.opsLimit) || kdf.opsLimit < MIN_OPS_LIMIT || kdf.opsLimit > MAX_OPS_LIMIT) {
    return `kdf.opsLimit must be an integer in ${MIN_OPS_LIMIT}..${MAX_OPS_LIMIT}`;
  }
  const mem = kdf.memLimitBytes;
  if (!Number.isSafeInteger(mem) || mem < MIN_MEM_LIMIT || mem > MAX_MEM_LIMIT || mem % 1024 !== 0) {
    return `kdf.memLimitBytes must be a multiple of 1024 in ${MIN_MEM_LIMIT}..${MAX_MEM_LIMIT}`;
  }
  return undefined;
}

function passphraseBytes(passphrase: string): Uint8Array {
  if (typeof passphrase !== 'string' || passphrase.length === 0) throw new ClientError('bad-options', 'the passphrase must be a non-empty string');
  // NFC: the same passphrase typed on two systems may arrive composed or decomposed.
  return new TextEncoder().encode(passphrase.normalize('NFC'));
}

/** Derives the keystore keys for a passphrase (Argon2id off the main thread). */
export async function deriveKeystoreKeys(crypto: Crypto, passphrase: string, kdf: KdfParams, salt: Uint8Array): Promise<KeystoreKeys> {
  const problem = kdfProblem(kdf);
  if (problem !== undefined) throw new ClientError('bad-options', problem);
  const password = passphraseBytes(passphrase);
  const master = new Uint8Array(32);
  try {
    await sodium.crypto_pwhash_async(master, password, salt, kdf.opsLimit, kdf.memLimitBytes, sodium.crypto_pwhash_ALG_ARGON2ID13);
  } catch (error) {
    throw new ClientError('corrupt-keystore', `the key derivation failed: ${describeError(error)}`);
  } finally {
    password.fill(0);
  }
  const keys = {
    kdf: { opsLimit: kdf.opsLimit, memLimitBytes: kdf.memLimitBytes },
    salt: salt.slice(),
    key: crypto.blake2b(32, KEY_LABEL, master),
    check: crypto.blake2b(CHECK_BYTES, CHECK_LABEL, master),
  };
  master.fill(0);
  return keys;
}

/** Fresh keys (a new random salt) for a new keystore or a passphrase change. */
export async function newKeystoreKeys(crypto: Crypto, random: RandomSource, passphrase: string, kdf: KdfParams = DEFAULT_KDF): Promise<KeystoreKeys> {
  return deriveKeystoreKeys(crypto, passphrase, kdf, random(SALT_BYTES));
}

function header(keys: KeystoreKeys, nonce: Uint8Array): Uint8Array {
  return new ByteWriter(KEYSTORE_HEADER_BYTES)
    .bytes(KEYSTORE_MAGIC)
    .u8(KEYSTORE_VERSION)
    .u8(KDF_ARGON2ID13)
    .u32(keys.kdf.opsLimit)
    .u32(keys.kdf.memLimitBytes / 1024)
    .bytes(keys.salt)
    .bytes(nonce)
    .bytes(keys.check)
    .finish();
}

/** The keystore bytes for a payload (fresh nonce each time). */
export function sealKeystore(crypto: Crypto, random: RandomSource, keys: KeystoreKeys, payload: Uint8Array): Uint8Array {
  const head = header(keys, random(NONCE_BYTES));
  const nonce = head.subarray(KEYSTORE_HEADER_BYTES - CHECK_BYTES - NONCE_BYTES, KEYSTORE_HEADER_BYTES - CHECK_BYTES);
  return concatBytes(head, crypto.xchacha20Poly1305Seal(keys.key, nonce, payload, head));
}

interface ParsedHeader {
  readonly kdf: KdfParams;
  readonly salt: Uint8Array;
  readonly nonce: Uint8Array;
  readonly check: Uint8Array;
  readonly head: Uint8Array;
  readonly sealed: Uint8Array;
}

function parseHeader(bytes: Uint8Array): ParsedHeader {
  try {
    const reader = new ByteReader(bytes, 'keystore');
    const magic = reader.bytesOf(4, 'magic');
    if (!magic.every((byte, i) => byte === KEYSTORE_MAGIC[i])) throw new ClientError('corrupt-keystore', 'this file is not an umbra keystore');
    const version = reader.u8('version');
    if (version !== KEYSTORE_VERSION) throw new ClientError('unsupported-keystore', `keystore version ${version} is not supported (this program reads version ${KEYSTORE_VERSION})`);
    const kdfId = reader.u8('kdf');
    if (kdfId !== KDF_ARGON2ID13) throw new ClientError('unsupported-keystore', `keystore KDF ${kdfId} is not supported`);
    const opsLimit = reader.u32('opsLimit');
    const memKiB = reader.u32('memLimit');
    const kdf = { opsLimit, memLimitBytes: memKiB * 1024 };
    const problem = kdfProblem(kdf);
    if (problem !== undefined) throw new ClientError('corrupt-keystore', `the keystore header is damaged (${problem})`);
    const salt = reader.bytesOf(SALT_BYTES, 'salt');
    const nonce = reader.bytesOf(NONCE_BYTES, 'nonce');
    const check = reader.bytesOf(CHECK_BYTES, 'check');
    const sealed = reader.rest();
    if (sealed.length < 16) throw new ClientError('corrupt-keystore', 'the keystore is truncated');
    return { kdf, salt, nonce, check, head: bytes.subarray(0, KEYSTORE_HEADER_BYTES), sealed };
  } catch (error) {
    if (error instanceof DecodeError) throw new ClientError('corrupt-keystore', 'the keystore is truncated');
    throw error;
  }
}

/**
 * Opens keystore bytes with a passphrase: 'bad-passphrase' when the check does not match,
 * 'corrupt-keystore' when the header does not parse or the sealed payload does not authenticate.
 */
export async function openKeystore(crypto: Crypto, bytes: Uint8Array, passphrase: string): Promise<OpenedKeystore> {
  const parsed = parseHeader(bytes);
  const keys = await deriveKeystoreKeys(crypto, passphrase, parsed.kdf, parsed.salt);
  if (!crypto.constantTimeEqual(keys.check, parsed.check)) throw new ClientError('bad-passphrase', 'the passphrase does not open this keystore');
  return { payload: openWithKeys(crypto, keys, bytes), keys };
}

/** Opens keystore bytes with keys already derived (the check and the AEAD must both hold). */
export function openWithKeys(crypto: Crypto, keys: KeystoreKeys, bytes: Uint8Array): Uint8Array {
  const parsed = parseHeader(bytes);
  if (!crypto.constantTimeEqual(keys.check, parsed.check)) throw new ClientError('bad-passphrase', 'the keystore was rewritten under another passphrase');
  try {
    return crypto.xchacha20Poly1305Open(keys.key, parsed.nonce, parsed.sealed, parsed.head);
  } catch (error) {
    if (error instanceof AuthenticationError || (error instanceof CryptoError && error.code === 'authentication-failed')) {
      throw new ClientError('corrupt-keystore', 'the keystore does not authenticate: it was damaged or tampered with');
    }
    throw error;
  }
}

/** Reads a keystore file ('not-initialized' when it does not exist). */
export function readKeystoreFile(path: string): Uint8Array {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new ClientError('not-initialized', `no keystore at ${path} (run 'umbra client init' first)`);
  }
  if (size > MAX_KEYSTORE_BYTES) throw new ClientError('corrupt-keystore', `the keystore is over ${MAX_KEYSTORE_BYTES} bytes`);
  return new Uint8Array(readFileSync(path));
}

/**
 * Replaces `path` with `bytes` atomically: a crash leaves either the old file or the new one,
 * never a mix. Mode 0600.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array, random: RandomSource): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${hexOf(random(6))}.tmp`);
  try {
    writeFileSync(tmp, bytes, { mode: 0o600, flag: 'wx' });
    const fd = openSync(tmp, 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
  try {
    const dirFd = openSync(dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch {
    // Some platforms cannot fsync a directory; the rename itself is atomic.
  }
}

/**
 * writeFileAtomic with the writing and syncing done off the event loop (the file system's thread
 * pool), for a write the event loop must not wait for (a send: docs/client.md, "Sending"). Before
 * the file replaces `path`, `stillWanted` is asked: false (a newer write went first) leaves `path`
 * as it is; the answer is returned. The rename itself is on the event loop, so no write made in
 * between by writeFileAtomic is ever replaced by an older one.
 */
export async function writeFileAtomicInBackground(path: string, bytes: Uint8Array, random: RandomSource, stillWanted: () => boolean): Promise<boolean> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${hexOf(random(6))}.tmp`);
  try {
    const file = await openFile(tmp, 'wx', 0o600);
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    if (!stillWanted()) {
      await rm(tmp, { force: true });
      return false;
    }
    renameSync(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  try {
    const dirHandle = await openFile(dir, 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  } catch {
    // Some platforms cannot fsync a directory; the rename itself is atomic.
  }
  return true;
}
