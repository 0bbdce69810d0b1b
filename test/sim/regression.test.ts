import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_SIM_CONFIG, type SimConfig } from '../../src/sim/config.js';
import { simulate } from '../../src/sim/engine.js';
import { analyse } from '../../src/sim/measure.js';

/**
 * Two small seeded runs at Umbra's defaults, their key figures pinned to the values the engine gave
 * before its fast path (packets whose whole life lies outside the log window skip the agenda):
 * a change of speed must not change a figure. The windowed run exercises that path (most of its
 * packets live outside the window); the whole-log run never takes it. Latency means are compared
 * to 1e-9 (the fast path records latencies in another order, so a sum may differ in its last bit).
 */
const workload = { ...DEFAULT_SIM_CONFIG.workload, mailsPerUserPerDay: 10_000 };
const WINDOWED: SimConfig = { ...DEFAULT_SIM_CONFIG, users: 400, durationMs: 40_000, warmupMs: 8_000, logWindowMs: 8_000, maxMeasured: 60, seed: 7, workload };
const WHOLE: SimConfig = { ...DEFAULT_SIM_CONFIG, users: 200, durationMs: 20_000, warmupMs: 5_000, maxMeasured: 40, seed: 3, workload: { ...workload, mailsPerUserPerDay: 2000 } };

interface Pinned {
  readonly measured: number;
  readonly senderH: number;
  readonly senderHmin: number;
  readonly receiverH: number;
  readonly timing: number;
  readonly e2eMedian: number;
  readonly netMean: number;
  readonly netP99: number;
  readonly packets: { real: number; loop: number; drop: number };
  readonly linked: readonly string[];
  readonly mails: number;
  readonly logEvents: number;
  readonly latencies: number;
}

function figures(config: SimConfig): Pinned {
  const run = simulate(config);
  const s = analyse(run, 1);
  return {
    measured: s.measured,
    senderH: s.sender.entropy.mean,
    senderHmin: s.sender.minEntropy.mean,
    receiverH: s.receiver.entropy.mean,
    timing: s.timingAttackSuccess,
    e2eMedian: s.latencyMs.endToEnd.median,
    netMean: s.latencyMs.network.mean,
    netP99: s.latencyMs.network.p99,
    packets: { ...s.packets },
    linked: s.linkedNodes,
    mails: run.mailsWritten,
    logEvents: run.log.size,
    latencies: run.latencies.network.length,
  };
}

function assertPinned(actual: Pinned, expected: Pinned): void {
  const { netMean, ...exact } = actual;
  const { netMean: expectedMean, ...expectedExact } = expected;
  assert.deepEqual(exact, expectedExact);
  assert.ok(Math.abs(netMean - expectedMean) < 1e-9 * expectedMean, `network latency mean ${netMean}, pinned ${expectedMean}`);
}

describe('simulator figures stay as pinned', () => {
  it('a windowed run (most packets outside the log window)', () => {
    assertPinned(figures(WINDOWED), {
      measured: 60,
      senderH: 8.47091762381758,
      senderHmin: 7.01264979275915,
      receiverH: 8.64363559210641,
      timing: 0,
      e2eMedian: 131001.66719021382,
      netMean: 1471.2470862470861,
      netP99: 4044.3999999999996,
      packets: { real: 1784, loop: 3124, drop: 17513 },
      linked: ['gateway-1', 'gateway-2'],
      mails: 1838,
      logEvents: 60199,
      latencies: 1716,
    });
  });

  it('a run that keeps its whole log', () => {
    assertPinned(figures(WHOLE), {
      measured: 40,
      senderH: 7.436104573853352,
      senderHmin: 6.2319601149211605,
      receiverH: 7.641629725719248,
      timing: 0,
      e2eMedian: 139762.0755633854,
      netMean: 1260.6712328767123,
      netP99: 3390.600000000001,
      packets: { real: 83, loop: 791, drop: 4755 },
      linked: ['gateway-1', 'gateway-2'],
      mails: 88,
      logEvents: 48917,
      latencies: 73,
    });
  });
});
