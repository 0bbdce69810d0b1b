import { epochAt } from '../pki/index.js';
import { nextPollAt } from '../traffic/poll-schedule.js';
import type { SimConfig } from './config.js';
import type { ActiveAttacker, PacketView } from './attacker.js';
import { LOOP, simulate, type SimRun } from './engine.js';
import { alarmsOf, DEFAULT_LOOP_ALARM, type Alarm, type LoopAlarmOptions, type LoopRecord } from '../traffic/loop-alarm.js';
import { mixLoops, type AttackWindow } from './mix-loops.js';
import { simRandom } from './random.js';

/**
 * The active n−1 attack (blending attack). In each trial the attacker picks a target user (the
 * workload's focus user if it has one, else a random one) and a
 * node X (the target's gateway, or a named gateway or mix); for `attackMs` it drops every packet
 * arriving at X except the target's (holding them past every loop's deadline has the same effect),
 * so X's pool drains of other packets and then holds only the target's. A target packet is
 * isolated when it leaves X with no other user's packet in X: the attacker then knows it is the
 * target's as it leaves. A trial succeeds when at least one of the target's packets is isolated.
 *
 * Detection (src/traffic/loop-alarm.ts): clients' loops (in the engine, through the same nodes) and the
 * mixes' own loops (src/sim/mix-loops.ts) that reach X during the attack vanish; each party runs
 * the binomial test on its loops. A client learns of its loops at its next mailbox poll, a mix at
 * once. A trial is detected when an alarm is raised on a verdict reached between the attack's
 * start and the last moment a loop sent during it could be due (plus the test's window). Baseline
 * loss p0 is applied to loops, so the test's false alarms are real; alarms outside every trial are
 * reported as false alarms.
 */
export interface NMinusOneOptions {
  /** The attacked node's name, or 'guard': each trial attacks its target's gateway. */
  readonly node: string;
  readonly trials: number;
  readonly attackMs: number;
  /** Loops per second sent by each gateway and mix (0: only clients' loops). */
  readonly mixLoopRate: number;
  readonly alarm: LoopAlarmOptions;
}

export const DEFAULT_N_MINUS_ONE: NMinusOneOptions = Object.freeze({ node: 'guard', trials: 6, attackMs: 20_000, mixLoopRate: 1, alarm: DEFAULT_LOOP_ALARM });

export interface Trial {
  readonly target: number;
  readonly node: number;
  readonly from: number;
  readonly to: number;
}

export interface TrialOutcome extends Trial {
  readonly targetPackets: number;
  readonly isolated: number;
  /** From the attack's start to the first isolated departure (Infinity when none). */
  readonly isolatedAfterMs: number;
  /** From the attack's start to the first alarm attributed to it (Infinity when none). */
  readonly detectedAfterMs: number;
}

export interface NMinusOneResult {
  readonly node: string;
  readonly trials: readonly TrialOutcome[];
  /** Share of trials in which a target packet was isolated (no detection). */
  readonly success: number;
  /** Share of trials an alarm was attributed to. */
  readonly detected: number;
  /** Share of trials that isolated a target packet and raised no alarm. */
  readonly undetectedSuccess: number;
  readonly alarmsByClients: number;
  readonly alarmsByMixes: number;
  /** Alarms in the control period before the first trial, per simulated hour (of the whole network). */
  readonly falseAlarmsPerHour: number;
  /** How long that control period was watched, simulated seconds. */
  readonly controlSeconds: number;
}

/** The slowest a loop can be: the gateway and three mixes each hold it at most maxDelayMs. */
function maxPathMs(config: SimConfig): number {
  return 4 * config.network.mixing.maxDelayMs;
}

/** How long after its start a trial's alarms are attributed to it. */
function attributionMs(config: SimConfig, options: NMinusOneOptions): number {
  return options.attackMs + maxPathMs(config) + options.alarm.slackMs + options.alarm.windowMs;
}

/**
 * The trials' schedule: after the warm-up, a control period with no attack as long as one trial
 * (its alarms are false alarms), then the trials one after another, each with its attribution span.
 */
