import type { Crypto } from './types.js';

/** A source of random bytes. Protocol cores take one as a parameter so tests can seed them. */
export type RandomSource = (length: number) => Uint8Array;

/** The operating system's randomness through the given backend. */
export function systemRandom(crypto: Crypto): RandomSource {
  return (length) => crypto.randomBytes(length);
}

/**
 * A deterministic RandomSource for tests, benchmarks and the simulator: the ChaCha20 keystream of
 * a 32-byte seed, read sequentially. Never use it for real keys.
 */
export function seededRandom(crypto: Crypto, seed: Uint8Array | number): RandomSource {
  const key = new Uint8Array(32);
  if (typeof seed === 'number') new DataView(key.buffer).setFloat64(0, seed);
  else key.set(seed.subarray(0, 32));
  const nonce = new Uint8Array(8);
  const blockSize = 64;
  let block = 0;
  let buffered: Uint8Array = new Uint8Array(0);
  return (length) => {
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      if (buffered.length === 0) {
        const chunkBlocks = 16;
        buffered = crypto.chacha20Xor(key, nonce, new Uint8Array(blockSize * chunkBlocks), block);
        block += chunkBlocks;
      }
      const take = Math.min(buffered.length, length - filled);
      out.set(buffered.subarray(0, take), filled);
      buffered = buffered.subarray(take);
      filled += take;
    }
    return out;
  };
}
