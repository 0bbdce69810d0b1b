import { readFileSync } from 'node:fs';
import { DEFAULT_SIM_CONFIG, parametersFromJson, SimConfigError, simConfigProblems, type SimConfig } from '../sim/config.js';
import { runSimulation, type SimSummary } from '../sim/measure.js';
import { parseStrategy, PRESETS } from '../sim/presets.js';
import { writePrivacyReport } from '../sim/report.js';
import { EXIT_OK, UsageError } from './errors.js';
import { choice, integer, parseOptions } from './parse.js';

/** A decimal number ≥ 0 (digits with an optional fraction), or a UsageError. */
function decimal(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+(\.\d+)?$/.test(value)) throw new UsageError(`option '--${name}' must be a number ≥ 0, not '${value}'`);
  return Number(value);
}

function readParameters(path: string): ReturnType<typeof parametersFromJson> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new UsageError(`cannot read the parameter file '${path}'`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new UsageError(`the parameter file '${path}' is not JSON`);
  }
  try {
    return parametersFromJson(json);
  } catch (error) {
    if (error instanceof SimConfigError) throw new UsageError(error.message);
    throw error;
  }
}

export function parseSimOptions(args: readonly string[]): { config: SimConfig; json: boolean } {
  const v = parseOptions('sim', args, {
    params: { type: 'string' },
    preset: { type: 'string' },
    users: { type: 'string' },
    'mails-per-day': { type: 'string' },
    contacts: { type: 'string' },
    zipf: { type: 'string' },
    'duration-s': { type: 'string' },
    'warmup-s': { type: 'string' },
    'log-window-s': { type: 'string' },
    strategy: { type: 'string' },
    routing: { type: 'string' },
    'no-cover': { type: 'boolean' },
    gateways: { type: 'string' },
    'mixes-per-layer': { type: 'string' },
    providers: { type: 'string' },
    corrupt: { type: 'string' },
    measure: { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (v.params !== undefined && v.preset !== undefined) throw new UsageError("give '--params' or '--preset', not both");
  const preset = PRESETS[choice('preset', v.preset, Object.keys(PRESETS), 'umbra')];
  const file = v.params === undefined ? undefined : readParameters(v.params);
  const strategy = v.strategy === undefined ? preset.strategy : parseStrategy(v.strategy);
  if (strategy === undefined) throw new UsageError(`option '--strategy' must be exponential, threshold:N, pool:N:F or timed-pool:N:F:MS, not '${v.strategy}'`);
  const d = DEFAULT_SIM_CONFIG;
  const durationS = integer('duration-s', v['duration-s'], 1, 10_000_000, d.durationMs / 1000);
  const warmupS = integer('warmup-s', v['warmup-s'], 0, durationS - 1, Math.min(d.warmupMs / 1000, Math.floor(durationS / 4)));
  const logWindowS = integer('log-window-s', v['log-window-s'], 1, 10_000_000);
  const corrupt = v.corrupt === undefined ? [] : v.corrupt.split(',').filter((name) => name !== '');
  const config: SimConfig = {
    ...d,
    network: file?.network ?? preset.network,
    epochMs: file?.epochMs ?? d.epochMs,
    topology: {
      gateways: integer('gateways', v.gateways, 1, 1000, d.topology.gateways),
      mixesPerLayer: integer('mixes-per-layer', v['mixes-per-layer'], 1, 1000, d.topology.mixesPerLayer),
      providers: integer('providers', v.providers, 1, 1000, d.topology.providers),
    },
    routing: choice('routing', v.routing, ['stratified', 'cascade'] as const, 'stratified'),
    strategy,
    clientCover: v['no-cover'] !== true,
    users: integer('users', v.users, 1, 10_000_000, d.users),
    workload: {
      mailsPerUserPerDay: decimal('mails-per-day', v['mails-per-day'], d.workload.mailsPerUserPerDay),
      contacts: integer('contacts', v.contacts, 1, 10_000, d.workload.contacts),
      zipfExponent: decimal('zipf', v.zipf, d.workload.zipfExponent),
    },
    durationMs: durationS * 1000,
    warmupMs: warmupS * 1000,
    ...(logWindowS === undefined ? {} : { logWindowMs: logWindowS * 1000 }),
    adversary: { corrupt },
    maxMeasured: integer('measure', v.measure, 1, 1_000_000, d.maxMeasured),
    seed: integer('seed', v.seed, 0, 2 ** 31, d.seed),
  };
  const problems = simConfigProblems(config);
  if (problems.length > 0) throw new UsageError(problems[0]);
  return { config, json: v.json === true };
}

function validateCorrupt(summaryNames: readonly string[], config: SimConfig): void {
  const unknown = config.adversary.corrupt.filter((name) => !summaryNames.includes(name));
  if (unknown.length > 0) throw new UsageError(`option '--corrupt' names no node '${unknown[0]}' (nodes are gateway-I, mix-L-I, provider-I)`);
}

const bits = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '-');
const secs = (ms: number): string => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : '-');

export function formatSummary(s: SimSummary): string {
  return [
    `users ${s.users}, ${s.simulatedSeconds} simulated seconds, ${s.measured} messages measured`,
    `sender anonymity     entropy ${bits(s.sender.entropy.mean)} bits (10th pct ${bits(s.sender.entropy.p10)}), min-entropy ${bits(s.sender.minEntropy.mean)} bits`,
    `receiver anonymity   entropy ${bits(s.receiver.entropy.mean)} bits, min-entropy ${bits(s.receiver.minEntropy.mean)} bits`,
    `timing attack        names the sender of ${(100 * s.timingAttackSuccess).toFixed(1)}% of messages`,
    `latency              network median ${secs(s.latencyMs.network.median)} (p99 ${secs(s.latencyMs.network.p99)}), end to end median ${secs(s.latencyMs.endToEnd.median)}`,
    `overhead             ${s.overhead.toFixed(1)} cover packets per real packet`,
    `linked nodes         ${s.linkedNodes.length === 0 ? 'none' : s.linkedNodes.join(', ')}`,
    `speed                ${s.userHoursPerSecond.toFixed(1)} simulated user-hours per second (${s.wallSeconds.toFixed(1)} s)`,
  ].join('\n');
}

/** `umbra sim [options]` and `umbra sim report [--out FILE]`. */
export function simCommand(args: readonly string[]): number {
  if (args[0] === 'report') {
    const v = parseOptions('sim report', args.slice(1), { out: { type: 'string' }, quick: { type: 'boolean' } });
    const out = v.out ?? 'docs/privacy.md';
    writePrivacyReport(out, { quick: v.quick === true, clock: () => performance.now(), log: (line) => process.stderr.write(`${line}\n`) });
    process.stdout.write(`wrote ${out}\n`);
    return EXIT_OK;
  }
  const { config, json } = parseSimOptions(args);
  const names = [
    ...Array.from({ length: config.topology.gateways }, (_, i) => `gateway-${i + 1}`),
    ...[1, 2, 3].flatMap((l) => Array.from({ length: config.topology.mixesPerLayer }, (_, i) => `mix-${l}-${i + 1}`)),
    ...Array.from({ length: config.topology.providers }, (_, i) => `provider-${i + 1}`),
  ];
  validateCorrupt(names, config);
  const { summary } = runSimulation(config, () => performance.now());
  process.stdout.write(json ? `${JSON.stringify(summary)}\n` : `${formatSummary(summary)}\n`);
  return EXIT_OK;
}
