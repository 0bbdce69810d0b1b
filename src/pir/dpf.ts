import type { Crypto } from '../crypto/types.js';
import type { RandomSource } from '../crypto/seeded-random.js';
import { PirError } from './errors.js';
import { BLOCK_BYTES, CONTROL_BYTE, LEAF_BYTES, Prg, SEED_BYTES } from './prg.js';

/**
 * Two-party distributed point function for f(x) = 1 if x = alpha else 0 on the domain 0 .. N - 1,
 * XOR-shared: evalAll(key0) XOR evalAll(key1) is the bitmap with only bit alpha set. The tree-based
 * construction of Boyle, Gilboa and Ishai (CCS 2016, "Function Secret Sharing: Improvements and
 * Extensions"): one seed and one control bit per party per node, one correction word (a seed and
 * two control bits) per level, and their early-termination optimisation for 1-bit outputs: the
 * bottom 9 levels are replaced by a 512-bit leaf block (a whole ChaCha20 block), so the tree has
 * depth d = ceil(log2(ceil(N / 512))) and each leaf yields 512 consecutive outputs. Leaves at or
 * past ceil(N / 512) are never expanded. docs/pir.md gives the construction and the key format.
 *
 * Key format (version 2), 86 + 17 d bytes:
 *   [0]            version, 0x02
 *   [1]            party b, 0 or 1
 *   [2, 6)         the domain size N, unsigned 32-bit big-endian, 1 <= N <= 2^32 - 1
 *   [6, 22)        the root seed s_b
 *   per level i = 1 .. d, 17 bytes at 22 + 17 (i - 1):
 *                  16 bytes the seed correction s_CW, then one byte: bit 0 t_CW^L, bit 1 t_CW^R,
 *                  bits 2..7 zero
 *   [22 + 17 d, +64) the output correction CW_out
 */

export const DPF_VERSION = 2;
/** Largest domain: N must fit the key's 32-bit field. */
export const MAX_DOMAIN = 2 ** 32 - 1;
/** Bytes of a leaf block (a whole PRG block), and of the output correction. */
const OUTPUT_BYTES = LEAF_BYTES;
/** Outputs per leaf block (early termination): 2^9. */
export const LEAF_OUTPUTS = OUTPUT_BYTES * 8;
const HEADER_BYTES = 6;
const LEVEL_BYTES = SEED_BYTES + 1;
/** Nodes expanded per PRG batch (bounds the scratch buffer to 64 KiB). */
const BATCH = 1024;

/** The tree depth d for a domain of N points. */
export function dpfDepth(domain: number): number {
  checkDomain(domain);
  const leaves = Math.ceil(domain / LEAF_OUTPUTS);
  let depth = 0;
  while (2 ** depth < leaves) depth++;
  return depth;
}

/** The length in bytes of either key for a domain of N points. */
export function dpfKeyLength(domain: number): number {
  return HEADER_BYTES + SEED_BYTES + LEVEL_BYTES * dpfDepth(domain) + OUTPUT_BYTES;
}

/** Longest key of any domain: what a server reads at most before it rejects a key. */
export const MAX_KEY_BYTES = dpfKeyLength(MAX_DOMAIN);
/** Shortest key: a domain of at most LEAF_OUTPUTS points (no levels). */
export const MIN_KEY_BYTES = dpfKeyLength(1);

function checkDomain(domain: number): void {
  if (typeof domain !== 'number' || !Number.isInteger(domain) || domain < 1 || domain > MAX_DOMAIN) {
    throw new PirError('invalid-domain', `the domain size must be an integer in 1..${MAX_DOMAIN}`);
  }
}

/** A decoded key: views into the key's bytes. */
export interface DpfKey {
  readonly party: 0 | 1;
  readonly domain: number;
  readonly depth: number;
  readonly seed: Uint8Array;
  /** Level i's seed correction at [16 i, 16 i + 16), i = 0 .. depth - 1 (root's children first). */
  readonly seedCorrections: Uint8Array;
  /** Level i's control-bit corrections: bit 0 left, bit 1 right. */
  readonly bitCorrections: Uint8Array;
  readonly outputCorrection: Uint8Array;
}

