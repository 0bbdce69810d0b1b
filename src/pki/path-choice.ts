import { hexOf } from '../codec/bytes.js';
import type { RandomSource } from '../crypto/seeded-random.js';
import type { ConsensusDocument } from './consensus-document.js';
import type { NodeDescriptor } from './descriptor.js';

/**
 * Path choice (docs/network.md, "Path choice"): one node per layer, drawn with probability
 * proportional to its weight (bandwidth × reliability score) among the nodes not yet excluded,
 * without replacement and never two nodes of one family (Mixed Messages, Algorithm 1, on a
 * layered topology). Pure: randomness comes in, nothing is read or written.
 *
 * - `excluded` nodes (below the reliability floor, or avoided) are left out of a layer, unless
 *   that would leave the layer without a candidate: then the whole layer is a candidate again
 *   (still weighted, so the least unreliable are likeliest) rather than no path at all.
 * - A node is drawn only if the later layers can still be completed with distinct families;
 *   otherwise its family is struck from the layer and the draw repeats.
 * - A layer whose candidates all weigh 0 is drawn uniformly.
 */
export class PathChoiceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PathChoiceError';
  }
}

export interface PathChoiceOptions<T> {
  /** A node's weight, ≥ 0 and finite. */
  readonly weight: (node: T) => number;
  /** A node's operator: no two nodes of a path share one. */
  readonly family: (node: T) => string;
  /** Nodes to leave out where the layer allows (below the floor, suspected). */
  readonly excluded?: (node: T) => boolean;
  /** Families already on the path (the gateway's, the provider's). */
  readonly usedFamilies?: Iterable<string>;
  readonly random: RandomSource;
}

/** A uniform number in [0, 1) from 48 random bits (exact in a double). */
export function uniformUnit(random: RandomSource): number {
  const bytes = random(6);
  let value = 0;
  for (let i = 0; i < 6; i++) value = value * 256 + bytes[i];
  return value / 2 ** 48;
}

/** One of `candidates`, with probability weight / total (uniform when every weight is 0). */
export function weightedPick<T>(candidates: readonly T[], weight: (node: T) => number, random: RandomSource): T {
  if (candidates.length === 0) throw new PathChoiceError('nothing to choose from');
  const weights = candidates.map((node) => {
    const w = weight(node);
    return Number.isFinite(w) && w > 0 ? w : 0;
  });
  const total = weights.reduce((sum, w) => sum + w, 0);
  if (total <= 0) return candidates[Math.min(candidates.length - 1, Math.floor(uniformUnit(random) * candidates.length))];
  let target = uniformUnit(random) * total;
  for (let i = 0; i < candidates.length; i++) {
    if (weights[i] === 0) continue;
    target -= weights[i];
    if (target < 0) return candidates[i];
  }
  // Rounding: the last node with a weight.
  for (let i = candidates.length - 1; i >= 0; i--) if (weights[i] > 0) return candidates[i];
  return candidates[candidates.length - 1];
}

/** Each layer's candidates: its nodes not excluded, or all of them when none would remain. */
export function layerCandidates<T>(layer: readonly T[], excluded: ((node: T) => boolean) | undefined): readonly T[] {
  if (excluded === undefined) return layer;
  const kept = layer.filter((node) => !excluded(node));
  return kept.length > 0 ? kept : layer;
}

/** One node of each layer, in order (see the file comment). PathChoiceError when no path keeps the families apart. */
export function choosePath<T>(layers: readonly (readonly T[])[], options: PathChoiceOptions<T>): T[] {
  const { weight, family, random } = options;
  const candidatesOf = layers.map((layer) => layerCandidates(layer, options.excluded));
  const used = new Set(options.usedFamilies ?? []);
  const chosen: T[] = [];
  for (let index = 0; index < candidatesOf.length; index++) {
    let candidates = candidatesOf[index].filter((node) => !used.has(family(node)));
    for (;;) {
      if (candidates.length === 0) throw new PathChoiceError(`no node of layer ${index + 1} of the path keeps the families apart`);
      const node = weightedPick(candidates, weight, random);
      const nodeFamily = family(node);
      if (completable(candidatesOf.slice(index + 1), new Set([...used, nodeFamily]), family)) {
        chosen.push(node);
        used.add(nodeFamily);
        break;
      }
      candidates = candidates.filter((other) => family(other) !== nodeFamily);
    }
  }
  return chosen;
}

/** Whether each of `layers` has a node whose family is distinct from `used` and from the others chosen. */
function completable<T>(layers: readonly (readonly T[])[], used: ReadonlySet<string>, family: (node: T) => string): boolean {
  if (layers.length === 0) return true;
  const tried = new Set<string>();
  for (const node of layers[0]) {
    const f = family(node);
    if (used.has(f) || tried.has(f)) continue;
    tried.add(f);
    if (completable(layers.slice(1), new Set([...used, f]), family)) return true;
  }
  return false;
}

/** What path choice needs from a consensus: each node's weight and whether it is below the floor. */
export interface ConsensusWeights {
  /**
   * The node's bandwidth, packets per second: the declared one, capped by the measured one when
   * the document carries a measurement (docs/network.md, "Measured bandwidth").
   */
  readonly bandwidth: (node: NodeDescriptor) => number;
  /** bandwidth × score (per-mille). */
  readonly weight: (node: NodeDescriptor) => number;
  /** The node's score is below the consensus reliability floor. */
  readonly belowFloor: (node: NodeDescriptor) => boolean;
  /** The node's per-mille score (RELIABILITY_SCALE when the document does not list it). */
  readonly score: (node: NodeDescriptor) => number;
}

export function consensusWeights(doc: Pick<ConsensusDocument, 'nodes' | 'scores' | 'measured' | 'reliability'>): ConsensusWeights {
  const scores = new Map<string, number>();
  const measured = new Map<string, number>();
  doc.nodes.forEach((node, i) => {
    scores.set(hexOf(node.nodeId), doc.scores[i]);
    if (doc.measured[i] > 0) measured.set(hexOf(node.nodeId), doc.measured[i]);
  });
  const score = (node: NodeDescriptor): number => scores.get(hexOf(node.nodeId)) ?? 1000;
  const bandwidth = (node: NodeDescriptor): number => Math.min(node.bandwidth, measured.get(hexOf(node.nodeId)) ?? Infinity);
  return {
    score,
    bandwidth,
    weight: (node) => bandwidth(node) * score(node),
    belowFloor: (node) => score(node) < doc.reliability.floor,
  };
}
