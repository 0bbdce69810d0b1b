import type { RandomSource } from '../crypto/seeded-random.js';

/**
 * A fast deterministic RandomSource for the simulator (sfc32: a small counter-based generator
 * with a 128-bit state). The simulator draws hundreds of millions of small samples, for which the
 * ChaCha20 generator of src/crypto is needlessly slow; nothing here protects a secret.
 */
export interface SimRandom {
  /**
   * Random bytes, as the floor-2 cores take them. A short request (≤ 32 bytes) is answered in a
   * buffer that the next request of that length overwrites: the cores read their bytes at once,
   * and the engine draws hundreds of millions of them.
   */
  readonly bytes: RandomSource;
  /** A uniform number in [0, 1). */
  readonly uniform: () => number;
  /** Advances the generator past `words` 32-bit words: the draws `bytes` or `uniform` would have taken, unread. */
  readonly skip: (words: number) => void;
}

/** The generator words one call of `draw` takes from a SimRandom's `bytes` (a byte request takes ⌈n/4⌉). */
export function wordsDrawn(draw: (random: RandomSource) => void): number {
  let words = 0;
  draw((length) => {
    words += Math.ceil(length / 4);
    return new Uint8Array(length).fill(0x5a);
  });
  return words;
}

export function simRandom(seed: number): SimRandom {
  let a = 0x9e3779b9 ^ seed;
  let b = 0x243f6a88 ^ Math.imul(seed, 0x85ebca6b);
  let c = 0xb7e15162 ^ Math.imul(seed, 0xc2b2ae35);
  let d = 1;
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 16; i++) next();
  const reused = Array.from({ length: 33 }, (_, n) => new Uint8Array(n));
  const bytes: RandomSource = (length) => {
    const out = length <= 32 ? reused[length] : new Uint8Array(length);
    let i = 0;
    for (; i + 4 <= length; i += 4) {
      const word = next();
      out[i] = word >>> 24;
      out[i + 1] = word >>> 16;
      out[i + 2] = word >>> 8;
      out[i + 3] = word;
    }
    if (i < length) {
      const word = next();
      out[i] = word >>> 24;
      if (i + 1 < length) out[i + 1] = word >>> 16;
      if (i + 2 < length) out[i + 2] = word >>> 8;
    }
    return out;
  };
  const skip = (words: number): void => {
    // next() on local copies of the state (the closure's variables cost a load and a store each).
    let x = a;
    let y = b;
    let z = c;
    let w = d;
    for (let i = 0; i < words; i++) {
      const t = (((x + y) | 0) + w) | 0;
      w = (w + 1) | 0;
      x = y ^ (y >>> 9);
      y = (z + (z << 3)) | 0;
      z = (z << 21) | (z >>> 11);
      z = (z + t) | 0;
    }
    a = x;
    b = y;
    c = z;
    d = w;
  };
  return { bytes, uniform: () => next() / 2 ** 32, skip };
}
