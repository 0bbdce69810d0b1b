/**
 * The two-sample KS test against known values: a brute-force count over every arrangement of two
 * small samples, the Gnedenko–Korolyuk closed form for equal sizes, reference p-values computed with
 * SciPy 1.17.1 (`scipy.stats.ks_2samp(a, b, method='exact')`, `kstwobign.sf`), and the power the
 * unobservability test relies on.
 */
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  exponential,
  kolmogorovTail,
  ksAsymptoticPValue,
  ksCriticalD,
  ksExactPValue,
  ksPower,
  ksStatistic,
  ksTest,
  median,
  mulberry32,
} from './two-sample.js';

const frac = (x: number): number => x - Math.floor(x);
/** The deterministic samples the SciPy reference values were computed on. */
const golden = (count: number): number[] => Array.from({ length: count }, (_, i) => frac((i + 1) * 0.618034));
const silver = (count: number, power: number, offset = 0): number[] =>
  Array.from({ length: count }, (_, i) => frac((i + 1) * 0.414214) ** power + offset);

const close = (actual: number, expected: number, tolerance: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} against ${expected}`);

test('D is the largest gap between the empirical distribution functions', () => {
  assert.equal(ksStatistic([1, 2, 3], [1, 2, 3]), 0);
  assert.equal(ksStatistic([1, 2, 3], [4, 5, 6]), 1);
  close(ksStatistic([1, 2, 3, 4], [2.5, 3.5]), 0.5, 1e-12, 'interleaved');
  close(ksStatistic([0, 0, 1], [0, 1, 1]), 1 / 3, 1e-12, 'ties move together');
});

test('exact p-values match a count over every arrangement of a 5 and a 6 sample', () => {
  const n = 5;
  const m = 6;
  const counts = new Map<number, number>();
  let total = 0;
  for (let mask = 0; mask < 1 << (n + m); mask++) {
    let bits = 0;
    for (let k = 0; k < n + m; k++) bits += (mask >> k) & 1;
    if (bits !== n) continue;
    const a: number[] = [];
    const b: number[] = [];
    for (let k = 0; k < n + m; k++) ((mask >> k) & 1 ? a : b).push(k);
    const d = Math.round(ksStatistic(a, b) * n * m);
    counts.set(d, (counts.get(d) ?? 0) + 1);
    total++;
  }
  for (const d of counts.keys()) {
    let atLeast = 0;
    for (const [other, count] of counts) if (other >= d) atLeast += count;
    close(ksExactPValue(d / (n * m), n, m), atLeast / total, 1e-12, `D = ${d}/30`);
  }
});

test('exact p-values match the Gnedenko–Korolyuk formula for equal sizes', () => {
  const logChoose = (a: number, b: number): number => {
    let s = 0;
    for (let i = 1; i <= b; i++) s += Math.log(a - b + i) - Math.log(i);
    return s;
  };
  for (const n of [20, 100]) {
    for (const k of [3, Math.round(n / 5), Math.round(n / 3)]) {
      let p = 0;
      for (let j = 1; n - j * k >= 0; j++) p += (j % 2 === 1 ? 2 : -2) * Math.exp(logChoose(2 * n, n - j * k) - logChoose(2 * n, n));
      close(ksExactPValue(k / n, n, n), p, 1e-9, `n = ${n}, D = ${k}/${n}`);
    }
  }
});

test('exact p-values match SciPy', () => {
  const cases: [number[], number[], number, number][] = [
    [golden(8), silver(10, 1, 0.2), 0.275, 0.8227067050596463],
    [golden(40), silver(60, 0.7), 0.15833333333333333, 0.5494343803086292],
    [golden(300), silver(200, 1.3), 0.105, 0.13505500365124082],
    [golden(300), silver(200, 1.6), 0.18166666666666667, 0.0006480654217105533],
    [golden(2000), silver(3000, 1.08), 0.029333333333333333, 0.2496946587005454],
    [golden(2000), silver(3000, 1.15), 0.052333333333333336, 0.002722607597161708],
  ];
  for (const [a, b, d, p] of cases) {
    const result = ksTest(a, b);
    assert.equal(result.method, 'exact');
    close(result.d, d, 1e-12, `D for ${a.length}×${b.length}`);
    close(result.pValue, p, 1e-9 + p * 1e-6, `p for ${a.length}×${b.length}`);
  }
});

test('the asymptotic tail matches SciPy\'s Kolmogorov distribution and is close to the exact p-value', () => {
  close(kolmogorovTail(0.5), 0.9639452436648751, 1e-12, 'λ = 0.5');
  close(kolmogorovTail(1.0), 0.26999967167735456, 1e-12, 'λ = 1');
  close(kolmogorovTail(1.36), 0.049485876755377876, 1e-12, 'λ = 1.36');
  close(kolmogorovTail(1.628), 0.009975522431181053, 1e-12, 'λ = 1.628');
  close(ksAsymptoticPValue(0.105, 300, 200), 0.13505500365124082, 0.005, 'Stephens-corrected, 300×200');
  close(ksAsymptoticPValue(0.029333333333333333, 2000, 3000), 0.2496946587005454, 0.005, 'Stephens-corrected, 2000×3000');
  close(ksCriticalD(5000, 5000, 0.01), 1.6276 * Math.sqrt(2 / 5000), 2e-4, 'critical D at 1 %');
});

test('samples of one distribution are not told apart; shifted samples are', () => {
  const uniform = mulberry32(7);
  const same = ksTest(Array.from({ length: 3000 }, () => exponential(uniform())), Array.from({ length: 3000 }, () => exponential(uniform())));
  assert.ok(same.pValue > 0.01, `one distribution: p = ${same.pValue}`);
  const shifted = ksTest(Array.from({ length: 3000 }, () => exponential(uniform())), Array.from({ length: 3000 }, () => 1.2 * exponential(uniform())));
  assert.ok(shifted.pValue < 1e-4, `a 20 % longer gap: p = ${shifted.pValue}`);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
});

test('power: 6,000 gaps a period find a 5 % shift at p < 0.01 at least 9 times in 10', () => {
  // A 5 % shift: every gap longer by 5 % of the mean gap (exponential gaps, mean 1).
  const power = ksPower({ n: 6000, m: 6000, alpha: 0.01, trials: 100, uniform: mulberry32(11), shift: (x) => x + 0.05 });
  assert.ok(power >= 0.9, `power ${power}`);
  // The same sizes barely see a 5 % change of rate (D ≈ 0.018): the test does not claim that.
  const rate = ksPower({ n: 6000, m: 6000, alpha: 0.01, trials: 100, uniform: mulberry32(12), shift: (x) => x * 1.05 });
  assert.ok(rate < 0.5, `power against a 5 % rate change ${rate}`);
});
