import { ByteReader, ByteWriter, concatBytes } from '../codec/bytes.js';
import { DecodeError } from '../codec/errors.js';
import { ReedSolomon } from '../codec/reed-solomon.js';
import { CryptoError } from '../crypto/errors.js';
import type { RandomSource } from '../crypto/seeded-random.js';
import type { Crypto } from '../crypto/types.js';
import { MAX_DATA_SHARDS } from './padding.js';
import { E2eError } from './errors.js';

/**
 * Fragments (docs/e2e-fragments.md): a frame's data shards, split into stripes and Reed–Solomon
 * coded, each shard sealed on its own to the recipient's X25519 key with a fresh ephemeral key, so
 * that a fragment is exactly one Sphinx user payload and shows nothing but random-looking bytes.
 *
 *     inner    = version (u8 = 2) ‖ messageId (16) ‖ senderTag (16) ‖ totalDataShards (u32)
 *                ‖ shardIndex (u32) ‖ [surbEpoch (u32) ‖ SURB (surbLength)] ‖ chunk (chunkLength)
 *     key      = BLAKE2b-256(key = X25519(e, B), message = "umbra fragment v2" ‖ E ‖ B)
 *
 * The bracketed part is there when the parameters' surbLength is not 0: the SURB through which the
 * recipient acknowledges the fragment travels inside the seal, so only the recipient can use it.
 *     fragment = E (32) ‖ XChaCha20-Poly1305(key, nonce = 24 zero bytes, ad = E, inner)
 *
 * Each key seals exactly one fragment (e is fresh), so the constant nonce is safe.
 *
 * Shard indices: the data shards first, 0 .. D − 1 in frame order, then the parity shards stripe
 * by stripe (stripe 0's parity, then stripe 1's, …). Stripes are consecutive runs of data shards,
 * as equal in size as possible (stripeLayout). The layout depends on `redundancy` and
 * `maxStripeData`, which sender and recipient must share (they are protocol constants).
 */
export interface FragmentParams {
  /** The length of every fragment: the Sphinx user payload length (2048 in the default geometry). */
  fragmentLength: number;
  /** Parity shards per data shard in a stripe (default 0.25); each stripe has at least one. */
  redundancy: number;
  /** The most data shards in one stripe (default 32). */
  maxStripeData: number;
  /**
   * The length of the SURB every fragment carries inside its seal (the Sphinx geometry's SURB
   * length); 0 or absent: fragments carry no SURB.
   */
  surbLength?: number;
}

/** The SURB a fragment carries to its recipient, and the epoch whose mix keys it was made with. */
export interface FragmentSurb {
  readonly epoch: number;
  readonly bytes: Uint8Array;
}

export const DEFAULT_FRAGMENT_PARAMS: Readonly<FragmentParams> = Object.freeze({
  fragmentLength: 2048,
  redundancy: 0.25,
  maxStripeData: 32,
  surbLength: 0,
});

export const FRAGMENT_VERSION = 2;
export const MESSAGE_ID_LENGTH = 16;
export const SENDER_TAG_LENGTH = 16;
const EPHEMERAL_LENGTH = 32;
const AEAD_TAG_LENGTH = 16;
/** version ‖ messageId ‖ senderTag ‖ totalDataShards ‖ shardIndex */
export const FRAGMENT_HEADER_LENGTH = 1 + MESSAGE_ID_LENGTH + SENDER_TAG_LENGTH + 4 + 4;
/** Bytes of a fragment that are not chunk or SURB: ephemeral key, AEAD tag, inner header (89). */
export const FRAGMENT_OVERHEAD = EPHEMERAL_LENGTH + AEAD_TAG_LENGTH + FRAGMENT_HEADER_LENGTH;
/** The SURB epoch field (u32) before the SURB. */
const SURB_EPOCH_LENGTH = 4;
const MAX_SURB_EPOCH = 0xffffffff;

const KEY_LABEL = new TextEncoder().encode('umbra fragment v2');
const ZERO_NONCE = new Uint8Array(24);

/** A fragment opened by its recipient. */
export interface OpenedFragment {
  messageId: Uint8Array;
  /** Zeros for a first contact (the sender is not yet known). */
  senderTag: Uint8Array;
  /** The number of data shards of the whole message (1 .. MAX_DATA_SHARDS). */
  totalDataShards: number;
  /** This shard's index (see the numbering above), below the message's total shard count. */
  shardIndex: number;
  /** chunkLength bytes. */
  chunk: Uint8Array;
  /** The SURB the sender sent for the acknowledgement (when the parameters carry one). */
  surb?: FragmentSurb;
}

/** What one fragment seals: everything its recipient opens. */
export type FragmentFields = OpenedFragment;

