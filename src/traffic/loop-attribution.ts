import { binomialUpperTail } from './loop-alarm.js';

/**
 * Which nodes lose a party's loops (docs/network.md, "Alerts"). Each loop's fate (back, or lost
 * after its deadline) is attributed to every node of its path. Per epoch (the epoch the loop left
 * in: paths and keys are an epoch's) the party counts, for each node, the n loops through it and
 * the L of them lost, and for the whole epoch the loops and losses of all paths (every loop crosses
 * every mix layer, so a layer's loops are all the loops: the layer test is this one test).
 *
 * The test: under the null hypothesis each loop is lost independently with the normal loss rate
 * p0. A count (n, L) is suspect when n ≥ minLoops and the one-sided binomial tail
 * P(Bin(n, p0) ≥ L) < α / m, where m is the number of counts tested (Bonferroni): with no attack,
 * the chance that one judgement raises any alarm is at most α, however many nodes there are.
 * A node that drops or holds every packet but a target's (an n−1 attack) makes all loops through
 * it vanish: L = n, and the tail p0^n falls below α / m after a handful of loops.
 */
export interface AttributionOptions {
  /** p0: the share of loops lost when nobody attacks. */
  readonly baselineLoss: number;
  /** α: the false-alarm probability per epoch (over all the counts of the epoch together). */
  readonly alpha: number;
  /** A count with fewer loops is not tested (too little to tell). */
  readonly minLoops: number;
  /**
   * β: a node is suspect only when the loops that avoided it look normal, their tail at least β
   * (a lenient level: loss even mildly raised elsewhere means the node alone does not explain it).
   */
  readonly othersLevel: number;
}

export const DEFAULT_ATTRIBUTION: AttributionOptions = Object.freeze({ baselineLoss: 0.05, alpha: 1e-3, minLoops: 5, othersLevel: 0.01 });

/** A loop's fate: its path's nodes (by key, in path order: hop i is on layer layerOf[i]) and whether it was lost. */
export interface LoopFate {
  readonly hops: readonly { readonly node: string; readonly layer: number }[];
  readonly lost: boolean;
}

export interface LossCount {
  readonly loops: number;
  readonly lost: number;
}

/** A count that failed the test: a node's (with its layer) or all paths' ('paths'). */
export interface Suspect extends LossCount {
  readonly scope: 'node' | 'paths';
  readonly node?: string;
  readonly layer?: number;
  /** P(Bin(loops, p0) ≥ lost). */
  readonly pValue: number;
}

/** Fates kept per epoch at most (the oldest are dropped beyond: a bound on memory, far above a party's loops per epoch). */
export const MAX_FATES_PER_EPOCH = 100_000;

/** The loops of one epoch and their fates. */
export class EpochLossTally {
  private readonly fates: LoopFate[] = [];

  add(fate: LoopFate): void {
    if (this.fates.length >= MAX_FATES_PER_EPOCH) this.fates.shift();
    this.fates.push(fate);
  }

  get all(): readonly LoopFate[] {
    return this.fates;
  }
}

/** Per node (in key order) the loops of `fates` through it and the lost ones. */
export function nodeCounts(fates: readonly LoopFate[]): { node: string; layer: number; loops: number; lost: number }[] {
  const counts = new Map<string, { layer: number; loops: number; lost: number }>();
  for (const fate of fates) {
    const seen = new Set<string>();
    for (const hop of fate.hops) {
      if (seen.has(hop.node)) continue;
      seen.add(hop.node);
      const count = counts.get(hop.node) ?? { layer: hop.layer, loops: 0, lost: 0 };
      count.loops++;
      if (fate.lost) count.lost++;
      counts.set(hop.node, count);
    }
  }
  return [...counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([node, c]) => ({ node, ...c }));
}

