import type { Crypto } from '../crypto/types.js';

/**
 * The DPF's length-doubling PRG G (docs/pir.md, "The PRG"). A 16-byte seed s expands to one 64-byte
 * ChaCha20 keystream block: key = s || 16 zero bytes, the original construction's 8-byte all-zero
 * nonce, block counter 0. An inner node's block gives its children:
 *
 *   bytes  0..15  the left child's seed s_L
 *   bytes 16..31  the right child's seed s_R
 *   byte  32      bit 0: the left control bit t_L, bit 1: the right control bit t_R (bits 2..7 unused)
 *   bytes 33..63  unused
 *
 * A leaf's block is its value V(s), all of it: 512 output bits. A seed is an inner node's or a
 * leaf's, never both (the tree's depth is fixed by the domain), so no block serves two uses.
 * ChaCha20 under a 128-bit secret key (zero-padded to 256 bits) is a PRF with 128-bit security.
 */
export const SEED_BYTES = 16;
export const BLOCK_BYTES = 64;
export const LEFT_SEED = 0;
export const RIGHT_SEED = 16;
export const CONTROL_BYTE = 32;
/** A leaf's value: the whole block. */
export const LEAF_BYTES = BLOCK_BYTES;

const NONCE = new Uint8Array(8);

/**
 * Expands seeds in batches: all the nodes of a level (or a chunk of it) in one pass into the PRG's
 * own block buffer. The buffer's 64-byte views are made once per PRG (making a view costs about as
 * much as half a ChaCha20 call), so nothing is allocated per seed; dpfEvalAll keeps one PRG of
 * 1024 blocks for the life of the process.
 */
export class Prg {
  /** The output: G(seed first + i) at blocks[64 i, 64 i + 64) after expand(). */
  readonly blocks: Uint8Array;
  readonly blocks32: Uint32Array;
  private readonly views: Uint8Array[];
  private readonly key = new Uint8Array(32);
  private readonly key32 = new Uint32Array(this.key.buffer);

  constructor(private readonly crypto: Crypto, readonly capacity: number) {
    this.blocks = new Uint8Array(capacity * BLOCK_BYTES);
    this.blocks32 = new Uint32Array(this.blocks.buffer);
    this.views = Array.from({ length: capacity }, (_, i) => this.blocks.subarray(i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES));
  }

  /**
   * Writes G(seed) for seeds first .. first + count - 1 of `seeds` (16 bytes each, 4 words each in
   * seeds32, its Uint32Array view) into blocks[0 .. 64 * count); count <= capacity.
   */
  expand(seeds32: Uint32Array, first: number, count: number): void {
    if (count > this.capacity) throw new RangeError(`at most ${this.capacity} seeds per expansion`);
    const key = this.key;
    const key32 = this.key32;
    const views = this.views;
    const crypto = this.crypto;
    for (let i = 0; i < count; i++) {
      const s = (first + i) * 4;
      key32[0] = seeds32[s];
      key32[1] = seeds32[s + 1];
      key32[2] = seeds32[s + 2];
      key32[3] = seeds32[s + 3];
      crypto.chacha20Stream(key, NONCE, views[i]);
    }
  }
}
