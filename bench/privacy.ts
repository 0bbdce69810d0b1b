import { DEFAULT_SIM_CONFIG, type SimConfig } from '../src/sim/config.js';
import { disclosureConfig, runDisclosure } from '../src/sim/disclosure.js';
import { logWindow, simulate } from '../src/sim/engine.js';
import { analyse } from '../src/sim/measure.js';
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

/** CPU seconds (user + system, every thread of this process: the garbage collector's too) since `start`. */
function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

/**
 * `npm run bench -- privacy`: Umbra's default parameters for 10^4 users, measured by the
 * simulator: sender entropy and min-entropy, the timing-correlation attack's success, median
 * latency, and the simulator's own speed; then the attacks above.
 *
 * The run is what `umbra sim --log-window-s` does: a 10 s warm-up, then a 16 s log window (from 8 s
 * before the warm-up's end to 16 s after it; the measured mail is that sent in the window's first
 * half), and the rest of the run (to 300 s: one poll period, 20-minute epochs polled 4 times, so the
 * median end-to-end latency is over a whole period of the recipients' polls) keeps no log, its
 * packets skipping the agenda. The log, and the analysis's cost, depend on the window, not on the
 * run's length. Speed: simulated user-hours over the simulation and its analysis, per wall second
 * and per CPU second of this process (the CPU figure holds on a loaded machine; the wall figure
 * does not). There is no floor to measure it against, so no ratio is printed.
 */
export function benchPrivacy(): Record<string, unknown> {
  const config: SimConfig = { ...DEFAULT_SIM_CONFIG, users: 10_000, durationMs: 300_000, warmupMs: 10_000, logWindowMs: 16_000, maxMeasured: 200, seed: 1 };
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const run = simulate(config);
  const simulateCpuSeconds = cpuSecondsSince(cpu0);
  const cpu1 = process.cpuUsage();
  const summary = analyse(run, 0);
  const analyseCpuSeconds = cpuSecondsSince(cpu1);
  const wallSeconds = (performance.now() - wall0) / 1000;
  const cpuSeconds = simulateCpuSeconds + analyseCpuSeconds;
  const userHours = (summary.users * summary.simulatedSeconds) / 3600;
  const window = logWindow(config);
  const result = {
    bench: 'privacy',
    users: summary.users,
    simulatedSeconds: summary.simulatedSeconds,
    warmupSeconds: config.warmupMs / 1000,
    logWindowSeconds: (config.logWindowMs ?? 0) / 1000,
    logSeconds: [window.from / 1000, window.until / 1000],
    measuredSentSeconds: [config.warmupMs / 1000, window.measureUntil / 1000],
    logEvents: run.log.size,
    measuredMessages: summary.measured,
    senderEntropyBits: summary.sender.entropy.mean,
    senderMinEntropyBits: summary.sender.minEntropy.mean,
    receiverEntropyBits: summary.receiver.entropy.mean,
    timingAttackSuccess: summary.timingAttackSuccess,
    medianNetworkLatencyMs: summary.latencyMs.network.median,
    medianEndToEndLatencyMs: summary.latencyMs.endToEnd.median,
    coverPerReal: summary.overhead,
    simulatedUserHours: userHours,
    wallSeconds,
    cpuSeconds,
    simulateCpuSeconds,
    analyseCpuSeconds,
    simulatedUserHoursPerSecond: userHours / Math.max(wallSeconds, 1e-6),
    simulatedUserHoursPerCpuSecond: userHours / Math.max(cpuSeconds, 1e-6),
    ...attacks(),
  };
  const speed = `${result.simulatedUserHoursPerSecond.toFixed(1)} user-hours per wall second, ${result.simulatedUserHoursPerCpuSecond.toFixed(1)} per CPU second`;
  console.log(`privacy: ${result.senderEntropyBits.toFixed(2)} bits sender entropy at ${result.users} users (${result.measuredMessages} messages, ${result.logWindowSeconds} s log window); ${speed}`);
  return result;
}
