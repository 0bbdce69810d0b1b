/**
 * Two-sample statistics for the traffic-analysis tests (not a test file itself): the two-sample
 * Kolmogorov–Smirnov test with an exact p-value where the lattice is small enough and the
 * Kolmogorov limit with Stephens' correction beyond, and the test's power against a given shift,
 * by seeded simulation.
 */

export interface KsResult {
  /** Sizes of the two samples. */
  readonly n: number;
  readonly m: number;
  /** The largest distance between the two empirical distribution functions. */
  readonly d: number;
  /** P(D ≥ d) when both samples come from one continuous distribution. */
  readonly pValue: number;
  readonly method: 'exact' | 'asymptotic';
}

/** Above this many lattice cells (n·m), the p-value is asymptotic (the exact one is O(n·m)). */
export const EXACT_CELLS = 50_000_000;

const ascending = (values: readonly number[]): Float64Array => Float64Array.from(values).sort();

/** D = sup |F_a − F_b| over the pooled values (ties move both steps together). */
export function ksStatistic(a: readonly number[], b: readonly number[]): number {
  if (a.length === 0 || b.length === 0) throw new RangeError('both samples must be non-empty');
  const x = ascending(a);
  const y = ascending(b);
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i], y[j]);
    while (i < x.length && x[i] === v) i++;
    while (j < y.length && y[j] === v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

/**
 * Exact P(D ≥ d) under the null for samples of n and m (no ties): the share of the C(n+m, n) lattice
 * paths that leave the band |i/n − j/m| < d (Hodges 1958). Each cell holds the chance that a random
 * path to it stayed inside, u(i,j) = u(i−1,j)·i/(i+j) + u(i,j−1)·j/(i+j), so every value lies in
 * [0, 1] and nothing under- or overflows however large n and m are.
 */
export function ksExactPValue(d: number, n: number, m: number): number {
  if (d <= 0) return 1;
  const [small, large] = n <= m ? [n, m] : [m, n];
  // Lattice values of D are multiples of 1/(n·m); q sits half a step below d.
  const q = (0.5 + Math.floor(d * small * large - 1e-7)) / (small * large);
  const u = new Float64Array(large + 1);
  for (let j = 0; j <= large; j++) u[j] = j / large > q ? 0 : 1;
  for (let i = 1; i <= small; i++) {
    const x = i / small;
    if (x > q) u[0] = 0;
    for (let j = 1; j <= large; j++) u[j] = Math.abs(x - j / large) > q ? 0 : (u[j] * i + u[j - 1] * j) / (i + j);
  }
  return Math.min(1, Math.max(0, 1 - u[large]));
}

/** The Kolmogorov distribution's upper tail, P(K > λ). */
export function kolmogorovTail(lambda: number): number {
  if (lambda <= 0) return 1;
  if (lambda < 0.2) return 1; // below 1 − 1e-15 not resolvable; the sum converges slowly here
  let sum = 0;
  for (let k = 1; k <= 100; k++) {
    const term = Math.exp(-2 * k * k * lambda * lambda);
    sum += (k % 2 === 1 ? 1 : -1) * term;
    if (term < 1e-17) break;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

/** Asymptotic P(D ≥ d), with Stephens' (1970) small-sample correction of the argument. */
export function ksAsymptoticPValue(d: number, n: number, m: number): number {
  const en = Math.sqrt((n * m) / (n + m));
  return kolmogorovTail((en + 0.12 + 0.11 / en) * d);
}

/** The two-sample KS test of a against b. */
export function ksTest(a: readonly number[], b: readonly number[]): KsResult {
  const d = ksStatistic(a, b);
  const n = a.length;
  const m = b.length;
  const exact = n * m <= EXACT_CELLS;
  return { n, m, d, pValue: exact ? ksExactPValue(d, n, m) : ksAsymptoticPValue(d, n, m), method: exact ? 'exact' : 'asymptotic' };
}

/** The smallest D at which the asymptotic test rejects at level alpha (samples of n and m). */
export function ksCriticalD(n: number, m: number, alpha: number): number {
  let lo = 0;
  let hi = 1;
  for (let k = 0; k < 60; k++) {
    const mid = (lo + hi) / 2;
    if (ksAsymptoticPValue(mid, n, m) <= alpha) hi = mid;
    else lo = mid;
  }
  return hi;
}

export interface PowerOptions {
  readonly n: number;
  readonly m: number;
  readonly alpha: number;
  readonly trials: number;
  /** Uniform in [0, 1), seeded: the simulation is reproducible. */
  readonly uniform: () => number;
  /** Turns a uniform into a draw of the null distribution (default Exp(1)). */
  readonly draw?: (u: number) => number;
  /** The alternative: what the shift does to a draw of the null distribution. */
  readonly shift: (x: number) => number;
}

/** Exp(1) by inversion. */
export const exponential = (u: number): number => -Math.log(1 - u);

/**
 * The share of simulated experiments (n draws of the null against m shifted draws) in which the test
 * rejects at level alpha: the chance that the test finds a shift of that kind and size.
 */
export function ksPower(options: PowerOptions): number {
  const draw = options.draw ?? exponential;
  const critical = ksCriticalD(options.n, options.m, options.alpha);
  let rejected = 0;
  for (let t = 0; t < options.trials; t++) {
    const a = Array.from({ length: options.n }, () => draw(options.uniform()));
    const b = Array.from({ length: options.m }, () => options.shift(draw(options.uniform())));
    if (ksStatistic(a, b) >= critical) rejected++;
  }
  return rejected / options.trials;
}

/** A seeded uniform generator (mulberry32): for simulations and synthetic samples in tests. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The median of a non-empty sample. */
export function median(values: readonly number[]): number {
  const sorted = ascending(values);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