export interface Stripe {
  /** The stripe's first data shard index. */
  firstData: number;
  dataShards: number;
  /** The shard index of the stripe's first parity shard. */
  firstParity: number;
  parityShards: number;
}

export interface StripeLayout {
  totalDataShards: number;
  /** Data and parity shards of all stripes. */
  totalShards: number;
  stripes: Stripe[];
}

/** Bytes of a fragment that are not chunk: 89, plus 4 + surbLength when fragments carry a SURB. */
export function fragmentReserved(params: FragmentParams): number {
  const surbLength = params.surbLength ?? 0;
  return FRAGMENT_OVERHEAD + (surbLength > 0 ? SURB_EPOCH_LENGTH + surbLength : 0);
}

/** The chunk each fragment carries: fragmentLength − 89 bytes, less 4 + surbLength with a SURB. */
export function chunkLength(params: FragmentParams): number {
  checkParams(params);
  return params.fragmentLength - fragmentReserved(params);
}

/** Parity shards of a stripe of k data shards: max(1, ⌈k · redundancy⌉), rounding absorbed. */
export function parityShardsFor(params: FragmentParams, dataShards: number): number {
  // The 1e-9 keeps a product such as 10 × 0.3 = 3.0000000000000004 at 3.
  return Math.max(1, Math.ceil(dataShards * params.redundancy - 1e-9));
}

function checkParams(params: FragmentParams): void {
  const { fragmentLength, redundancy, maxStripeData } = params;
  const surbLength = params.surbLength ?? 0;
  if (!Number.isInteger(surbLength) || surbLength < 0 || surbLength > 0x10000) throw new RangeError(`fragment: SURB length ${surbLength}`);
  const reserved = fragmentReserved(params);
  if (!Number.isInteger(fragmentLength) || fragmentLength <= reserved || fragmentLength > 0x1000000) {
    throw new RangeError(`fragment: length ${fragmentLength}, more than ${reserved} needed`);
  }
  if (!Number.isFinite(redundancy) || redundancy < 0) throw new RangeError(`fragment: redundancy ${redundancy}`);
  if (!Number.isInteger(maxStripeData) || maxStripeData < 1 || maxStripeData + parityShardsFor(params, maxStripeData) > 256) {
    throw new RangeError(`fragment: ${maxStripeData} data shards per stripe with their parity exceed 256 shards`);
  }
}

/**
 * How D data shards split into stripes: S = ⌈D / maxStripeData⌉ stripes of consecutive data
 * shards, the first D mod S of them one shard larger than the others.
 */
export function stripeLayout(params: FragmentParams, totalDataShards: number): StripeLayout {
  checkParams(params);
  checkTotal(totalDataShards);
  const count = Math.ceil(totalDataShards / params.maxStripeData);
  const base = Math.floor(totalDataShards / count);
  const extra = totalDataShards % count;
  const stripes: Stripe[] = [];
  let firstData = 0;
  let firstParity = totalDataShards;
  for (let s = 0; s < count; s++) {
    const dataShards = base + (s < extra ? 1 : 0);
    const parityShards = parityShardsFor(params, dataShards);
    stripes.push({ firstData, dataShards, firstParity, parityShards });
    firstData += dataShards;
    firstParity += parityShards;
  }
  return { totalDataShards, totalShards: firstParity, stripes };
}

/** The stripe holding a shard and the shard's position in it (data 0 .. k − 1, parity k .. n − 1). */
export function locateShard(layout: StripeLayout, shardIndex: number): { stripe: number; position: number } {
  if (!Number.isInteger(shardIndex) || shardIndex < 0 || shardIndex >= layout.totalShards) {
    throw new RangeError(`fragment: shard ${shardIndex} of ${layout.totalShards}`);
  }
  const parity = shardIndex >= layout.totalDataShards;
  const stripes = layout.stripes;
  let low = 0;
  let high = stripes.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    const start = parity ? stripes[mid].firstParity : stripes[mid].firstData;
    if (start <= shardIndex) low = mid;
    else high = mid - 1;
  }
  const stripe = stripes[low];
  const position = parity ? stripe.dataShards + shardIndex - stripe.firstParity : shardIndex - stripe.firstData;
  return { stripe: low, position };
}

function checkTotal(totalDataShards: number): void {
  if (!Number.isInteger(totalDataShards) || totalDataShards < 1 || totalDataShards > MAX_DATA_SHARDS) {
    throw new RangeError(`fragment: ${totalDataShards} data shards, 1 .. ${MAX_DATA_SHARDS} allowed`);
  }
}

const codecs = new Map<number, ReedSolomon>();

