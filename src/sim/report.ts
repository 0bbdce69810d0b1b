import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REGENERATE, withAttackReport } from './attack-report.js';
import { DEFAULT_SIM_CONFIG, type SimConfig } from './config.js';
import { runSimulation, type SimSummary } from './measure.js';
import { PRESETS } from './presets.js';
import { lineChart } from './svg.js';

/**
 * `umbra sim report`: runs the comparisons of docs/privacy.md and rewrites the part of that page
 * between the GENERATED markers (tables), the attack tables between theirs, and the SVG figures. The prose around the
 * markers is kept. `quick` runs tiny networks (for tests).
 */
export interface ReportOptions {
  readonly quick: boolean;
  readonly clock: () => number;
  readonly log: (line: string) => void;
  /** Also the attack tables (src/sim/attack-report.ts); default true. */
  readonly attacks?: boolean;
}

const BEGIN = '<!-- BEGIN GENERATED: umbra sim report -->';
const END = '<!-- END GENERATED -->';

interface Row {
  readonly label: string;
  readonly summary: SimSummary;
  /** The swept value (mean hop delay in ms), for the figures. */
  readonly x?: number;
}

const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '–');
const s1 = (ms: number): string => (Number.isFinite(ms) ? (ms / 1000).toFixed(1) : '–');

function table(rows: readonly Row[]): string {
  const head = '| setting | users | sender H (bits) | sender H∞ | receiver H | timing attack | median latency (s) | p99 latency (s) | cover/real |\n|---|---|---|---|---|---|---|---|---|';
  const lines = rows.map(({ label, summary: s }) =>
    `| ${label} | ${s.users} | ${f2(s.sender.entropy.mean)} | ${f2(s.sender.minEntropy.mean)} | ${f2(s.receiver.entropy.mean)} | ${(100 * s.timingAttackSuccess).toFixed(1)}% | ${s1(s.latencyMs.network.median)} | ${s1(s.latencyMs.network.p99)} | ${s.overhead.toFixed(0)} |`,
  );
  return [head, ...lines].join('\n');
}

class Runner {
  constructor(private readonly options: ReportOptions) {}
  run(label: string, config: SimConfig): Row {
    const { summary } = runSimulation(config, this.options.clock);
    this.options.log(`${label}: ${f2(summary.sender.entropy.mean)} bits, ${summary.wallSeconds.toFixed(1)} s`);
    return { label, summary };
  }
}

function base(quick: boolean, users: number): SimConfig {
  const workload = { ...DEFAULT_SIM_CONFIG.workload, mailsPerUserPerDay: quick ? 20_000 : 500 };
  return { ...DEFAULT_SIM_CONFIG, users, workload, durationMs: quick ? 8_000 : 40_000, warmupMs: quick ? 3_000 : 15_000, maxMeasured: quick ? 20 : 200 };
}

function comparisons(r: Runner, quick: boolean): Row[] {
  const users = quick ? 40 : 300;
  const b = base(quick, users);
  const rows = ['umbra', 'katzenpost', 'loopix', 'testnet'].map((name) => {
    // The test network's 50 packets a second per client: a tenth of the users for a like load, each
    // writing ten times the mail (the same mail in all, so that as many messages are measured).
    const sized = name === 'testnet' ? { users: Math.ceil(users / 10), workload: { ...b.workload, mailsPerUserPerDay: b.workload.mailsPerUserPerDay * 10 } } : {};
    return r.run(`${name}: ${PRESETS[name].description}`, { ...b, ...sized, network: PRESETS[name].network, strategy: PRESETS[name].strategy });
  });
  const seed = PRESETS['seed-timed-pool'];
  const long = quick ? 400_000 : 900_000;
  // Ten mails a minute in all, which batches of 20 a minute per node carry without a backlog.
  const seedUsers = quick ? 20 : 300;
  const seedLoad = { ...b.workload, mailsPerUserPerDay: 14_400 / seedUsers };
  rows.push(r.run(`seed-timed-pool: ${seed.description}, no client cover`, { ...b, users: seedUsers, durationMs: long, warmupMs: long / 3, strategy: seed.strategy, clientCover: false, workload: seedLoad }));
  rows.push(r.run('umbra, cascades (one chain per user group)', { ...b, routing: 'cascade' }));
  rows.push(r.run('umbra without client cover', { ...b, clientCover: false, workload: { ...b.workload, mailsPerUserPerDay: 2000 } }));
  rows.push(r.run('umbra, one corrupt mix per layer', { ...b, adversary: { corrupt: ['mix-1-1', 'mix-2-1', 'mix-3-1'] } }));
  return rows;
}

/**
 * 10^2 to 10^5 users. From 10^4 the run keeps only a log window (the measured messages are those
 * sent in its first half), which changes the figures by under 0.25 bit (test/sim/scale.test.ts)
 * and bounds the memory.
 */
