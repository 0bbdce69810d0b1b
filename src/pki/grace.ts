import type { MixingParameters } from './params.js';

/**
 * How long after its epoch a node's Sphinx key must still unwrap (docs/nodes.md, "Keys"). Pure.
 *
 * A packet is built with the keys of the epoch it leaves in and then spends the sum of its mixes'
 * delays on the way. One that leaves at the last moment of epoch e meets its last mix and its
 * provider that long into e + 1; if the previous key is gone by then, the packet is dropped there as
 * `bad-mac`. With 8 s epochs, a quarter-epoch grace (2 s) and 500 ms delays, that was about one packet
 * in 40 (a sum of three such delays exceeds 2 s one time in four): mail waited for resends.
 */

/** The chance, per packet, that the sum of the mixes' delays outlasts `pathDelayBoundMs`. */
export const PATH_DELAY_TAIL = 1e-5;

/** Added for links, queues and timers: the time a packet spends between hops besides its delays. */
export const HOP_SLACK_MS = 250;

/**
 * The smallest k for which a sum of `layers` exponential delays of mean 1 exceeds k with a chance
 * of at most `tail`: the Gamma(layers) survival function e^−k · Σ_{i<layers} k^i / i!.
 */
export function gammaTailMeans(layers: number, tail = PATH_DELAY_TAIL): number {
  if (!Number.isInteger(layers) || layers < 1 || layers > 64) throw new RangeError(`layers ${layers}`);
  for (let k = 1; ; k += 0.25) {
    let term = 1;
    let sum = 1;
    for (let i = 1; i < layers; i++) {
      term *= k / i;
      sum += term;
    }
    if (Math.exp(-k) * sum <= tail) return k;
  }
}

/**
 * The time a packet can take from its first mix to its provider, but for one in 1/PATH_DELAY_TAIL:
 * the tail of its delays' sum (never beyond every delay at its cap), plus a slack per hop.
 */
export function pathDelayBoundMs(mixing: Pick<MixingParameters, 'meanDelayMs' | 'maxDelayMs'>, layers = 3): number {
  const delays = Math.min(layers * mixing.maxDelayMs, Math.ceil(gammaTailMeans(layers) * mixing.meanDelayMs));
  return delays + (layers + 1) * HOP_SLACK_MS;
}

/**
 * The grace a node should keep for a network's mixing: the default quarter epoch, or the path's
 * delay bound when that is longer, and never more than an epoch (a node holds one previous key).
 */
export function graceFor(epochMs: number, mixing: Pick<MixingParameters, 'meanDelayMs' | 'maxDelayMs'>, layers = 3): number {
  return Math.min(epochMs, Math.max(Math.floor(epochMs / 4), pathDelayBoundMs(mixing, layers)));
}

/**
 * The grace a node keeps after an epoch: its configured `graceMs`, or the grace that epoch's mixing
 * needs (`graceFor`) when that is longer and known, never more than an epoch.
 */
export function keptGraceMs(graceMs: number, epochMs: number, neededMs: number | undefined): number {
  return Math.min(epochMs, Math.max(graceMs, neededMs ?? 0));
}