/** A shared ReedSolomon for k + m shards (its decoder cache is then shared too). */
export function codecFor(dataShards: number, parityShards: number): ReedSolomon {
  const key = dataShards * 256 + parityShards;
  let codec = codecs.get(key);
  if (codec === undefined) {
    codec = new ReedSolomon(dataShards, parityShards);
    if (codecs.size >= 64) codecs.delete(codecs.keys().next().value as number);
    codecs.set(key, codec);
  }
  return codec;
}

/**
 * Every shard of a frame in shard-index order: the data shards (views into `data`) then the parity
 * shards of each stripe.
 */
export function encodeShards(params: FragmentParams, data: Uint8Array, dataShards: number): Uint8Array[] {
  const length = chunkLength(params);
  const layout = stripeLayout(params, dataShards);
  if (data.length !== dataShards * length) {
    throw new RangeError(`fragment: ${data.length} bytes of data, ${dataShards} × ${length} expected`);
  }
  const shards: Uint8Array[] = [];
  for (let i = 0; i < dataShards; i++) shards.push(data.subarray(i * length, (i + 1) * length));
  for (const stripe of layout.stripes) {
    const group = shards.slice(stripe.firstData, stripe.firstData + stripe.dataShards);
    const parity: Uint8Array[] = [];
    for (let p = 0; p < stripe.parityShards; p++) parity.push(new Uint8Array(length));
    codecFor(stripe.dataShards, stripe.parityShards).encode([...group, ...parity]);
    shards.push(...parity);
  }
  return shards;
}

function requireBytes(what: string, bytes: Uint8Array, length: number): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) throw new RangeError(`fragment: ${what} must be ${length} bytes`);
}

function fragmentKey(crypto: Crypto, shared: Uint8Array, ephemeral: Uint8Array, recipientPublic: Uint8Array): Uint8Array {
  return crypto.blake2b(32, concatBytes(KEY_LABEL, ephemeral, recipientPublic), shared);
}

/** Seals one inner plaintext to the recipient under a fresh ephemeral key: E ‖ AEAD(inner). */
export function sealFragment(crypto: Crypto, random: RandomSource, recipientPublic: Uint8Array, inner: Uint8Array): Uint8Array {
  requireBytes('recipient public key', recipientPublic, 32);
  const secret = random(32);
  const ephemeral = crypto.x25519Base(secret);
  const shared = crypto.x25519(secret, recipientPublic);
  const key = fragmentKey(crypto, shared, ephemeral, recipientPublic);
  secret.fill(0);
  shared.fill(0);
  const sealed = crypto.xchacha20Poly1305Seal(key, ZERO_NONCE, inner, ephemeral);
  key.fill(0);
  return concatBytes(ephemeral, sealed);
}

/**
 * Seals one shard (a chunk of chunkLength bytes) with its header and, when the parameters carry
 * one, its SURB: exactly params.fragmentLength bytes under a fresh ephemeral key. RangeError for
 * fields of the wrong size, a SURB missing or not expected, or a SURB epoch beyond u32.
 */
export function sealShard(crypto: Crypto, random: RandomSource, params: FragmentParams, recipientPublic: Uint8Array, fields: FragmentFields): Uint8Array {
  const chunk = chunkLength(params);
  const surbLength = params.surbLength ?? 0;
  requireBytes('message ID', fields.messageId, MESSAGE_ID_LENGTH);
  requireBytes('sender tag', fields.senderTag, SENDER_TAG_LENGTH);
  requireBytes('chunk', fields.chunk, chunk);
  const writer = new ByteWriter(params.fragmentLength - EPHEMERAL_LENGTH - AEAD_TAG_LENGTH)
    .u8(FRAGMENT_VERSION)
    .bytes(fields.messageId)
    .bytes(fields.senderTag)
    .u32(fields.totalDataShards)
    .u32(fields.shardIndex);
  if (surbLength > 0) {
    const surb = fields.surb;
    if (surb === undefined) throw new RangeError('fragment: these fragments carry a SURB');
    if (!Number.isInteger(surb.epoch) || surb.epoch < 0 || surb.epoch > MAX_SURB_EPOCH) throw new RangeError(`fragment: SURB epoch ${surb.epoch}`);
    requireBytes('SURB', surb.bytes, surbLength);
    writer.u32(surb.epoch).bytes(surb.bytes);
  } else if (fields.surb !== undefined) {
    throw new RangeError('fragment: these fragments carry no SURB');
  }
  return sealFragment(crypto, random, recipientPublic, writer.bytes(fields.chunk).finish());
}

/**
 * The fragments of a frame (from padding.frame), one per shard, in shard-index order, or only the
 * shards listed in `only` (a resend after a NACK: freshly sealed, so a resent fragment shares no
 * byte with the first copy). Every fragment is exactly params.fragmentLength bytes and sealed
 * under its own ephemeral key. When the parameters carry a SURB, `surbOf` gives each shard's.
 */