/** Parses a key; raises PirError('malformed-key') on any deviation from the format. Reads at most MAX_KEY_BYTES. */
export function decodeDpfKey(bytes: Uint8Array): DpfKey {
  if (!(bytes instanceof Uint8Array)) throw new PirError('malformed-key', 'a key is a Uint8Array');
  if (bytes.length < MIN_KEY_BYTES || bytes.length > MAX_KEY_BYTES) {
    throw new PirError('malformed-key', `a key has ${MIN_KEY_BYTES}..${MAX_KEY_BYTES} bytes, not ${bytes.length}`);
  }
  if (bytes[0] !== DPF_VERSION) throw new PirError('malformed-key', `unknown key version ${bytes[0]}`);
  const party = bytes[1];
  if (party !== 0 && party !== 1) throw new PirError('malformed-key', `party must be 0 or 1, not ${party}`);
  const domain = ((bytes[2] << 24) | (bytes[3] << 16) | (bytes[4] << 8) | bytes[5]) >>> 0;
  if (domain < 1) throw new PirError('malformed-key', 'the domain size is 0');
  const depth = dpfDepth(domain);
  const expected = dpfKeyLength(domain);
  if (bytes.length !== expected) throw new PirError('malformed-key', `a key for ${domain} points has ${expected} bytes, not ${bytes.length}`);
  const seedCorrections = new Uint8Array(depth * SEED_BYTES);
  const bitCorrections = new Uint8Array(depth);
  for (let i = 0; i < depth; i++) {
    const at = HEADER_BYTES + SEED_BYTES + i * LEVEL_BYTES;
    seedCorrections.set(bytes.subarray(at, at + SEED_BYTES), i * SEED_BYTES);
    const bits = bytes[at + SEED_BYTES];
    if ((bits & ~3) !== 0) throw new PirError('malformed-key', `level ${i + 1}'s control byte has unused bits set`);
    bitCorrections[i] = bits;
  }
  const tail = HEADER_BYTES + SEED_BYTES + depth * LEVEL_BYTES;
  return {
    party,
    domain,
    depth,
    seed: bytes.slice(HEADER_BYTES, HEADER_BYTES + SEED_BYTES),
    seedCorrections,
    bitCorrections,
    outputCorrection: bytes.slice(tail, tail + OUTPUT_BYTES),
  };
}

function encodeKey(party: 0 | 1, domain: number, seed: Uint8Array, seedCorrections: Uint8Array, bitCorrections: Uint8Array, outputCorrection: Uint8Array): Uint8Array {
  const depth = bitCorrections.length;
  const out = new Uint8Array(dpfKeyLength(domain));
  out[0] = DPF_VERSION;
  out[1] = party;
  new DataView(out.buffer).setUint32(2, domain);
  out.set(seed, HEADER_BYTES);
  for (let i = 0; i < depth; i++) {
    const at = HEADER_BYTES + SEED_BYTES + i * LEVEL_BYTES;
    out.set(seedCorrections.subarray(i * SEED_BYTES, (i + 1) * SEED_BYTES), at);
    out[at + SEED_BYTES] = bitCorrections[i];
  }
  out.set(outputCorrection, HEADER_BYTES + SEED_BYTES + depth * LEVEL_BYTES);
  return out;
}

function randomSeed(random: RandomSource): Uint8Array {
  const seed = random(SEED_BYTES);
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_BYTES) throw new PirError('invalid-random', `the RandomSource must return ${SEED_BYTES} bytes`);
  return Uint8Array.from(seed);
}

/**
 * Gen: the two keys of the point function at `index` on a domain of N points. Uses 32 bytes of
 * randomness (the two root seeds) and 2 (d + 1) PRG blocks.
 */
