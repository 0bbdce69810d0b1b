import { ByteReader, ByteWriter, hexOf } from '../codec/bytes.js';
import type { Crypto } from '../crypto/types.js';
import { E2eError } from './errors.js';
import { KEY_LENGTH, type KeyPair } from './ratchet-crypto.js';

/**
 * The Double Ratchet state with header encryption (Signal rev. 1, section 4), its bounds, and
 * its versioned binary encoding (docs/e2e-ratchet.md, "Stored state"). Internal to the ratchet.
 */

/** A message key stored for a message not yet received: MKSKIPPED[HK, N]. */
export interface SkippedKey {
  hk: Uint8Array;
  hkHex: string;
  n: number;
  mk: Uint8Array;
}

export interface RatchetLimits {
  /** MAX_SKIP: the most message keys one chain may skip in one step. */
  maxSkip: number;
  /** The most skipped message keys stored in all; the oldest are dropped first. */
  maxSkippedKeys: number;
  /** How many header keys of retired receiving chains are kept to recognise replays. */
  maxRetiredHeaderKeys: number;
}

export const DEFAULT_LIMITS: Readonly<RatchetLimits> = { maxSkip: 1000, maxSkippedKeys: 2000, maxRetiredHeaderKeys: 8 };
/** Upper bounds on the limits themselves, so a stored state never asks for unbounded memory. */
const LIMIT_CEILINGS: Readonly<RatchetLimits> = { maxSkip: 100_000, maxSkippedKeys: 100_000, maxRetiredHeaderKeys: 10_000 };

export interface RatchetState extends RatchetLimits {
  /** DHs: our current ratchet key pair. */
  dhs: KeyPair;
  /** DHr: the peer's current ratchet public key (none for the receiver before its first message). */
  dhr: Uint8Array | null;
  rk: Uint8Array;
  cks: Uint8Array | null;
  ckr: Uint8Array | null;
  hks: Uint8Array | null;
  hkr: Uint8Array | null;
  nhks: Uint8Array;
  nhkr: Uint8Array;
  ns: number;
  nr: number;
  pn: number;
  /** MKSKIPPED, keyed by skippedId(hk, n), in insertion order (oldest first). */
  skipped: Map<string, SkippedKey>;
  /** Header keys of receiving chains replaced by a DH ratchet step, oldest first. */
  retired: Uint8Array[];
}

export function skippedId(hkHex: string, n: number): string {
  return `${hkHex}:${n}`;
}

/** Checks caller-supplied limits: whole numbers from 0 (1 for maxSkip) up to the ceilings. */
export function checkLimits(limits: RatchetLimits): RatchetLimits {
  for (const name of ['maxSkip', 'maxSkippedKeys', 'maxRetiredHeaderKeys'] as const) {
    const value = limits[name];
    const min = name === 'maxSkip' ? 1 : 0;
    if (!Number.isInteger(value) || value < min || value > LIMIT_CEILINGS[name]) {
      throw new RangeError(`ratchet: ${name} must be an integer in ${min}..${LIMIT_CEILINGS[name]}`);
    }
  }
  return { maxSkip: limits.maxSkip, maxSkippedKeys: limits.maxSkippedKeys, maxRetiredHeaderKeys: limits.maxRetiredHeaderKeys };
}

/**
 * A copy for a transaction. Key buffers are never written in place (every step replaces them), so
 * they are shared; the collections are copied.
 */
export function cloneState(state: RatchetState): RatchetState {
  return { ...state, dhs: { ...state.dhs }, skipped: new Map(state.skipped), retired: state.retired.slice() };
}

const STATE_VERSION = 1;
const FLAG_DHR = 0x01;
const FLAG_SENDING = 0x02;
const FLAG_RECEIVING = 0x04;
/** A fresh receiver; a sender (or a receiver before any step); a session past its first DH step. */
const VALID_FLAGS = new Set([0, FLAG_DHR | FLAG_SENDING, FLAG_DHR | FLAG_SENDING | FLAG_RECEIVING]);
const U32_MAX = 0xffffffff;