export function makeFragments(
  crypto: Crypto,
  random: RandomSource,
  params: FragmentParams,
  recipientPublic: Uint8Array,
  messageId: Uint8Array,
  senderTag: Uint8Array,
  data: Uint8Array,
  dataShards: number,
  only?: readonly number[],
  surbOf?: (shardIndex: number) => FragmentSurb,
): Uint8Array[] {
  requireBytes('recipient public key', recipientPublic, 32);
  requireBytes('message ID', messageId, MESSAGE_ID_LENGTH);
  requireBytes('sender tag', senderTag, SENDER_TAG_LENGTH);
  const shards = encodeShards(params, data, dataShards);
  const indices = only ?? shards.map((_, i) => i);
  return indices.map((shardIndex) => {
    if (!Number.isInteger(shardIndex) || shardIndex < 0 || shardIndex >= shards.length) {
      throw new RangeError(`fragment: shard ${shardIndex} of ${shards.length}`);
    }
    const surb = surbOf?.(shardIndex);
    return sealShard(crypto, random, params, recipientPublic, {
      messageId, senderTag, totalDataShards: dataShards, shardIndex, chunk: shards[shardIndex], ...(surb === undefined ? {} : { surb }),
    });
  });
}

/**
 * Opens a fragment with the recipient's X25519 key pair. 'not-for-me' when it has the wrong length
 * or does not authenticate (another recipient's, damaged or forged); 'bad-fragment' when it opens
 * but its inner does not parse or its indexes are out of range for its stated total.
 */
export function openFragment(
  crypto: Crypto,
  params: FragmentParams,
  recipientSecret: Uint8Array,
  recipientPublic: Uint8Array,
  fragment: Uint8Array,
): OpenedFragment {
  checkParams(params);
  if (!(fragment instanceof Uint8Array) || fragment.length !== params.fragmentLength) {
    throw new E2eError('not-for-me', 'a fragment of the wrong length');
  }
  const ephemeral = fragment.subarray(0, EPHEMERAL_LENGTH);
  let inner: Uint8Array;
  try {
    const shared = crypto.x25519(recipientSecret, ephemeral);
    const key = fragmentKey(crypto, shared, ephemeral, recipientPublic);
    shared.fill(0);
    inner = crypto.xchacha20Poly1305Open(key, ZERO_NONCE, fragment.subarray(EPHEMERAL_LENGTH), ephemeral);
    key.fill(0);
  } catch (error) {
    if (error instanceof CryptoError && (error.code === 'authentication-failed' || error.code === 'low-order-point')) {
      throw new E2eError('not-for-me', 'a fragment that does not open with this key');
    }
    throw error;
  }
  return parseInner(params, inner);
}

function parseInner(params: FragmentParams, inner: Uint8Array): OpenedFragment {
  try {
    const reader = new ByteReader(inner, 'fragment');
    const version = reader.u8('version');
    if (version !== FRAGMENT_VERSION) throw new DecodeError('fragment', `version ${version}`);
    const messageId = reader.bytesOf(MESSAGE_ID_LENGTH, 'message ID');
    const senderTag = reader.bytesOf(SENDER_TAG_LENGTH, 'sender tag');
    const totalDataShards = reader.u32('total data shards');
    if (totalDataShards < 1 || totalDataShards > MAX_DATA_SHARDS) {
      throw new DecodeError('fragment', `${totalDataShards} data shards`);
    }
    const shardIndex = reader.u32('shard index');
    const total = totalShards(params, totalDataShards);
    if (shardIndex >= total) throw new DecodeError('fragment', `shard ${shardIndex} of ${total}`);
    const surbLength = params.surbLength ?? 0;
    let surb: FragmentSurb | undefined;
    if (surbLength > 0) {
      const epoch = reader.u32('SURB epoch');
      surb = { epoch, bytes: reader.bytesOf(surbLength, 'SURB') };
    }
    const chunk = reader.bytesOf(chunkLength(params), 'chunk');
    reader.end();
    return { messageId, senderTag, totalDataShards, shardIndex, chunk, ...(surb === undefined ? {} : { surb }) };
  } catch (error) {
    if (error instanceof DecodeError) throw new E2eError('bad-fragment', error.message);
    throw error;
  }
}

/** Data plus parity shards of a message of D data shards, without building the layout. */
export function totalShards(params: FragmentParams, totalDataShards: number): number {
  checkTotal(totalDataShards);
  const count = Math.ceil(totalDataShards / params.maxStripeData);
  const base = Math.floor(totalDataShards / count);
  const extra = totalDataShards % count;
  const parity = extra * parityShardsFor(params, base + 1) + (count - extra) * parityShardsFor(params, base);
  return totalDataShards + parity;
}
