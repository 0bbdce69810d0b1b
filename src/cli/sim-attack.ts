import { disclosureConfig, runDisclosure, type DisclosureResult } from '../sim/disclosure.js';
import { DEFAULT_LOOP_ALARM } from '../traffic/loop-alarm.js';
import { DEFAULT_N_MINUS_ONE, runNMinusOne, type NMinusOneOptions, type NMinusOneResult } from '../sim/n-minus-one.js';
import { EXIT_OK, UsageError } from './errors.js';
import { integer, parseOptions } from './parse.js';
import { parseSimOptions } from './sim-command.js';

/**
 * `umbra sim attack sda|n-1 [sim options] [attack options]`: one attack on one simulated
 * deployment (the network, workload and adversary options are those of `umbra sim`).
 */
const ATTACK_OPTIONS = {
  sda: { 'target-rate': { type: 'string' }, rounds: { type: 'string' } },
  'n-1': {
    node: { type: 'string' },
    trials: { type: 'string' },
    'attack-s': { type: 'string' },
    'mix-loop-rate': { type: 'string' },
    loss: { type: 'string' },
    alpha: { type: 'string' },
    'window-s': { type: 'string' },
  },
} as const;

/** A number (decimal or with an exponent) in [min, max], or a UsageError. */
function number(name: string, value: string | undefined, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const n = /^\d+(\.\d+)?(e-?\d+)?$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`option '--${name}' must be a number from ${min} to ${max}, not '${value}'`);
  return n;
}

/** Splits `args` into the attack's own options (parsed) and the rest (for parseSimOptions). */
function splitArgs(kind: keyof typeof ATTACK_OPTIONS, args: readonly string[]): { own: Record<string, string | boolean | undefined>; rest: string[] } {
  const names = Object.keys(ATTACK_OPTIONS[kind]);
  const own: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = /^--([\w-]+)(=.*)?$/.exec(args[i]);
    if (name !== null && names.includes(name[1])) {
      own.push(args[i]);
      if (name[2] === undefined && i + 1 < args.length) own.push(args[++i]);
    } else {
      rest.push(args[i]);
    }
  }
  return { own: parseOptions(`sim attack ${kind}`, own, ATTACK_OPTIONS[kind]) as Record<string, string | boolean | undefined>, rest };
}

const count = (n: number): string => (Number.isFinite(n) ? String(n) : 'not found');
const pct = (x: number): string => `${(100 * x).toFixed(0)}%`;

export function formatDisclosure(r: DisclosureResult): string {
  return [
    `target user ${r.target}: ${r.rounds} of its mails observed, ${r.contacts.length} contacts written to`,
    `rounds to a first contact   ${count(r.roundsToFirstContact)}`,
    `rounds to half its contacts ${count(r.roundsToHalfContacts)}`,
    `rounds to all its contacts  ${count(r.roundsToAllContacts)}${Number.isFinite(r.secondsToAllContacts) ? ` (${r.secondsToAllContacts.toFixed(0)} simulated seconds)` : ''}`,
  ].join('\n');
}

export function formatNMinusOne(r: NMinusOneResult): string {
  return [
    `n-1 at ${r.node}: ${r.trials.length} trials`,
    `success without detection   ${pct(r.success)} (a target packet left the node alone)`,
    `detected by loops           ${pct(r.detected)} (alarms: ${r.alarmsByClients} by clients, ${r.alarmsByMixes} by mixes)`,
    `success undetected          ${pct(r.undetectedSuccess)}`,
    `false alarms                ${r.falseAlarmsPerHour.toFixed(1)} per hour (control period)`,
  ].join('\n');
}

function nMinusOneOptions(own: Record<string, string | boolean | undefined>): NMinusOneOptions {
  const s = (name: string): string | undefined => own[name] as string | undefined;
  const d = DEFAULT_N_MINUS_ONE;
  const alarm = DEFAULT_LOOP_ALARM;
  return {
    node: s('node') ?? d.node,
    trials: integer('trials', s('trials'), 1, 1000, d.trials),
    attackMs: integer('attack-s', s('attack-s'), 1, 86_400, d.attackMs / 1000) * 1000,
    mixLoopRate: number('mix-loop-rate', s('mix-loop-rate'), 0, 1000, d.mixLoopRate),
    alarm: {
      ...alarm,
      baselineLoss: number('loss', s('loss'), 1e-9, 0.5, alarm.baselineLoss),
      alpha: number('alpha', s('alpha'), 1e-12, 0.5, alarm.alpha),
      windowMs: integer('window-s', s('window-s'), 1, 86_400, alarm.windowMs / 1000) * 1000,
    },
  };
}

/** `umbra sim attack sda|n-1 ...`. */
export function simAttackCommand(args: readonly string[]): number {
  const kind = args[0];
  if (kind !== 'sda' && kind !== 'n-1') throw new UsageError("umbra sim attack: name the attack, 'sda' or 'n-1'");
  const { own, rest } = splitArgs(kind, args.slice(1));
  const { config, json } = parseSimOptions(rest);
  if (kind === 'sda') {
    const rate = number('target-rate', own['target-rate'] as string | undefined, 0.001, 100, 0.5);
    const rounds = integer('rounds', own.rounds as string | undefined, 1, 1_000_000, 300);
    const { result } = runDisclosure(disclosureConfig(config, rate, rounds));
    process.stdout.write(json ? `${JSON.stringify(result, (_, v: unknown) => (v === Infinity ? null : v))}\n` : `${formatDisclosure(result)}\n`);
    return EXIT_OK;
  }
  if (config.strategy.kind !== 'exponential') throw new UsageError("sim attack n-1: loop detection needs '--strategy exponential' (a batch mix's loops have no due time)");
  const options = nMinusOneOptions(own);
  let result: NMinusOneResult;
  try {
    result = runNMinusOne(config, options).result;
  } catch (error) {
    if (error instanceof RangeError && error.message.startsWith('n-1:')) throw new UsageError(`option '--node' names no gateway or mix '${options.node}' (guard, gateway-I or mix-L-I)`);
    throw error;
  }
  process.stdout.write(json ? `${JSON.stringify(result, (_, v: unknown) => (v === Infinity ? null : v))}\n` : `${formatNMinusOne(result)}\n`);
  return EXIT_OK;
}