export function scheduleTrials(config: SimConfig, options: NMinusOneOptions): { trials: Trial[]; durationMs: number; controlMs: number } {
  const random = simRandom(config.seed ^ 0x6e6d31);
  const period = attributionMs(config, options) + 1000;
  const controlMs = period;
  const nodes = config.topology.gateways + 3 * config.topology.mixesPerLayer;
  const trials = Array.from({ length: options.trials }, (_, k) => {
    // The workload's focus user (one who writes often) when there is one, else anyone.
    const target = config.workload.focus?.user ?? Math.floor(random.uniform() * config.users);
    const from = config.warmupMs + controlMs + k * period;
    return { target, node: options.node === 'guard' ? target % config.topology.gateways : nodeIndex(config, options.node, nodes), from, to: from + options.attackMs };
  });
  return { trials, durationMs: config.warmupMs + controlMs + options.trials * period, controlMs };
}

function nodeIndex(config: SimConfig, name: string, nodes: number): number {
  const { gateways, mixesPerLayer } = config.topology;
  const gateway = /^gateway-(\d+)$/.exec(name);
  if (gateway !== null && Number(gateway[1]) >= 1 && Number(gateway[1]) <= gateways) return Number(gateway[1]) - 1;
  const mix = /^mix-([123])-(\d+)$/.exec(name);
  if (mix !== null && Number(mix[2]) >= 1 && Number(mix[2]) <= mixesPerLayer) return gateways + (Number(mix[1]) - 1) * mixesPerLayer + Number(mix[2]) - 1;
  throw new RangeError(`n-1: no gateway or mix named '${name}' among ${nodes}`);
}

/** The attacker on the links into the nodes, and the bookkeeping that scores it (packets by firstTx). */
class NMinusOneAttacker implements ActiveAttacker {
  /** Per gateway and mix: the packets it holds, and whose they are. */
  private readonly inside: Map<number, number>[];
  private readonly loops = new Map<number, { client: number; dueAt: number; returnedAt: number }>();
  private readonly random: () => number;
  readonly outcomes: { targetPackets: number; isolated: number; firstIsolatedAt: number }[];
  /** Target packets that entered an attacked node during their trial, by trial. */
  private readonly tracked = new Map<number, number>();

  constructor(private readonly config: SimConfig, private readonly trials: readonly Trial[], private readonly baselineLoss: number) {
    this.inside = Array.from({ length: config.topology.gateways + 3 * config.topology.mixesPerLayer }, () => new Map());
    this.random = simRandom(config.seed ^ 0x61747461).uniform;
    this.outcomes = trials.map(() => ({ targetPackets: 0, isolated: 0, firstIsolatedAt: Infinity }));
  }

  private activeTrial(node: number, now: number): number {
    return this.trials.findIndex((t) => t.node === node && now >= t.from && now <= t.to);
  }

  admit(node: number, packet: PacketView, now: number): boolean {
    const id = packet.firstTx;
    if (packet.hop > 0) this.left(packet.hops[packet.hop - 1], id, now);
    if (packet.hop === 0 && packet.kind === LOOP) {
      const max = this.config.network.mixing.maxDelayMs;
      const dueAt = now + packet.delays.slice(0, 4).reduce((s, d) => s + Math.min(max, Math.max(0, d)), 0);
      this.loops.set(id, { client: packet.client, dueAt, returnedAt: Infinity });
    }
    if (packet.hop === 4) {
      const loop = packet.kind === LOOP ? this.loops.get(id) : undefined;
      if (loop === undefined) return true;
      if (this.random() < this.baselineLoss) return false;
      loop.returnedAt = now;
      return true;
    }
    const trial = this.activeTrial(node, now);
    if (trial >= 0) {
      if (packet.client !== this.trials[trial].target) return false;
      this.outcomes[trial].targetPackets++;
      this.tracked.set(id, trial);
    }
    this.inside[node].set(id, packet.client);
    return true;
  }

  private left(node: number, id: number, now: number): void {
    this.inside[node].delete(id);
    const trial = this.tracked.get(id);
    if (trial === undefined) return;
    this.tracked.delete(id);
    const target = this.trials[trial].target;
    for (const client of this.inside[node].values()) if (client !== target) return;
    const outcome = this.outcomes[trial];
    outcome.isolated++;
    outcome.firstIsolatedAt = Math.min(outcome.firstIsolatedAt, now);
  }

