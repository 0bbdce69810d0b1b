import { DEFAULT_SIM_CONFIG, type SimConfig } from '../src/sim/config.js';
import { simulate } from '../src/sim/engine.js';
import { EventQueue } from '../src/sim/event-queue.js';
import { analyse } from '../src/sim/measure.js';
import { simRandom } from '../src/sim/random.js';
import { round } from './timing.js';

/**
 * `npm run bench -- sim [users] [simulated seconds]`: the simulator's speed at scale (default 10^5
 * users for 30 simulated seconds at Umbra's defaults, Sphinx as the identity transform, a 6 s log
 * window). Figures: wall and CPU seconds, simulated user-hours per wall second, agenda events per
 * second; the floor, measured in the same run, is the agenda alone (the shared binary heap) doing
 * as many pop-and-push steps at the same number of live entries, with nothing simulated:
 * engine_over_floor is the engine's CPU time per event over the floor's (CPU time, not wall time,
 * so that other processes on a shared machine cancel out). The anonymity measured on
 * the window is printed too, so a fast run that measures nothing shows.
 */
/** CPU time (user + system) of this process, ns. */
function cpuNs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) * 1000;
}

function floorNsPerEvent(live: number, events: number): number {
  const random = simRandom(99);
  const queue = new EventQueue(0);
  for (let i = 0; i < live; i++) queue.push(i, random.uniform() * 1000);
  const start = cpuNs();
  for (let i = 0; i < events; i++) {
    const id = queue.pop();
    queue.push(id, queue.at - 500 * Math.log(1 - random.uniform()));
  }
  return (cpuNs() - start) / events;
}

export function benchSim(): Record<string, unknown> {
  const users = Number(process.argv[3] ?? 100_000);
  const seconds = Number(process.argv[4] ?? 30);
  if (!(users >= 1) || !(seconds >= 4)) throw new Error('usage: npm run bench -- sim [users ≥ 1] [simulated seconds ≥ 4]');
  const config: SimConfig = {
    ...DEFAULT_SIM_CONFIG,
    users,
    durationMs: seconds * 1000,
    warmupMs: 2_000,
    logWindowMs: 6_000,
    maxMeasured: 10,
    seed: 1,
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const c0 = cpuNs();
  const run = simulate(config);
  const simulateCpuNs = cpuNs() - c0;
  const simulateS = (performance.now() - t0) / 1000;
  const summary = analyse(run, simulateS);
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const { clientSendRate, loopRate, dropRate } = config.network.traffic;
  const inFlight = users * (clientSendRate + loopRate + dropRate) * (4 * config.network.mixing.meanDelayMs) / 1000;
  const floorEvents = Math.min(run.agendaEvents, 3_000_000);
  const floorNs = floorNsPerEvent(Math.round(users + inFlight), floorEvents);
  const engineNs = simulateCpuNs / run.agendaEvents;
  const userHours = (users * seconds) / 3600;
  const result = {
    bench: 'sim',
    users,
    simulated_hours: round(seconds / 3600, 4),
    simulated_user_hours: round(userHours, 1),
    packets: run.sent.real + run.sent.loop + run.sent.drop,
    agenda_events: run.agendaEvents,
    log_events: run.log.size,
    simulate_wall_s: round(simulateS, 2),
    simulate_cpu_s: round(simulateCpuNs / 1e9, 2),
    total_wall_s: round(wallS, 2),
    total_cpu_s: round(cpuS, 2),
    user_hours_per_wall_s: round(userHours / wallS, 1),
    user_hours_per_cpu_s: round(userHours / cpuS, 1),
    events_per_cpu_s: Math.round(run.agendaEvents / (simulateCpuNs / 1e9)),
    floor_events_per_cpu_s: Math.round(1e9 / floorNs),
    engine_over_floor: round(engineNs / floorNs, 2),
    measured_messages: summary.measured,
    sender_entropy_bits: round(summary.sender.entropy.mean, 2),
    sender_min_entropy_bits: round(summary.sender.minEntropy.mean, 2),
  };
  console.log(`sim: ${users} users × ${seconds} s in ${result.total_wall_s} s wall (${result.total_cpu_s} s CPU): ${result.user_hours_per_wall_s} user-hours/s; engine ${result.engine_over_floor}× the agenda floor`);
  return result;
}
