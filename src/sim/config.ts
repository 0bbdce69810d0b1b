import { DEFAULT_NETWORK_PARAMETERS, networkParametersProblems, type NetworkParameters } from '../pki/index.js';
import type { MixStrategy } from './mixers.js';
import type { TopologyShape } from './topology.js';

/**
 * One simulation: the deployment's parameters (as the authority publishes them), its topology,
 * the users and their workload, and the adversary.
 */
export interface Workload {
  readonly mailsPerUserPerDay: number;
  /** Contacts each user writes to; picked by Zipf rank with this exponent (0: uniform). */
  readonly contacts: number;
  readonly zipfExponent: number;
  /** One user who writes this share (0..1) of all mail: the target of a disclosure attack. */
  readonly focus?: { readonly user: number; readonly share: number };
}

export interface Adversary {
  /** Names of nodes that reveal how they map inputs to outputs (and, for a provider, the mailbox). */
  readonly corrupt: readonly string[];
}

export interface SimConfig {
  readonly network: NetworkParameters;
  readonly epochMs: number;
  readonly topology: TopologyShape;
  /** 'stratified': Network.path per packet; 'cascade': each user keeps one fixed chain. */
  readonly routing: 'stratified' | 'cascade';
  /** How every mix holds packets (the gateway forwards at once: it is no Sphinx hop). */
  readonly strategy: MixStrategy;
  /** Loopix cover streams; false: a client sends each real packet the moment it is written. */
  readonly clientCover: boolean;
  readonly users: number;
  readonly workload: Workload;
  readonly durationMs: number;
  /** Messages sent before this are not measured (the pools fill first). */
  readonly warmupMs: number;
  readonly pollsPerEpoch: number;
  readonly adversary: Adversary;
  /** Most messages whose anonymity is measured (evenly sampled); the rest only count for load. */
  readonly maxMeasured: number;
  /**
   * When set, the log keeps only events from warmupMs − logWindowMs/2 to warmupMs + logWindowMs,
   * and the measured messages are those sent in the first half after the warm-up: memory stays
   * bounded however long the run (10^5 users log ~10^6 events per simulated second).
   */
  readonly logWindowMs?: number;
  /** Measure cover packets too (validation runs, where no user writes mail). */
  readonly measureCover: boolean;
  readonly seed: number;
}

export class SimConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimConfigError';
  }
}

export const DEFAULT_SIM_CONFIG: SimConfig = Object.freeze<SimConfig>({
  network: DEFAULT_NETWORK_PARAMETERS,
  epochMs: 20 * 60 * 1000,
  topology: { gateways: 2, mixesPerLayer: 3, providers: 2 },
  routing: 'stratified',
  strategy: { kind: 'exponential' },
  clientCover: true,
  users: 1000,
  workload: { mailsPerUserPerDay: 50, contacts: 8, zipfExponent: 1 },
  durationMs: 120_000,
  warmupMs: 20_000,
  pollsPerEpoch: 4,
  adversary: { corrupt: [] },
  maxMeasured: 300,
  measureCover: false,
  seed: 1,
});

/** Problems with a configuration (empty when there are none). */
export function simConfigProblems(config: SimConfig): string[] {
  const problems = networkParametersProblems(config.network).map((p) => `network: ${p}`);
  const positiveInt = (value: number, what: string, max: number): void => {
    if (!Number.isSafeInteger(value) || value < 1 || value > max) problems.push(`${what} must be a whole number from 1 to ${max}`);
  };
  positiveInt(config.users, 'users', 10_000_000);
  positiveInt(config.topology.gateways, 'gateways', 1000);
  positiveInt(config.topology.mixesPerLayer, 'mixes per layer', 1000);
  positiveInt(config.topology.providers, 'providers', 1000);
  positiveInt(config.epochMs, 'epochMs', 2 ** 40);
  positiveInt(config.pollsPerEpoch, 'polls per epoch', 10_000);
  if (config.logWindowMs !== undefined && !(config.logWindowMs > 0)) problems.push('the log window must be positive');
  if (!(config.durationMs > 0) || !(config.warmupMs >= 0) || config.warmupMs >= config.durationMs) problems.push('duration must be positive and longer than the warm-up');
  const w = config.workload;
  if (!(w.mailsPerUserPerDay >= 0) || !Number.isFinite(w.mailsPerUserPerDay)) problems.push('mails per user per day must be a number ≥ 0');
  if (!Number.isSafeInteger(w.contacts) || w.contacts < 1) problems.push('contacts must be a whole number ≥ 1');
  if (!(w.zipfExponent >= 0) || !Number.isFinite(w.zipfExponent)) problems.push('the Zipf exponent must be a number ≥ 0');
  if (w.focus !== undefined && (!Number.isSafeInteger(w.focus.user) || w.focus.user < 0 || w.focus.user >= config.users || !(w.focus.share >= 0 && w.focus.share <= 1))) {
    problems.push('the focus user must be a user index, its share a number from 0 to 1');
  }
  return problems;
}

/**
 * Network parameters from a parameter file's JSON: either an authority configuration (its
 * `network` and `epochMs`) or a bare `network` object; each missing field takes its default.
 */
export function parametersFromJson(json: unknown): { network: NetworkParameters; epochMs?: number } {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new SimConfigError('the parameter file must hold a JSON object');
  const top = json as Record<string, unknown>;
  const given = (typeof top.network === 'object' && top.network !== null ? top.network : top) as Record<string, unknown>;
  const merged = (name: 'geometry' | 'mixing' | 'traffic' | 'pir' | 'reliability'): never =>
    ({ ...DEFAULT_NETWORK_PARAMETERS[name], ...((given[name] as object | undefined) ?? {}) }) as never;
  const network: NetworkParameters = {
    suite: (given.suite ?? DEFAULT_NETWORK_PARAMETERS.suite) as NetworkParameters['suite'],
    geometry: merged('geometry'),
    mixing: merged('mixing'),
    traffic: merged('traffic'),
    retrieval: (given.retrieval ?? DEFAULT_NETWORK_PARAMETERS.retrieval) as NetworkParameters['retrieval'],
    pir: merged('pir'),
    retentionMs: (given.retentionMs ?? DEFAULT_NETWORK_PARAMETERS.retentionMs) as number,
    reliability: merged('reliability'),
  };
  const problems = networkParametersProblems(network);
  if (problems.length > 0) throw new SimConfigError(`the parameter file: ${problems[0]}`);
  const epochMs = top.epochMs;
  if (epochMs !== undefined && (!Number.isSafeInteger(epochMs) || (epochMs as number) < 1)) throw new SimConfigError('the parameter file: epochMs must be a whole number ≥ 1');
  return { network, ...(epochMs === undefined ? {} : { epochMs: epochMs as number }) };
}
