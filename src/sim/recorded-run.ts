import type { SimConfig } from './config.js';
import { DROP } from './engine.js';
import { bestGuess, mean, quantile, shannonEntropy } from './entropy.js';
import { EventLog } from './event-log.js';
import { linkedNodes } from './measure.js';
import { senderWeights } from './posterior.js';
import type { Delivered, SimRun } from './sim-run.js';
import { buildTopology } from './topology.js';

/**
 * A real network's packet records (the `recordPacketsForTests` hook of the nodes,
 * src/node/runtime/packet-record.ts, one file per node) turned into the simulator's run: the same
 * EventLog of transmissions, so that the same posterior and entropy code measures what a global
 * passive observer of the real links learns. Transmissions are joined by the hash of the bytes on
 * the link (a departure at one node is the arrival with the same hash at the next); a client is a
 * gateway connection. Times are shifted so that the first record is at 0 ms, and an arrival
 * recorded (by another process's clock) before its departure is moved just after it, so that the
 * log is in causal order. The ground truth (which arrival became which departure) rebuilds each
 * delivered packet's path back to its client for the latency and the timing attack's score.
 */
export class RecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordError';
  }
}

interface Rec {
  readonly kind: 'A' | 'D' | 'X';
  at: number;
  readonly node: number;
  readonly hash: string;
  readonly from: string;
  readonly pool: number;
  readonly input: string;
  /** File order, for ties. */
  readonly seq: number;
  tx: number;
  inTx: number;
}

const EPSILON_MS = 0.001;

function parse(text: string, node: number, name: string, seq: { n: number }): Rec[] {
  const records: Rec[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') continue;
    const f = line.split(' ');
    const at = Number(f[1]);
    const ok = (f[0] === 'A' && f.length === 4) || (f[0] === 'D' && f.length === 5) || (f[0] === 'X' && f.length === 3);
    if (!ok || !Number.isFinite(at) || (f[0] === 'D' && !(Number(f[3]) >= 1))) throw new RecordError(`${name}, line ${i + 1}: not a packet record`);
    records.push({
      kind: f[0] as Rec['kind'],
      at,
      node,
      hash: f[2],
      from: f[0] === 'A' ? f[3] : '',
      pool: f[0] === 'D' ? Number(f[3]) : 0,
      input: f[0] === 'D' ? f[4] : '',
      seq: seq.n++,
      tx: -1,
      inTx: -1,
    });
  }
  return records;
}

const byTime = (a: Rec, b: Rec): number => a.at - b.at || a.seq - b.seq;

/** Assigns transmissions: one per gateway client arrival, one per departure (keyed by its hash). */
function join(records: Rec[], log: EventLog): { clientOfConnection: Map<string, number>; inputOf: Map<number, number>; sentAt: Map<number, number> } {
  const clientOfConnection = new Map<string, number>();
  const departed = new Map<string, number>();
  const arrivedAt = new Map<string, number>();
  const inputOf = new Map<number, number>();
  const sentAt = new Map<number, number>();
  for (const r of records) {
    if (r.kind !== 'D') continue;
    r.tx = log.transmission(-1);
    departed.set(r.hash, r.tx);
  }
  for (const r of records) {
    if (r.kind === 'D') continue;
    if (r.kind === 'A' && r.from.startsWith('c')) {
      const key = `${r.node}:${r.from}`;
      if (!clientOfConnection.has(key)) clientOfConnection.set(key, clientOfConnection.size);
      r.tx = log.transmission(clientOfConnection.get(key) as number);
      sentAt.set(r.tx, r.at);
    } else {
      r.tx = departed.get(r.hash) ?? -1;
    }
    if (r.kind === 'A' && r.tx >= 0) arrivedAt.set(`${r.node}:${r.hash}`, r.tx);
  }
  for (const r of records) {
    if (r.kind !== 'D') continue;
    r.inTx = arrivedAt.get(`${r.node}:${r.input}`) ?? -1;
    if (r.inTx >= 0) inputOf.set(r.tx, r.inTx);
  }
  return { clientOfConnection, inputOf, sentAt };
}

/** Moves each arrival after its departure and each departure after its input's arrival, then sorts. */
function causalOrder(records: Rec[]): Rec[] {
  const departureOf = new Map<number, Rec>();
  const arrivalOf = new Map<string, Rec>();
  for (const r of records) {
    if (r.kind === 'D') departureOf.set(r.tx, r);
    else if (r.kind === 'A' && r.tx >= 0) arrivalOf.set(`${r.node}:${r.tx}`, r);
  }
  for (let round = 0; round < 20; round++) {
    let moved = false;
    for (const r of records) {
      const before = r.kind === 'D' ? arrivalOf.get(`${r.node}:${r.inTx}`) : r.tx >= 0 ? departureOf.get(r.tx) : undefined;
      if (before !== undefined && r.at <= before.at) {
        r.at = before.at + EPSILON_MS;
        moved = true;
      }
    }
    if (!moved) return [...records].sort(byTime);
  }
  throw new RecordError('the records do not fall into a causal order');
}