  clientLoops(): Map<number, LoopRecord[]> {
    const byClient = new Map<number, LoopRecord[]>();
    for (const loop of this.loops.values()) {
      const list = byClient.get(loop.client);
      if (list === undefined) byClient.set(loop.client, [loop]);
      else list.push(loop);
    }
    return byClient;
  }
}

/** Every party's alarms: clients (learnt at their next poll) and gateways/mixes (at once). */
function allAlarms(run: SimRun, attacker: NMinusOneAttacker, windows: readonly AttackWindow[], options: NMinusOneOptions): { clients: Alarm[]; mixes: Alarm[] } {
  const config = run.config;
  const timing = { genesisMs: 0, epochMs: config.epochMs };
  const atPoll = (t: number): number => nextPollAt(t, epochAt(t, timing), timing, config.pollsPerEpoch);
  const clients = [...attacker.clientLoops().values()].flatMap((loops) => alarmsOf(loops, options.alarm, atPoll));
  const mixLoopRecords = mixLoops(run.topology.nodes, windows, {
    ratePerSecond: options.mixLoopRate,
    meanDelayMs: config.network.mixing.meanDelayMs,
    maxDelayMs: config.network.mixing.maxDelayMs,
    fromMs: 0,
    toMs: config.durationMs - maxPathMs(config),
    baselineLoss: options.alarm.baselineLoss,
    seed: config.seed,
  });
  const mixes = [...mixLoopRecords.values()].flatMap((loops) => alarmsOf(loops, options.alarm));
  return { clients, mixes };
}

/** Simulates `config` under the n−1 attacker and scores every trial. */
export function runNMinusOne(base: SimConfig, options: NMinusOneOptions): { run: SimRun; result: NMinusOneResult } {
  // A batch mix ignores the delays, so a loop's sender could not know when it is due.
  if (base.strategy.kind !== 'exponential') throw new RangeError('n-1: loop detection needs exponential mixing');
  const { trials, durationMs, controlMs } = scheduleTrials(base, options);
  const config: SimConfig = { ...base, durationMs };
  const attacker = new NMinusOneAttacker(config, trials, options.alarm.baselineLoss);
  const run = simulate(config, attacker);
  const { clients, mixes } = allAlarms(run, attacker, trials, options);
  const span = attributionMs(config, options);
  const trialOf = (alarm: Alarm): number => trials.findIndex((t) => alarm.verdictAt >= t.from && alarm.verdictAt <= t.from + span);
  const outcomes: TrialOutcome[] = trials.map((trial, k) => {
    const own = [...clients, ...mixes].filter((a) => trialOf(a) === k);
    const detectedAt = own.reduce((m, a) => Math.min(m, a.at), Infinity);
    const o = attacker.outcomes[k];
    return { ...trial, targetPackets: o.targetPackets, isolated: o.isolated, isolatedAfterMs: o.firstIsolatedAt - trial.from, detectedAfterMs: detectedAt - trial.from };
  });
  // Alarms in the control period: nobody attacks then (the span of a warm-up's loops excluded).
  const controlFrom = config.warmupMs + options.alarm.windowMs;
  const falseAlarms = [...clients, ...mixes].filter((a) => a.verdictAt >= controlFrom && a.verdictAt < config.warmupMs + controlMs).length;
  const share = (test: (o: TrialOutcome) => boolean): number => (outcomes.length === 0 ? NaN : outcomes.filter(test).length / outcomes.length);
  const quiet = Math.max(1, config.warmupMs + controlMs - controlFrom);
  return {
    run,
    result: {
      node: options.node,
      trials: outcomes,
      success: share((o) => o.isolated > 0),
      detected: share((o) => Number.isFinite(o.detectedAfterMs)),
      undetectedSuccess: share((o) => o.isolated > 0 && !Number.isFinite(o.detectedAfterMs)),
      alarmsByClients: clients.length,
      alarmsByMixes: mixes.length,
      falseAlarmsPerHour: (falseAlarms / quiet) * 3_600_000,
      controlSeconds: quiet / 1000,
    },
  };
}
