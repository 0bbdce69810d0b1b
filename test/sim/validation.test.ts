import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { simulate } from '../../src/sim/engine.js';
import { analyse } from '../../src/sim/measure.js';
import { singleMixConfig, type SingleMixOptions } from '../../src/sim/single-mix.js';

/**
 * The simulator against known results, one honest mix at a time (the rest of the path corrupt):
 * within 0.1 bit of each closed form. Seeded, so every run is the same. Each figure is printed as a
 * diagnostic (docs/privacy.md, "Validation", quotes them).
 */
function senderEntropy(options: SingleMixOptions, t?: TestContext, label?: string): number {
  const h = analyse(simulate(singleMixConfig(options)), 1).sender.entropy.mean;
  if (t !== undefined) t.diagnostic(`${label}: ${h.toFixed(3)} bits`);
  return h;
}

describe('simulator validation', () => {
  it('a threshold mix with batch N gives log2 N', (t) => {
    for (const batch of [4, 16]) {
      const h = senderEntropy({ strategy: { kind: 'threshold', batch }, packetsPerSecond: 200, durationMs: 20_000, warmupMs: 2_000 }, t, `threshold mix, N = ${batch}`);
      assert.ok(Math.abs(h - Math.log2(batch)) < 0.1, `batch ${batch}: ${h} bits, expected ${Math.log2(batch)}`);
    }
  });

  it('a pool mix with N = 100, f = 10 gives 7.127 bits', (t) => {
    const h = senderEntropy({ strategy: { kind: 'pool', batch: 100, pool: 10 }, packetsPerSecond: 500, durationMs: 12_000, warmupMs: 3_000 }, t, 'pool mix, N = 100, f = 10');
    assert.ok(Math.abs(h - 7.127) < 0.1, `${h} bits`);
  });

  it('a continuous Poisson mix gives log2(e·λ/μ) when λ/μ is large', (t) => {
    const lambda = 200; // packets per second into the mix
    const meanDelayMs = 500; // 1/μ
    const h = senderEntropy({ strategy: { kind: 'exponential' }, packetsPerSecond: lambda, meanDelayMs, durationMs: 16_000, warmupMs: 6_000 }, t, 'Poisson mix, λ = 200/s, 1/μ = 500 ms');
    const expected = Math.log2(Math.E * lambda * (meanDelayMs / 1000));
    assert.ok(Math.abs(h - expected) < 0.1, `${h} bits, expected ${expected}`);
  });

  it('a single honest mix with one user at a time gives 0 bits', (t) => {
    const h = senderEntropy({ strategy: { kind: 'exponential' }, packetsPerSecond: 0.5, meanDelayMs: 5, users: 100, durationMs: 600_000, warmupMs: 10_000 }, t, 'one user at a time');
    assert.ok(h < 0.1, `${h} bits`);
  });

  it('planted bug: a batch mix that keeps its order leaks it (low entropy), the shuffling one does not', (t) => {
    const shape = { packetsPerSecond: 200, durationMs: 10_000, warmupMs: 2_000 } as const;
    const leaky = senderEntropy({ ...shape, strategy: { kind: 'threshold', batch: 16, keepsOrder: true } }, t, 'planted bug, a mix that keeps its order');
    const sound = senderEntropy({ ...shape, strategy: { kind: 'threshold', batch: 16 } }, t, 'the same mix shuffling');
    assert.ok(leaky < 0.5, `leaky mix: ${leaky} bits`);
    assert.ok(sound > 3.9, `shuffling mix: ${sound} bits`);
  });
});
