import type { RandomSource } from '../../crypto/index.js';

/**
 * A delay drawn from the exponential distribution with the given mean, rounded to whole
 * milliseconds (what the node-delay command carries). Drawn from `random`, not Math.random, so a
 * seeded run is reproducible and a real client uses the operating system's randomness.
 */
export function exponentialDelayMs(random: RandomSource, meanMs: number): number {
  // 53 random bits give a uniform u in [0, 1) with a double's full precision.
  // Six whole bytes and five bits of a seventh, so every step stays an exact integer.
  const bytes = random(7);
  let bits = 0;
  for (let i = 0; i < 6; i++) bits = bits * 256 + bytes[i];
  bits = bits * 32 + (bytes[6] >> 3);
  const u = bits / 2 ** 53;
  // Inverse CDF; log1p(-u) is finite because u < 1.
  return Math.round(-meanMs * Math.log1p(-u));
}