/**
 * The SimRun of a real network's records: `files` maps node names (the topology's: gateway-1,
 * mix-1-1, …, provider-2) to their record files' text; `config` describes the network (its
 * topology and parameters; `users` is replaced by the client connections seen, `durationMs` by the
 * records' span).
 */
export function recordedRun(files: ReadonlyMap<string, string>, config: SimConfig): SimRun {
  const topology = buildTopology(config.topology, config.network, config.epochMs);
  const seq = { n: 0 };
  const records: Rec[] = [];
  for (const [name, text] of files) {
    const node = topology.nodes.find((n) => n.name === name);
    if (node === undefined) throw new RecordError(`no node ${name} in the topology`);
    records.push(...parse(text, node.index, name, seq));
  }
  if (records.length === 0) throw new RecordError('no packet records');
  const origin = Math.min(...records.map((r) => r.at));
  for (const r of records) r.at -= origin;
  const log = new EventLog();
  const { clientOfConnection, inputOf, sentAt } = join(records, log);
  const ordered = causalOrder(records);
  const nodeCount = topology.nodes.length;
  const arrivalIndex = new Map<number, number>();
  const arrivals = new Array<number>(nodeCount).fill(0);
  const departures = new Array<number>(nodeCount).fill(0);
  const lastIndex = new Array<number>(nodeCount).fill(-1);
  const inOrder = new Array<boolean>(nodeCount).fill(true);
  const delivered: Delivered[] = [];
  for (const r of ordered) {
    if (r.tx < 0) continue;
    if (r.kind === 'A') {
      log.arrival(r.node, r.tx);
      arrivalIndex.set(r.tx, arrivals[r.node]++);
    } else if (r.kind === 'D') {
      log.departure(r.node, r.tx, r.pool, r.inTx);
      const index = arrivalIndex.get(r.inTx) ?? -1;
      if (index < lastIndex[r.node]) inOrder[r.node] = false;
      lastIndex[r.node] = Math.max(lastIndex[r.node], index);
      departures[r.node]++;
    } else {
      log.delivery(r.node, r.tx);
      let first = r.tx;
      for (let hops = 0; log.clientOf(first) < 0 && hops < 8; hops++) first = inputOf.get(first) ?? -1;
      if (first < 0 || log.clientOf(first) < 0) continue;
      const sent = sentAt.get(first) as number;
      delivered.push({ kind: DROP, message: -1, client: log.clientOf(first), recipient: -1, provider: r.node, deliveryTx: r.tx, firstTx: first, sentAt: sent, deliveredAt: r.at });
    }
  }
  const users = Math.max(1, clientOfConnection.size);
  const durationMs = Math.max(1, ...ordered.map((r) => r.at));
  return {
    config: { ...config, users, durationMs, warmupMs: Math.min(config.warmupMs, durationMs / 2) },
    topology,
    log,
    delivered,
    sent: { real: 0, loop: 0, drop: sentAt.size },
    latencies: { endToEnd: [], network: delivered.map((d) => d.deliveredAt - d.sentAt) },
    keepsOrder: inOrder.map((ordered, i) => ordered && departures[i] >= 10),
    mailsWritten: 0,
    dropped: 0,
    agendaEvents: ordered.length,
  };
}

/** What the comparison of a simulated and a recorded run reads from either. */
export interface LinkFigures {
  /** Packets measured: sent by a client within the window and delivered. */
  readonly measured: number;
  /** Sender entropy (bits) of each measured packet: mean, 10th percentile, median. */
  readonly senderEntropy: { readonly mean: number; readonly p10: number; readonly median: number };
  /** Share of measured packets whose sender the timing-correlation attack names. */
  readonly timingAttackSuccess: number;
  /** Network latency (client → provider), ms. */
  readonly latencyMs: { readonly mean: number; readonly median: number; readonly p90: number };
}

/**
 * The figures of every packet (cover included) a client sent between `fromMs` and `untilMs` and
 * that reached a provider, computed from the run's EventLog with the simulator's posterior
 * (src/sim/posterior.ts), whichever way the run was made.
 */
export function linkFigures(run: SimRun, fromMs: number, untilMs: number): LinkFigures {
  const targets = run.delivered.filter((d) => d.client >= 0 && d.sentAt >= fromMs && d.sentAt <= untilMs);
  const weights = senderWeights(run.log, run.topology.nodes.length, linkedNodes(run), targets.map((d) => d.deliveryTx));
  const entropies = weights.map((w) => shannonEntropy(w.values()));
  const latencies = targets.map((d) => d.deliveredAt - d.sentAt);
  const hits = weights.filter((w, i) => bestGuess(w) === targets[i].client).length;
  return {
    measured: targets.length,
    senderEntropy: { mean: mean(entropies), p10: quantile(entropies, 0.1), median: quantile(entropies, 0.5) },
    timingAttackSuccess: targets.length === 0 ? NaN : hits / targets.length,
    latencyMs: { mean: mean(latencies), median: quantile(latencies, 0.5), p90: quantile(latencies, 0.9) },
  };
}
