import type { RandomSource } from '../crypto/seeded-random.js';

/**
 * A sample of the exponential distribution with the given mean, from 53 random bits: Loopix's
 * per-hop delay (the sender draws one per hop) and the gaps of every Poisson stream.
 * Inverse transform: −mean · ln(U) with U uniform in (0, 1].
 */
export function exponential(random: RandomSource, mean: number): number {
  if (!(mean >= 0) || !Number.isFinite(mean)) throw new RangeError(`exponential: mean ${mean}`);
  if (mean === 0) return 0;
  const bytes = random(7);
  let bits = 0;
  for (let i = 0; i < 7; i++) bits = bits * 256 + bytes[i];
  const u = ((bits % 2 ** 53) + 1) / 2 ** 53; // (0, 1]
  return -mean * Math.log(u);
}

/** A per-hop delay in whole milliseconds, as the Sphinx node-delay command carries it. */
export function delayMs(random: RandomSource, meanMs: number, maxMs: number): number {
  return Math.min(maxMs, Math.round(exponential(random, meanMs)));
}
