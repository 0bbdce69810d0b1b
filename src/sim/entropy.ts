/**
 * Anonymity of one message as the adversary sees it: a probability distribution over candidate
 * users (or packets). Shannon entropy says how many equally likely candidates it is worth (2^H);
 * min-entropy says how likely the adversary's best single guess is (2^−H∞).
 */
export function shannonEntropy(weights: Iterable<number>): number {
  let total = 0;
  const list: number[] = [];
  for (const w of weights) {
    if (w > 0) {
      list.push(w);
      total += w;
    }
  }
  if (total === 0) return 0;
  let h = 0;
  for (const w of list) {
    const p = w / total;
    h -= p * Math.log2(p);
  }
  return Math.max(0, h);
}

export function minEntropy(weights: Iterable<number>): number {
  let total = 0;
  let max = 0;
  for (const w of weights) {
    if (w > 0) {
      total += w;
      if (w > max) max = w;
    }
  }
  return total === 0 ? 0 : Math.max(0, -Math.log2(max / total));
}

/** The candidate with the largest weight (the adversary's best guess), or undefined. */
export function bestGuess<K>(weights: ReadonlyMap<K, number>): K | undefined {
  let best: K | undefined;
  let max = -Infinity;
  for (const [key, w] of weights) {
    if (w > max) {
      max = w;
      best = key;
    }
  }
  return best;
}

/** The q-quantile (0..1) of `values` (sorted copy; linear interpolation); NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((x, y) => x - y);
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((s, v) => s + v, 0) / values.length;
}
