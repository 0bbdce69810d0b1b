import { DEFAULT_SIM_CONFIG } from '../src/sim/config.js';
import { runSimulation } from '../src/sim/measure.js';

/**
 * `npm run bench -- privacy`: Umbra's default parameters for 10^4 users, measured by the
 * simulator: sender entropy and min-entropy, the timing-correlation attack's success, median
 * latency, and the simulator's own speed (simulated user-hours per wall-clock second).
 */
export function benchPrivacy(): Record<string, unknown> {
  const config = { ...DEFAULT_SIM_CONFIG, users: 10_000, durationMs: 25_000, warmupMs: 10_000, maxMeasured: 200, seed: 1 };
  const { summary } = runSimulation(config, () => performance.now());
  const result = {
    bench: 'privacy',
    users: summary.users,
    simulatedSeconds: summary.simulatedSeconds,
    measuredMessages: summary.measured,
    senderEntropyBits: summary.sender.entropy.mean,
    senderMinEntropyBits: summary.sender.minEntropy.mean,
    receiverEntropyBits: summary.receiver.entropy.mean,
    timingAttackSuccess: summary.timingAttackSuccess,
    medianNetworkLatencyMs: summary.latencyMs.network.median,
    medianEndToEndLatencyMs: summary.latencyMs.endToEnd.median,
    coverPerReal: summary.overhead,
    wallSeconds: summary.wallSeconds,
    simulatedUserHoursPerSecond: summary.userHoursPerSecond,
  };
  console.log(`privacy: ${result.senderEntropyBits.toFixed(2)} bits sender entropy at ${result.users} users; ${result.simulatedUserHoursPerSecond.toFixed(1)} user-hours/s`);
  return result;
}