export function dpfGen(crypto: Crypto, random: RandomSource, index: number, domain: number): [Uint8Array, Uint8Array] {
  checkDomain(domain);
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= domain) {
    throw new PirError('invalid-index', `the index must be an integer in 0..${domain - 1}`);
  }
  const depth = dpfDepth(domain);
  const root0 = randomSeed(random);
  const root1 = randomSeed(random);
  const prg = new Prg(crypto, 2);
  // seeds: party 0's current seed in bytes 0..15, party 1's in 16..31.
  const seeds = new Uint8Array(2 * SEED_BYTES);
  seeds.set(root0, 0);
  seeds.set(root1, SEED_BYTES);
  const seeds32 = new Uint32Array(seeds.buffer);
  const blocks = prg.blocks;
  let t0 = 0;
  let t1 = 1;
  const seedCorrections = new Uint8Array(depth * SEED_BYTES);
  const bitCorrections = new Uint8Array(depth);
  const leaf = Math.floor(index / LEAF_OUTPUTS);
  for (let level = 0; level < depth; level++) {
    prg.expand(seeds32, 0, 2);
    const bit = Math.floor(leaf / 2 ** (depth - 1 - level)) & 1; // the path goes right when 1
    const keep = bit * SEED_BYTES; // offset of the kept child's seed in a block
    const lose = (1 - bit) * SEED_BYTES;
    const correction = seedCorrections.subarray(level * SEED_BYTES, (level + 1) * SEED_BYTES);
    for (let k = 0; k < SEED_BYTES; k++) correction[k] = blocks[lose + k] ^ blocks[BLOCK_BYTES + lose + k];
    const c0 = blocks[CONTROL_BYTE];
    const c1 = blocks[BLOCK_BYTES + CONTROL_BYTE];
    const tLeft = (c0 & 1) ^ (c1 & 1) ^ bit ^ 1;
    const tRight = ((c0 >> 1) & 1) ^ ((c1 >> 1) & 1) ^ bit;
    bitCorrections[level] = tLeft | (tRight << 1);
    const tKeep = tLeft ^ ((tLeft ^ tRight) & bit);
    const mask0 = -t0 & 0xff; // the index's bits select by masks, not branches
    const mask1 = -t1 & 0xff;
    for (let k = 0; k < SEED_BYTES; k++) {
      seeds[k] = blocks[keep + k] ^ (correction[k] & mask0);
      seeds[SEED_BYTES + k] = blocks[BLOCK_BYTES + keep + k] ^ (correction[k] & mask1);
    }
    const nextT0 = ((c0 >> bit) & 1) ^ (t0 & tKeep);
    const nextT1 = ((c1 >> bit) & 1) ^ (t1 & tKeep);
    t0 = nextT0;
    t1 = nextT1;
  }
  // The leaf: V(s0) ^ V(s1) ^ CW_out must be the unit block with bit (index mod 512) set, since
  // exactly one of t0, t1 is 1 on the path.
  prg.expand(seeds32, 0, 2);
  const outputCorrection = new Uint8Array(OUTPUT_BYTES);
  for (let k = 0; k < OUTPUT_BYTES; k++) outputCorrection[k] = blocks[k] ^ blocks[BLOCK_BYTES + k];
  const offset = index % LEAF_OUTPUTS;
  outputCorrection[offset >> 3] ^= 1 << (offset & 7);
  return [
    encodeKey(0, domain, root0, seedCorrections, bitCorrections, outputCorrection),
    encodeKey(1, domain, root1, seedCorrections, bitCorrections, outputCorrection),
  ];
}

/** One PRG of BATCH blocks per Crypto, kept: full-domain evaluation is synchronous, so it is never shared by two at once. */
const evalPrgs = new WeakMap<Crypto, Prg>();

function evalPrg(crypto: Crypto): Prg {
  let prg = evalPrgs.get(crypto);
  if (prg === undefined) {
    prg = new Prg(crypto, BATCH);
    evalPrgs.set(crypto, prg);
  }
  return prg;
}

function decodeFor(keyBytes: Uint8Array, domain: number): DpfKey {
  checkDomain(domain);
  const key = decodeDpfKey(keyBytes);
  if (key.domain !== domain) throw new PirError('domain-mismatch', `the key is for ${key.domain} points, not ${domain}`);
  return key;
}

/**
 * Full-domain evaluation: this party's share of the point function at every x < N, as a bitmap of
 * ceil(N / 8) bytes (x at bit x & 7 of byte x >> 3; bits from N on are zero). Level by level, each
 * level's nodes expanded in batches; nodes whose leaves all lie at or past ceil(N / 512) are
 * skipped, so it costs at most 2 ceil(N / 512) + d PRG blocks.
 */
