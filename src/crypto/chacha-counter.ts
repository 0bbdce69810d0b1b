import { CounterRangeError } from './errors.js';

/**
 * The ChaCha20 block numbers both backends produce identically. libsodium aborts the process when
 * RFC 8439's 32-bit counter would wrap, sodium-native passes the first block number as a uint32,
 * and noble never produces block 2^32 - 1; so every call must stay within blocks 0 .. 2^32 - 2.
 * That is 256 GiB of keystream per key and nonce, far beyond anything Umbra encrypts.
 */
export const CHACHA_BLOCK_LENGTH = 64;
export const CHACHA_BLOCK_LIMIT = 2 ** 32 - 1;

export function checkChachaCounter(counter: number, inputLength: number): void {
  const blocks = Math.ceil(inputLength / CHACHA_BLOCK_LENGTH);
  if (!Number.isInteger(counter) || counter < 0 || counter + blocks > CHACHA_BLOCK_LIMIT) {
    throw new CounterRangeError('ChaCha20', `blocks ${counter}..${counter + blocks - 1} leave the range 0..${CHACHA_BLOCK_LIMIT - 1}`);
  }
}
