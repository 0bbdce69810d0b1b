import type { SimConfig } from './config.js';
import { logWindow, REAL, simulate, type Delivered, type SimRun } from './engine.js';
import { bestGuess, mean, minEntropy, quantile, shannonEntropy } from './entropy.js';
import { deliveryWeights, senderWeights } from './posterior.js';

/**
 * One simulation's figures: the anonymity of the measured messages (sender and receiver side,
 * Shannon and min-entropy in bits), the timing-correlation attack (the adversary names the most
 * likely sender of each delivered message: first hop matched to last hop), latency and overhead.
 */
export interface Spread {
  readonly mean: number;
  readonly p10: number;
  readonly median: number;
}

export interface SimSummary {
  readonly users: number;
  readonly simulatedSeconds: number;
  readonly measured: number;
  readonly sender: { readonly entropy: Spread; readonly minEntropy: Spread };
  readonly receiver: { readonly entropy: Spread; readonly minEntropy: Spread };
  /** Share of measured messages whose sender the timing-correlation attack names correctly. */
  readonly timingAttackSuccess: number;
  readonly latencyMs: { readonly endToEnd: Spread & { p99: number }; readonly network: Spread & { p99: number } };
  /** Cover packets (loops and drops) per real packet. */
  readonly overhead: number;
  readonly packets: { readonly real: number; readonly loop: number; readonly drop: number };
  readonly linkedNodes: readonly string[];
  readonly wallSeconds: number;
  /** Simulated user-hours per wall-clock second. */
  readonly userHoursPerSecond: number;
}

function spread(values: readonly number[]): Spread {
  return { mean: mean(values), p10: quantile(values, 0.1), median: quantile(values, 0.5) };
}

/** Up to `max` items spread evenly over `items`. */
function sample<T>(items: readonly T[], max: number): T[] {
  if (items.length <= max) return [...items];
  return Array.from({ length: max }, (_, i) => items[Math.floor((i * items.length) / max)]);
}

/** The nodes whose input→output mapping the adversary knows. */
export function linkedNodes(run: SimRun): boolean[] {
  const corrupt = new Set(run.config.adversary.corrupt);
  return run.topology.nodes.map((node, i) => corrupt.has(node.name) || run.keepsOrder[i]);
}

/** The deliveries the analysis measures: real mail (or every packet, for validation) after the warm-up. */
export function measuredDeliveries(run: SimRun): Delivered[] {
  const { measureCover, warmupMs, maxMeasured } = run.config;
  const { measureUntil } = logWindow(run.config);
  return sample(run.delivered.filter((d) => (measureCover || d.kind === REAL) && d.sentAt >= warmupMs && d.sentAt <= measureUntil), maxMeasured);
}

/** Receiver entropy: a corrupt provider names the mailbox; an honest one hides which of its users. */
function receiverEntropies(run: SimRun, weights: Map<number, number>, byTx: Map<number, Delivered>, linked: boolean[]): [number, number] {
  const users = run.config.users;
  const providers = run.config.topology.providers;
  const perUser = new Map<number, number>();
  const perProvider = new Map<number, number>();
  for (const [tx, w] of weights) {
    const d = byTx.get(tx);
    if (d === undefined) continue;
    if (linked[d.provider]) {
      if (d.recipient >= 0) perUser.set(d.recipient, (perUser.get(d.recipient) ?? 0) + w);
    } else {
      perProvider.set(d.provider, (perProvider.get(d.provider) ?? 0) + w);
    }
  }
  const firstProvider = run.topology.nodes.length - providers;
  let total = 0;
  for (const w of perUser.values()) total += w;
  for (const w of perProvider.values()) total += w;
  if (total === 0) return [0, 0];
  let h = 0;
  let best = 0;
  for (const w of perUser.values()) {
    h -= (w / total) * Math.log2(w / total);
    best = Math.max(best, w / total);
  }
  for (const [provider, w] of perProvider) {
    const p = provider - firstProvider;
    const size = Math.floor(users / providers) + (p < users % providers ? 1 : 0);
    const q = w / total;
    h -= q * Math.log2(q / size);
    best = Math.max(best, q / size);
  }
  return [Math.max(0, h), best > 0 ? -Math.log2(best) : 0];
}

export function analyse(run: SimRun, wallSeconds: number): SimSummary {
  const linked = linkedNodes(run);
  const nodeCount = run.topology.nodes.length;
  const targets = measuredDeliveries(run);
  const senders = senderWeights(run.log, nodeCount, linked, targets.map((d) => d.deliveryTx));
  const receivers = deliveryWeights(run.log, nodeCount, linked, targets.map((d) => d.firstTx));
  const byTx = new Map(run.delivered.map((d) => [d.deliveryTx, d]));
  const senderH = senders.map((w) => shannonEntropy(w.values()));
  const senderMin = senders.map((w) => minEntropy(w.values()));
  const receiverPairs = receivers.map((w) => receiverEntropies(run, w, byTx, linked));
  const hits = senders.filter((w, i) => bestGuess(w) === targets[i].client).length;
  const simulatedSeconds = run.config.durationMs / 1000;
  const { endToEnd, network } = run.latencies;
  const real = run.sent.real;
  return {
    users: run.config.users,
    simulatedSeconds,
    measured: targets.length,
    sender: { entropy: spread(senderH), minEntropy: spread(senderMin) },
    receiver: { entropy: spread(receiverPairs.map((p) => p[0])), minEntropy: spread(receiverPairs.map((p) => p[1])) },
    timingAttackSuccess: targets.length === 0 ? NaN : hits / targets.length,
    latencyMs: {
      endToEnd: { ...spread(endToEnd), p99: quantile(endToEnd, 0.99) },
      network: { ...spread(network), p99: quantile(network, 0.99) },
    },
    overhead: real === 0 ? Infinity : (run.sent.loop + run.sent.drop) / real,
    packets: run.sent,
    linkedNodes: run.topology.nodes.filter((_, i) => linked[i]).map((n) => n.name),
    wallSeconds,
    userHoursPerSecond: (run.config.users * simulatedSeconds) / 3600 / Math.max(wallSeconds, 1e-6),
  };
}

/** Simulates `config` and analyses the run; `clock` gives wall-clock milliseconds (for the speed figure). */
export function runSimulation(config: SimConfig, clock: () => number): { run: SimRun; summary: SimSummary } {
  const start = clock();
  const run = simulate(config);
  const summary = analyse(run, 0);
  const wallSeconds = (clock() - start) / 1000;
  return { run, summary: { ...summary, wallSeconds, userHoursPerSecond: (config.users * summary.simulatedSeconds) / 3600 / Math.max(wallSeconds, 1e-6) } };
}