function checkOptions(options: AttributionOptions): void {
  const { baselineLoss, alpha, minLoops } = options;
  if (!(baselineLoss > 0 && baselineLoss < 1)) throw new RangeError(`baselineLoss must be in (0, 1): ${baselineLoss}`);
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1): ${alpha}`);
  if (!Number.isSafeInteger(minLoops) || minLoops < 1) throw new RangeError(`minLoops must be a positive integer: ${minLoops}`);
  if (!(options.othersLevel > 0 && options.othersLevel < 1)) throw new RangeError(`othersLevel must be in (0, 1): ${options.othersLevel}`);
}

/**
 * Whether the loops that avoided a node look normal, so that the node alone explains the loss:
 * none of them lost (however few: loss they do not share cannot lie elsewhere), or at least
 * minLoops of them with a tail at least othersLevel. Fewer than minLoops with some lost tell
 * nothing, and the node is not named on them.
 */
function othersNormal(others: LossCount, options: AttributionOptions): boolean {
  if (others.loops > 0 && others.lost === 0) return true;
  return others.loops >= options.minLoops && binomialUpperTail(others.loops, others.lost, options.baselineLoss) >= options.othersLevel;
}

/**
 * Whether another node (not on every loop) crossed every lost loop of `suspect`: it explains the same
 * loss, so `suspect` is not named on it (that node may be, on its own test, or, when it cannot be
 * tested yet, nobody until one of `suspect`'s lost loops avoided it). The one exception is the mark
 * of an n−1 attack: `suspect` lost every loop through it and the other node did not, so the other's
 * returned loops clear it.
 *
 * - In a layer of two mixes, an n−1 attacker's lost loops can all have crossed one healthy mix of the
 *   next layer: 4 of its 5 loops, with the attacker not yet at `minLoops`, once named that mix in CI.
 * - A healthy mix whose loops all went through a mix dropping 30 % loses them at that mix's rate, and
 *   on a few loops can reach a lower tail and a higher rate than the dropper. In CI a mix once named
 *   the healthy mix-1-1 beside a dropper in layer 3 (its counts were not kept; this is the likeliest
 *   way, and the reliability test now prints them). Measured on a mix's loops (one next-layer mix of two
 *   dropping 30 %, judged every 8 loops, 100 an epoch, 4,000 seeded epochs): a healthy mix was named
 *   in 27 epochs when this asked for a loss rate at least as high as `suspect`'s, in none since.
 *   Loss elsewhere on the paths still misleads it at times (at 1 % per loop: 27 epochs, 52 before).
 */
function explainedByAnother(fates: readonly LoopFate[], suspect: NodeCount, counts: readonly NodeCount[], onEvery: ReadonlySet<string>): boolean {
  const lostThrough = fates.filter((f) => f.lost && f.hops.some((h) => h.node === suspect.node));
  const nMinusOne = (other: NodeCount): boolean => suspect.lost === suspect.loops && other.lost < other.loops;
  return counts.some((other) =>
    other.node !== suspect.node && !onEvery.has(other.node) && !nMinusOne(other) &&
    lostThrough.every((f) => f.hops.some((h) => h.node === other.node)));
}

type NodeCount = ReturnType<typeof nodeCounts>[number];

/**
 * The counts of `fates` that fail the test: nodes (most suspect first), then all paths. A node on
 * every loop (the own gateway and provider) is not tested on its own: its count is the paths'.
 * A node is suspect only when the loops that avoided it look normal (othersNormal): when they too
 * are lost beyond the normal rate, the loss lies elsewhere (a gateway or provider that drops
 * everything makes every mix look bad), and only the paths test speaks.
 * Explaining away: once a node is suspect, the loops through it are set aside and the others are
 * counted again, so the nodes that merely shared paths with it (a later layer's mixes) are judged
 * on the loops that avoided it. The threshold α / m is fixed by the first round (m: the nodes
 * tested then, plus the paths test); later rounds only ever test fewer loops.
 */
export function suspectsOf(fates: readonly LoopFate[], options: AttributionOptions): Suspect[] {
  checkOptions(options);
  const total = fates.length;
  const lostTotal = fates.filter((f) => f.lost).length;
  const testable = (c: { loops: number }): boolean => c.loops >= options.minLoops;
  const onEvery = new Set(nodeCounts(fates).filter((c) => c.loops === total).map((c) => c.node));
  const firstRound = nodeCounts(fates).filter((c) => !onEvery.has(c.node) && testable(c));
  const threshold = options.alpha / (firstRound.length + (total >= options.minLoops ? 1 : 0) || 1);
  const suspects: Suspect[] = [];
  let remaining = fates;
  for (;;) {
    let best: Suspect | undefined;
    const lostRemaining = remaining.filter((f) => f.lost).length;
    const counts = nodeCounts(remaining);
    for (const c of counts) {
      if (onEvery.has(c.node) || !testable(c) || c.lost === 0) continue;
      const pValue = binomialUpperTail(c.loops, c.lost, options.baselineLoss);
      if (!(pValue < threshold) || (best !== undefined && pValue >= best.pValue)) continue;
      // The loops that avoided the node must be enough, and normal: else the loss lies elsewhere too.
      const others = { loops: remaining.length - c.loops, lost: lostRemaining - c.lost };
      if (!othersNormal(others, options)) continue;
      if (explainedByAnother(remaining, c, counts, onEvery)) continue;
      best = { scope: 'node', node: c.node, layer: c.layer, loops: c.loops, lost: c.lost, pValue };
    }
    if (best === undefined) break;
    suspects.push(best);
    const node = best.node;
    remaining = remaining.filter((f) => !f.hops.some((h) => h.node === node));
  }
  if (total >= options.minLoops && lostTotal > 0) {
    const pValue = binomialUpperTail(total, lostTotal, options.baselineLoss);
    if (pValue < threshold) suspects.push({ scope: 'paths', loops: total, lost: lostTotal, pValue });
  }
  return suspects;
}