export function dpfEvalAll(crypto: Crypto, keyBytes: Uint8Array, domain: number): Uint8Array {
  const key = decodeFor(keyBytes, domain);
  const { depth } = key;
  const leaves = Math.ceil(domain / LEAF_OUTPUTS);
  const prg = evalPrg(crypto);
  const { blocks, blocks32 } = prg;
  let seeds32 = new Uint32Array(SEED_BYTES / 4);
  seeds32.set(new Uint32Array(key.seed.buffer, key.seed.byteOffset, 4));
  let controls = Uint8Array.of(key.party);
  let count = 1;
  const corrections32 = new Uint32Array(key.seedCorrections.buffer, key.seedCorrections.byteOffset, depth * 4);
  for (let level = 0; level < depth; level++) {
    const nextCount = Math.ceil(leaves / 2 ** (depth - 1 - level));
    const nextSeeds32 = new Uint32Array(nextCount * 4);
    const nextControls = new Uint8Array(nextCount);
    const w0 = corrections32[level * 4];
    const w1 = corrections32[level * 4 + 1];
    const w2 = corrections32[level * 4 + 2];
    const w3 = corrections32[level * 4 + 3];
    const tLeft = key.bitCorrections[level] & 1;
    const tRight = key.bitCorrections[level] >> 1;
    for (let start = 0; start < count; start += BATCH) {
      const batch = Math.min(BATCH, count - start);
      prg.expand(seeds32, start, batch);
      for (let i = 0; i < batch; i++) {
        const parent = start + i;
        const t = controls[parent];
        const mask = -t | 0;
        const b = i * (BLOCK_BYTES / 4);
        const control = blocks[i * BLOCK_BYTES + CONTROL_BYTE];
        const left = parent * 2;
        let o = left * 4;
        nextSeeds32[o] = blocks32[b] ^ (w0 & mask);
        nextSeeds32[o + 1] = blocks32[b + 1] ^ (w1 & mask);
        nextSeeds32[o + 2] = blocks32[b + 2] ^ (w2 & mask);
        nextSeeds32[o + 3] = blocks32[b + 3] ^ (w3 & mask);
        nextControls[left] = (control & 1) ^ (t & tLeft);
        if (left + 1 < nextCount) {
          o += 4;
          nextSeeds32[o] = blocks32[b + 4] ^ (w0 & mask);
          nextSeeds32[o + 1] = blocks32[b + 5] ^ (w1 & mask);
          nextSeeds32[o + 2] = blocks32[b + 6] ^ (w2 & mask);
          nextSeeds32[o + 3] = blocks32[b + 7] ^ (w3 & mask);
          nextControls[left + 1] = ((control >> 1) & 1) ^ (t & tRight);
        }
      }
    }
    seeds32 = nextSeeds32;
    controls = nextControls;
    count = nextCount;
  }
  // Leaves: block L of the output is V(s_L) ^ t_L * CW_out, V(s) being s's whole PRG block.
  const out = new Uint8Array(leaves * OUTPUT_BYTES);
  const out32 = new Uint32Array(out.buffer);
  const words = OUTPUT_BYTES / 4;
  const cw32 = new Uint32Array(words);
  cw32.set(new Uint32Array(key.outputCorrection.buffer, key.outputCorrection.byteOffset, words));
  for (let start = 0; start < count; start += BATCH) {
    const batch = Math.min(BATCH, count - start);
    prg.expand(seeds32, start, batch);
    for (let i = 0; i < batch; i++) {
      const mask = -controls[start + i] | 0;
      const b = i * words;
      const o = (start + i) * words;
      for (let w = 0; w < words; w++) out32[o + w] = blocks32[b + w] ^ (cw32[w] & mask);
    }
  }
  const bitmap = out.subarray(0, Math.ceil(domain / 8));
  if (domain % 8 !== 0) bitmap[bitmap.length - 1] &= (1 << (domain % 8)) - 1;
  return bitmap;
}

/** Evaluates this party's share at one point x (0 or 1): d + 1 PRG blocks along x's path. */
export function dpfEval(crypto: Crypto, keyBytes: Uint8Array, domain: number, x: number): 0 | 1 {
  const key = decodeFor(keyBytes, domain);
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x >= domain) {
    throw new PirError('invalid-index', `the point must be an integer in 0..${domain - 1}`);
  }
  const prg = new Prg(crypto, 1);
  const block = prg.blocks;
  const seed = Uint8Array.from(key.seed);
  const seed32 = new Uint32Array(seed.buffer);
  let t = key.party as number;
  const leaf = Math.floor(x / LEAF_OUTPUTS);
  for (let level = 0; level < key.depth; level++) {
    prg.expand(seed32, 0, 1);
    const bit = Math.floor(leaf / 2 ** (key.depth - 1 - level)) & 1;
    for (let k = 0; k < SEED_BYTES; k++) {
      seed[k] = block[bit * SEED_BYTES + k] ^ (t === 1 ? key.seedCorrections[level * SEED_BYTES + k] : 0);
    }
    t = ((block[CONTROL_BYTE] >> bit) & 1) ^ (t & (key.bitCorrections[level] >> bit) & 1);
  }
  prg.expand(seed32, 0, 1);
  const offset = x % LEAF_OUTPUTS;
  const byte = block[offset >> 3] ^ (t === 1 ? key.outputCorrection[offset >> 3] : 0);
  return ((byte >> (offset & 7)) & 1) as 0 | 1;
}
