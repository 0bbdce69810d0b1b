import { DEFAULT_SIM_CONFIG, type SimConfig } from '../src/sim/config.js';
import { disclosureConfig, runDisclosure } from '../src/sim/disclosure.js';
import { runSimulation } from '../src/sim/measure.js';
import { DEFAULT_N_MINUS_ONE, runNMinusOne } from '../src/sim/n-minus-one.js';

/**
 * The attacks, on 100 users (docs/privacy.md): the statistical disclosure attack's rounds (null:
 * not found in the rounds observed) with and without client cover, and the n−1 attack at the
 * target's gateway with and without loop-based detection.
 */
function attacks(): Record<string, number | null> {
  const users = 100;
  const base: SimConfig = { ...DEFAULT_SIM_CONFIG, users, warmupMs: 10_000, workload: { ...DEFAULT_SIM_CONFIG.workload, mailsPerUserPerDay: (4.5 * 86_400) / users } };
  const finite = (n: number): number | null => (Number.isFinite(n) ? n : null);
  const cover = runDisclosure(disclosureConfig(base, 0.5, 600)).result;
  const bare = runDisclosure(disclosureConfig({ ...base, clientCover: false }, 0.5, 600)).result;
  const n1 = runNMinusOne(base, { ...DEFAULT_N_MINUS_ONE, node: 'guard', trials: 4 }).result;
  return {
    attackUsers: users,
    sdaRoundsObserved: cover.rounds,
    sdaRoundsToFirstContact: finite(cover.roundsToFirstContact),
    sdaRoundsToHalfContacts: finite(cover.roundsToHalfContacts),
    sdaRoundsToAllContacts: finite(cover.roundsToAllContacts),
    sdaNoCoverRoundsToFirstContact: finite(bare.roundsToFirstContact),
    sdaNoCoverRoundsToHalfContacts: finite(bare.roundsToHalfContacts),
    sdaNoCoverRoundsToAllContacts: finite(bare.roundsToAllContacts),
    nMinusOneTrials: n1.trials.length,
    nMinusOneSuccess: n1.success,
    nMinusOneDetected: n1.detected,
    nMinusOneUndetectedSuccess: n1.undetectedSuccess,
    nMinusOneFalseAlarmsPerHour: n1.falseAlarmsPerHour,
  };
}

/**
 * `npm run bench -- privacy`: Umbra's default parameters for 10^4 users, measured by the
 * simulator: sender entropy and min-entropy, the timing-correlation attack's success, median
 * latency, and the simulator's own speed (simulated user-hours per wall-clock second); then the
 * attacks above.
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
    ...attacks(),
  };
  console.log(`privacy: ${result.senderEntropyBits.toFixed(2)} bits sender entropy at ${result.users} users; ${result.simulatedUserHoursPerSecond.toFixed(1)} user-hours/s`);
  return result;
}