/** The versioned binary state (docs/e2e-ratchet.md gives the layout). */
export function encodeState(state: RatchetState): Uint8Array {
  const flags = (state.dhr !== null ? FLAG_DHR : 0) | (state.cks !== null ? FLAG_SENDING : 0) | (state.ckr !== null ? FLAG_RECEIVING : 0);
  const writer = new ByteWriter(512 + state.skipped.size * 68 + state.retired.length * 32);
  writer.u8(STATE_VERSION).u32(state.maxSkip).u32(state.maxSkippedKeys).u32(state.maxRetiredHeaderKeys);
  writer.bytes(state.dhs.secret).u8(flags);
  if (state.dhr !== null) writer.bytes(state.dhr);
  writer.bytes(state.rk);
  if (state.cks !== null && state.hks !== null) writer.bytes(state.cks).bytes(state.hks);
  if (state.ckr !== null && state.hkr !== null) writer.bytes(state.ckr).bytes(state.hkr);
  writer.bytes(state.nhks).bytes(state.nhkr).u32(state.ns).u32(state.nr).u32(state.pn);
  writer.u32(state.skipped.size);
  for (const entry of state.skipped.values()) writer.bytes(entry.hk).u32(entry.n).bytes(entry.mk);
  writer.u32(state.retired.length);
  for (const hk of state.retired) writer.bytes(hk);
  return writer.finish();
}

/** Parses a stored state; anything malformed or inconsistent is 'bad-state'. */
export function decodeState(crypto: Crypto, bytes: Uint8Array): RatchetState {
  if (!(bytes instanceof Uint8Array)) throw new E2eError('bad-state', 'a ratchet state must be bytes');
  const reader = new ByteReader(bytes, 'ratchet state');
  const fail = (detail: string): never => {
    throw new E2eError('bad-state', `ratchet state: ${detail}`);
  };
  if (reader.u8('version') !== STATE_VERSION) fail('unknown version');
  const limits: RatchetLimits = {
    maxSkip: reader.u32('maxSkip'),
    maxSkippedKeys: reader.u32('maxSkippedKeys'),
    maxRetiredHeaderKeys: reader.u32('maxRetiredHeaderKeys'),
  };
  try {
    checkLimits(limits);
  } catch {
    fail('limits out of range');
  }
  const key = (field: string) => reader.bytesOf(KEY_LENGTH, field);
  const secret = key('DHs');
  const flags = reader.u8('flags');
  if (!VALID_FLAGS.has(flags)) fail('invalid flags');
  const dhr = flags & FLAG_DHR ? key('DHr') : null;
  const rk = key('RK');
  const sending = flags & FLAG_SENDING ? [key('CKs'), key('HKs')] : [null, null];
  const receiving = flags & FLAG_RECEIVING ? [key('CKr'), key('HKr')] : [null, null];
  const nhks = key('NHKs');
  const nhkr = key('NHKr');
  const ns = reader.u32('Ns');
  const nr = reader.u32('Nr');
  const pn = reader.u32('PN');
  if (sending[0] === null && (ns !== 0 || pn !== 0)) fail('message numbers without a sending chain');
  if (receiving[0] === null && nr !== 0) fail('message number without a receiving chain');
  const skippedCount = reader.u32('skipped count');
  if (skippedCount > limits.maxSkippedKeys) fail('more skipped keys than its bound');
  const skipped = new Map<string, SkippedKey>();
  for (let i = 0; i < skippedCount; i++) {
    const hk = key('skipped HK');
    const n = reader.u32('skipped N');
    const mk = key('skipped MK');
    const hkHex = hexOf(hk);
    const id = skippedId(hkHex, n);
    if (n === U32_MAX || skipped.has(id)) fail('invalid or duplicate skipped key');
    skipped.set(id, { hk, hkHex, n, mk });
  }
  const retiredCount = reader.u32('retired count');
  if (retiredCount > limits.maxRetiredHeaderKeys) fail('more retired header keys than its bound');
  const retired: Uint8Array[] = [];
  for (let i = 0; i < retiredCount; i++) retired.push(key('retired HK'));
  reader.end();
  return {
    ...limits,
    dhs: { secret, public: crypto.x25519Base(secret) },
    dhr,
    rk,
    cks: sending[0],
    hks: sending[1],
    ckr: receiving[0],
    hkr: receiving[1],
    nhks,
    nhkr,
    ns,
    nr,
    pn,
    skipped,
    retired,
  };
}
