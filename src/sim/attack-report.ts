import { DEFAULT_SIM_CONFIG, type SimConfig } from './config.js';
import { disclosureConfig, runDisclosure, type DisclosureResult } from './disclosure.js';
import { quantile } from './entropy.js';
import { DEFAULT_N_MINUS_ONE, runNMinusOne, type NMinusOneOptions, type NMinusOneResult } from './n-minus-one.js';
import { PRESETS } from './presets.js';

/**
 * The active and long-term attacks of docs/privacy.md: the statistical disclosure attack's rounds
 * and the n−1 attack's success with and without loop-based detection, per parameter set, as tables
 * between their own GENERATED markers (rewritten by `umbra sim report`). `quick`: tiny networks.
 */
export interface AttackReportOptions {
  readonly quick: boolean;
  readonly log: (line: string) => void;
}

export const ATTACK_BEGIN = '<!-- BEGIN GENERATED: umbra sim attack report -->';
export const ATTACK_END = '<!-- END GENERATED: umbra sim attack report -->';

/** The target's mails per second in the disclosure runs (below its send rate λ = 1/s). */
const TARGET_MAILS_PER_SECOND = 0.5;

const rounds = (n: number): string => (Number.isFinite(n) ? String(n) : 'not found');
const pct = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(0)}%` : '–');
const secs = (ms: number): string => (Number.isFinite(ms) ? (ms / 1000).toFixed(1) : '–');

function base(quick: boolean, users: number): SimConfig {
  return { ...DEFAULT_SIM_CONFIG, users, warmupMs: quick ? 5_000 : 10_000, workload: { ...DEFAULT_SIM_CONFIG.workload, mailsPerUserPerDay: 500 } };
}

function preset(config: SimConfig, name: string): SimConfig {
  return { ...config, network: PRESETS[name].network, strategy: PRESETS[name].strategy };
}

export interface DisclosureRow {
  readonly label: string;
  readonly users: number;
  readonly result: DisclosureResult;
}

/** `config` with everyone but the target writing `perSecond` mails a second in all. */
function background(config: SimConfig, perSecond: number): SimConfig {
  return { ...config, workload: { ...config.workload, mailsPerUserPerDay: (perSecond * 86_400) / config.users } };
}

/**
 * The target writes 0.5 mails a second, everyone else 4.5 in all (the target is a tenth of the
 * mail, as in Danezis's setting of one user among many); without cover the anonymity set is the
 * real traffic, so its volume is swept.
 */
export function disclosureRows(quick: boolean, log: (line: string) => void): DisclosureRow[] {
  const n = quick ? 60 : 1000;
  const users = quick ? 30 : 100;
  const b = (config: SimConfig, perSecond = 4.5): SimConfig => background(config, perSecond);
  const settings: [string, SimConfig][] = [
    ["umbra: Umbra's defaults", b(base(quick, users))],
    ['umbra without client cover, 1 mail/s from the others', b({ ...base(quick, users), clientCover: false }, 1)],
    ['umbra without client cover, 4.5 mails/s from the others', b({ ...base(quick, users), clientCover: false })],
    ['umbra without client cover, 16 mails/s from the others', b({ ...base(quick, users), clientCover: false }, 16)],
    ["katzenpost: Katzenpost's authority defaults", b(preset(base(quick, users), 'katzenpost'))],
    ["loopix: Loopix's evaluation setting", b(preset(base(quick, users), 'loopix'))],
    ['umbra, one corrupt mix per layer', b({ ...base(quick, users), adversary: { corrupt: ['mix-1-1', 'mix-2-1', 'mix-3-1'] } })],
  ];
  return settings.map(([label, config]) => {
    const { result } = runDisclosure(disclosureConfig(config, TARGET_MAILS_PER_SECOND, n));
    log(`disclosure, ${label}: first contact after ${rounds(result.roundsToFirstContact)} rounds, all after ${rounds(result.roundsToAllContacts)}`);
    return { label, users: config.users, result };
  });
}

export interface NMinusOneRow {
  readonly label: string;
  readonly result: NMinusOneResult;
  readonly mixLoopRate: number;
}

/** No client cover, user 0 (every trial's target) writing a mail a second among 4.5 a second from the others. */
function writing(config: SimConfig): SimConfig {
  return disclosureConfig(background({ ...config, clientCover: false }, 4.5), 1, 1);
}

export function nMinusOneRows(quick: boolean, log: (line: string) => void): NMinusOneRow[] {
  const users = quick ? 30 : 100;
  const trials = quick ? 2 : 8;
  const settings: [string, SimConfig, Partial<NMinusOneOptions>][] = [
    ["umbra: Umbra's defaults, at the target's gateway", base(quick, users), { node: 'guard' }],
    ["umbra: Umbra's defaults, at a layer-1 mix", base(quick, users), { node: 'mix-1-1' }],
    ['umbra, at the target’s gateway, a 1 s attack', base(quick, users), { node: 'guard', attackMs: 1000 }],
    ['umbra, at a layer-1 mix, clients’ loops only', base(quick, users), { node: 'mix-1-1', mixLoopRate: 0 }],
    ['umbra without client cover, at a layer-1 mix, mixes’ loops only', writing(base(quick, users)), { node: 'mix-1-1' }],
    ['umbra without client cover or mix loops (no detection)', writing(base(quick, users)), { node: 'mix-1-1', mixLoopRate: 0 }],
    ["katzenpost: Katzenpost's authority defaults, at the target's gateway", preset(base(quick, users), 'katzenpost'), { node: 'guard' }],
    ["loopix: Loopix's evaluation setting, at the target's gateway", preset(base(quick, users), 'loopix'), { node: 'guard' }],
  ];
  return settings.map(([label, config, options]) => {
    const full: NMinusOneOptions = { ...DEFAULT_N_MINUS_ONE, trials, ...options };
    const { result } = runNMinusOne(config, full);
    log(`n-1, ${label}: success ${pct(result.success)}, undetected ${pct(result.undetectedSuccess)}`);
    return { label, result, mixLoopRate: full.mixLoopRate };
  });
}

export function disclosureTable(rows: readonly DisclosureRow[]): string {
  const head = '| setting | users | target mails observed | contacts written to | rounds to a first contact | to half of them | to all |\n|---|---|---|---|---|---|---|';
  const lines = rows.map(({ label, users, result: r }) => `| ${label} | ${users} | ${r.rounds} | ${r.contacts.length} | ${rounds(r.roundsToFirstContact)} | ${rounds(r.roundsToHalfContacts)} | ${rounds(r.roundsToAllContacts)} |`);
  return [head, ...lines].join('\n');
}

export function nMinusOneTable(rows: readonly NMinusOneRow[]): string {
  const head = '| setting | trials | success (no detection) | detected | success undetected | median time to isolate (s) | median time to alarm (s) | false alarms per hour |\n|---|---|---|---|---|---|---|---|';
  const lines = rows.map(({ label, result: r }) => {
    const isolate = quantile(r.trials.map((t) => t.isolatedAfterMs), 0.5);
    const alarm = quantile(r.trials.map((t) => t.detectedAfterMs), 0.5);
    return `| ${label} | ${r.trials.length} | ${pct(r.success)} | ${pct(r.detected)} | ${pct(r.undetectedSuccess)} | ${secs(isolate)} | ${secs(alarm)} | ${r.falseAlarmsPerHour.toFixed(1)} |`;
  });
  return [head, ...lines].join('\n');
}

/** The generated block: both tables. */
export function attackReport(options: AttackReportOptions): string {
  const disclosure = disclosureRows(options.quick, options.log);
  const nMinusOne = nMinusOneRows(options.quick, options.log);
  return [
    ATTACK_BEGIN,
    '',
    '### Statistical disclosure attack',
    '',
    disclosureTable(disclosure),
    '',
    '### n−1 attack and loop-based detection',
    '',
    nMinusOneTable(nMinusOne),
    '',
    ATTACK_END,
  ].join('\n');
}

/** `page` with its attack block replaced (or appended when it has none). */
export function withAttackReport(page: string, options: AttackReportOptions): string {
  const text = attackReport(options);
  const start = page.indexOf(ATTACK_BEGIN);
  const end = page.indexOf(ATTACK_END);
  return start >= 0 && end > start ? page.slice(0, start) + text + page.slice(end + ATTACK_END.length) : `${page.trimEnd()}\n\n${text}\n`;
}
