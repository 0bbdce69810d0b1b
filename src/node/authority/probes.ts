import { MAX_BANDWIDTH, type LoopCounts } from '../../pki/index.js';

/**
 * The authority's own probe counts (docs/network.md, "Authority probes"): per epoch and node ID
 * (hex), how many probes were sent and how many went unanswered, and the node's throughput as one
 * throughput probe of the epoch measured it (packets per second; "Measured bandwidth"). The vote
 * for epoch e reads the counts of epochs e − 2 and e − 1, as for the loop reports, and the larger
 * of their throughputs. Each round's counts are on disk (probes/<epoch>.json, mode 0600) before
 * they count, and `restore` reads them back at start.
 */
export interface ProbeStore {
  writeProbes(epoch: number, bytes: Uint8Array): void;
  readProbes(): Map<number, Uint8Array>;
}

type Counts = { sent: number; lost: number };
/** One epoch's probes: counts, and the throughputs measured (packets per second), by node ID hex. */
type EpochProbes = { counts: Map<string, Counts>; throughput: Map<string, number> };
const NODE_HEX = /^[0-9a-f]{64}$/;

/** The throughputs of one epoch's file ("throughput": node → packets per second; absent in older files). */
function parseThroughput(value: unknown): Map<string, number> {
  const throughput = new Map<string, number>();
  if (value === undefined) return throughput;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('"throughput" is not an object');
  for (const [node, pps] of Object.entries(value)) {
    if (!NODE_HEX.test(node)) throw new Error(`${node.slice(0, 70)} is not a node ID in hex`);
    if (!Number.isInteger(pps) || (pps as number) < 1 || (pps as number) > MAX_BANDWIDTH) throw new Error(`the throughput of ${node.slice(0, 16)}… is not an integer in 1..${MAX_BANDWIDTH}`);
    throughput.set(node, pps as number);
  }
  return throughput;
}

/** One epoch's file, or a thrown Error saying what is wrong with it. */
function parseProbes(epoch: number, bytes: Uint8Array): EpochProbes {
  const json: unknown = JSON.parse(new TextDecoder().decode(bytes));
  if (typeof json !== 'object' || json === null) throw new Error('not a JSON object');
  const { epoch: fileEpoch, nodes, throughput } = json as { epoch?: unknown; nodes?: unknown; throughput?: unknown };
  if (fileEpoch !== epoch) throw new Error('the file name is not its epoch');
  if (typeof nodes !== 'object' || nodes === null || Array.isArray(nodes)) throw new Error('"nodes" is not an object');
  const counts = new Map<string, Counts>();
  for (const [node, value] of Object.entries(nodes)) {
    if (!NODE_HEX.test(node)) throw new Error(`${node.slice(0, 70)} is not a node ID in hex`);
    const [sent, lost] = Array.isArray(value) ? (value as unknown[]) : [];
    if (!Number.isSafeInteger(sent) || !Number.isSafeInteger(lost) || (lost as number) < 0 || (lost as number) > (sent as number)) {
      throw new Error(`the counts of ${node.slice(0, 16)}… are not [sent, lost] with 0 ≤ lost ≤ sent`);
    }
    counts.set(node, { sent: sent as number, lost: lost as number });
  }
  return { counts, throughput: parseThroughput(throughput) };
}

export class ProbeBook {
  private readonly byEpoch = new Map<number, EpochProbes>();

  /** Without a store, counts are held in memory only. */
  constructor(private readonly store?: ProbeStore) {}

  /** Reads back the counts of epochs `current` − 1 and `current`; returns the problems of files skipped. */
  restore(current: number): string[] {
    const problems: string[] = [];
    for (const [epoch, bytes] of this.store?.readProbes() ?? []) {
      if (epoch !== current && epoch !== current - 1) continue;
      try {
        this.byEpoch.set(epoch, parseProbes(epoch, bytes));
      } catch (error) {
        problems.push(`${epoch}.json: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return problems;
  }

  /**
   * Adds one round of probes sent during `epoch` (node ID hex → answered) and the throughputs it
   * measured (node ID hex → packets per second, ≥ 1; a node's first of the epoch is kept), on disk first.
   */
  record(epoch: number, answered: ReadonlyMap<string, boolean>, measured: ReadonlyMap<string, number> = new Map()): void {
    const held = this.byEpoch.get(epoch);
    const counts = new Map([...(held?.counts ?? [])].map(([node, c]) => [node, { ...c }]));
    for (const [node, ok] of answered) {
      const c = counts.get(node) ?? { sent: 0, lost: 0 };
      c.sent++;
      if (!ok) c.lost++;
      counts.set(node, c);
    }
    const throughput = new Map(held?.throughput);
    for (const [node, pps] of measured) if (!throughput.has(node)) throughput.set(node, Math.min(MAX_BANDWIDTH, Math.max(1, Math.floor(pps))));
    const nodes = Object.fromEntries([...counts].map(([node, c]) => [node, [c.sent, c.lost]]));
    const file = { epoch, nodes, throughput: Object.fromEntries(throughput) };
    this.store?.writeProbes(epoch, new TextEncoder().encode(`${JSON.stringify(file)}\n`));
    this.byEpoch.set(epoch, { counts, throughput });
  }

  /** Whether a throughput probe of `node` (hex) during `epoch` was measured. */
  measuredIn(epoch: number, node: string): boolean {
    return this.byEpoch.get(epoch)?.throughput.has(node) === true;
  }

  /** The throughputs the vote for `epoch` reads: per node, the larger of epochs e − 2 and e − 1 (packets per second). */
  throughputFor(epoch: number): Map<string, number> {
    const best = new Map<string, number>();
    for (const e of [epoch - 2, epoch - 1]) {
      for (const [node, pps] of this.byEpoch.get(e)?.throughput ?? []) best.set(node, Math.max(pps, best.get(node) ?? 0));
    }
    return best;
  }

  /** The counts the vote for `epoch` reads (epochs e − 2 and e − 1 summed), by node ID hex. */
  countsFor(epoch: number): Map<string, LoopCounts> {
    const sums = new Map<string, Counts>();
    for (const e of [epoch - 2, epoch - 1]) {
      for (const [node, c] of this.byEpoch.get(e)?.counts ?? []) {
        const sum = sums.get(node) ?? { sent: 0, lost: 0 };
        sum.sent += c.sent;
        sum.lost += c.lost;
        sums.set(node, sum);
      }
    }
    return sums;
  }

  /** The counts held for `epoch`, by node ID hex. */
  countsOf(epoch: number): ReadonlyMap<string, LoopCounts> {
    return this.byEpoch.get(epoch)?.counts ?? new Map();
  }

  /** Nodes with counts, per epoch. */
  held(): Record<string, number> {
    return Object.fromEntries([...this.byEpoch].map(([epoch, probes]) => [String(epoch), probes.counts.size]));
  }

  /** Forgets epochs no vote from `current` on reads (the store is pruned by the state). */
  prune(current: number): void {
    for (const epoch of [...this.byEpoch.keys()]) if (epoch < current - 1) this.byEpoch.delete(epoch);
  }
}