function sweepUsers(r: Runner, quick: boolean): Row[] {
  const counts = quick ? [20, 40] : [100, 300, 1000, 3000, 10_000, 100_000];
  const sized = (users: number): Partial<SimConfig> => {
    if (users >= 10_000) return { durationMs: 24_000, warmupMs: 8_000, logWindowMs: 8_000, maxMeasured: users >= 100_000 ? 30 : 60 };
    return users >= 1000 ? { durationMs: 20_000, warmupMs: 8_000, maxMeasured: 100 } : {};
  };
  return counts.map((users) => r.run(`umbra, ${users} users`, { ...base(quick, users), ...sized(users) }));
}

function sweepDelay(r: Runner, quick: boolean): Row[] {
  const delays = quick ? [100, 500] : [50, 200, 500];
  const users = quick ? 40 : 5000;
  return delays.map((meanDelayMs) => {
    const b = base(quick, users);
    const config: SimConfig = {
      ...b,
      network: { ...b.network, mixing: { meanDelayMs, maxDelayMs: meanDelayMs * 20 } },
      durationMs: quick ? 8_000 : 12_000,
      warmupMs: quick ? 3_000 : 6_000,
      maxMeasured: quick ? 20 : 100,
    };
    return { ...r.run(`${users} users, mean hop delay ${meanDelayMs} ms`, config), x: meanDelayMs };
  });
}

function generated(rows: { comparisons: Row[]; users: Row[]; delay: Row[] }, figures: string): string {
  const ok = rows.delay.filter((row) => row.summary.sender.entropy.mean >= 12).sort((a, b) => a.summary.latencyMs.network.median - b.summary.latencyMs.network.median);
  const best = ok[0] === undefined ? 'No setting of the delay sweep reached 12 bits.' : `Lowest median latency with ≥ 12 bits of sender entropy: **${ok[0].label}** (${f2(ok[0].summary.sender.entropy.mean)} bits, median ${s1(ok[0].summary.latencyMs.network.median)} s).`;
  return [
    BEGIN,
    '',
    '### Comparisons',
    '',
    table(rows.comparisons),
    '',
    REGENERATE,
    '',
    '### Entropy against the number of users',
    '',
    table(rows.users),
    '',
    REGENERATE,
    '',
    `![sender entropy against users](${figures}/entropy-vs-users.svg)`,
    '',
    '### Entropy against the mean hop delay',
    '',
    table(rows.delay),
    '',
    REGENERATE,
    '',
    `![sender entropy against mean delay](${figures}/entropy-vs-delay.svg)`,
    '',
    best,
    '',
    END,
  ].join('\n');
}

export function writePrivacyReport(out: string, options: ReportOptions): void {
  const r = new Runner(options);
  const rows = { comparisons: comparisons(r, options.quick), users: sweepUsers(r, options.quick), delay: sweepDelay(r, options.quick) };
  const figures = 'privacy';
  const dir = join(dirname(out), figures);
  mkdirSync(dir, { recursive: true });
  const point = (x: number, s: SimSummary) => [x, s.sender.entropy.mean] as const;
  writeFileSync(join(dir, 'entropy-vs-users.svg'), lineChart(
    [
      { name: 'sender H', points: rows.users.map((row) => point(row.summary.users, row.summary)) },
      { name: 'sender H∞', points: rows.users.map((row) => [row.summary.users, row.summary.sender.minEntropy.mean] as const) },
      { name: 'log2 users', points: rows.users.map((row) => [row.summary.users, Math.log2(row.summary.users)] as const) },
    ],
    { title: "Sender anonymity, Umbra's defaults", xLabel: 'users', yLabel: 'bits', logX: true },
  ));
  writeFileSync(join(dir, 'entropy-vs-delay.svg'), lineChart(
    [
      { name: 'sender H', points: rows.delay.map((row) => point(row.x ?? NaN, row.summary)) },
      { name: 'sender H∞', points: rows.delay.map((row) => [row.x ?? NaN, row.summary.sender.minEntropy.mean] as const) },
    ],
    { title: 'Sender anonymity against delay', xLabel: 'mean delay per hop (ms)', yLabel: 'bits', logX: true },
  ));
  let page = '';
  try {
    page = readFileSync(out, 'utf8');
  } catch {
    page = '# Privacy measurements\n\n';
  }
  const text = generated(rows, figures);
  const start = page.indexOf(BEGIN);
  const end = page.indexOf(END);
  page = start >= 0 && end > start ? page.slice(0, start) + text + page.slice(end + END.length) : `${page.trimEnd()}\n\n${text}\n`;
  if (options.attacks !== false) page = withAttackReport(page, { quick: options.quick, log: options.log });
  writeFileSync(out, page);
}
