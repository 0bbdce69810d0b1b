import type { TrafficParameters } from '../pki/params.js';

/**
 * How large a replay-filter generation is (docs/nodes.md, "Replay filter"). A lookup tests the
 * current and the previous generation, each holding at most `capacity` tags in m = 2^log2Bits bits
 * with k probes, so its false-positive rate is at most
 *
 *   p = 1 − (1 − p₁)² ≤ 2·p₁,   p₁ = (1 − e^(−k·n/m))^k,
 *
 * and the largest n with 2·p₁ ≤ target is
 *
 *   capacity(m, k) = ⌊ −(m / k) · ln(1 − (target / 2)^(1/k)) ⌋
 *
 * (k = 8, target 10⁻⁶: about m / 44.9, i.e. 45 bits per tag). A generation that reaches its
 * capacity is rotated, so p stays under the target however many packets arrive.
 *
 * The expected number of tags one epoch key sees (every client packet crosses every layer once):
 *
 *   n_key = clients × (clientSendRate + loopRate + dropRate) × (epochMs + graceMs) / 1000 / width
 *
 * where width is the number of nodes in this node's layer. The generation is the smallest power of
 * two whose capacity holds n_key, within [minLog2Bits, maxLog2Bits].
 */
export const REPLAY_FALSE_POSITIVE_TARGET = 1e-6;
/** Probes per tag: 8 × 4 bytes use the whole 32-byte replay tag. */
export const REPLAY_PROBES = 8;
export const REPLAY_MIN_LOG2_BITS = 10;

export interface ReplaySizing {
  readonly log2Bits: number;
  readonly probes: number;
  /** Tags a generation takes before it is rotated. */
  readonly capacity: number;
}

/** Tags that 2^log2Bits bits with `probes` probes hold at a lookup false-positive rate ≤ target (two generations). */
export function generationCapacity(log2Bits: number, probes = REPLAY_PROBES, target = REPLAY_FALSE_POSITIVE_TARGET): number {
  if (!(target > 0 && target < 1)) throw new RangeError(`replay sizing: target ${target}`);
  const perGeneration = (target / 2) ** (1 / probes);
  return Math.floor(-(2 ** log2Bits / probes) * Math.log1p(-perGeneration));
}

export interface ExpectedTraffic {
  readonly traffic: TrafficParameters;
  /** Clients the network is sized for. */
  readonly clients: number;
  /** Nodes in this node's layer (at least 1). */
  readonly layerWidth: number;
  /** How long one key unwraps packets: epochMs + graceMs. */
  readonly keyLifetimeMs: number;
}

/** n_key above: the replay tags one node's epoch key is expected to record. */
export function expectedTagsPerKey(expected: ExpectedTraffic): number {
  const { traffic: t, clients, layerWidth, keyLifetimeMs } = expected;
  const rate = t.clientSendRate + t.loopRate + t.dropRate;
  return Math.ceil((clients * rate * keyLifetimeMs) / 1000 / Math.max(1, layerWidth));
}

/** The smallest generation holding `expectedTags`, within [minLog2Bits, maxLog2Bits]. */
export function replayFilterSizing(expectedTags: number, maxLog2Bits: number, minLog2Bits = REPLAY_MIN_LOG2_BITS): ReplaySizing {
  if (!Number.isInteger(maxLog2Bits) || maxLog2Bits < minLog2Bits || maxLog2Bits > 32) throw new RangeError(`replay sizing: 2^${maxLog2Bits} bits`);
  let log2Bits = minLog2Bits;
  while (log2Bits < maxLog2Bits && generationCapacity(log2Bits) < expectedTags) log2Bits++;
  return { log2Bits, probes: REPLAY_PROBES, capacity: generationCapacity(log2Bits) };
}
