import { hexOf } from '../codec/bytes.js';
import type { LoopCounts, LoopReport } from './loop-report.js';
import { RELIABILITY_SCALE } from './params.js';

/**
 * An authority's reliability score of each node from the mixes' loop reports (docs/network.md,
 * "Reliability"). Pure. For a node n and a reporter r ≠ n that sent at least MIN_LOOPS_THROUGH
 * loops through n:
 *
 *   excess_r(n) = max(0, loss rate of r's loops through n − loss rate of r's other loops)
 *
 * (the other loops' rate is the baseline that every path shares: a node is blamed only for the loss
 * its presence adds; with fewer than MIN_LOOPS_THROUGH other loops the baseline is 0). The node's
 * score is RELIABILITY_SCALE × (1 − the lower median of excess_r(n) over its reporters), rounded.
 * A reporter never scores itself, and fewer than half the reporters of a node cannot move its
 * score outside the range the others report. A node with no reporter keeps RELIABILITY_SCALE
 * (nothing measured against it).
 */
export const MIN_LOOPS_THROUGH = 8;

interface Tally {
  total: { sent: number; lost: number };
  nodes: Map<string, { sent: number; lost: number }>;
}

/** Sums each reporter's reports (of several epochs, say) into one set of counts. */
function byReporter(reports: readonly LoopReport[]): Map<string, Tally> {
  const tallies = new Map<string, Tally>();
  for (const report of reports) {
    const key = hexOf(report.reporter);
    const tally = tallies.get(key) ?? { total: { sent: 0, lost: 0 }, nodes: new Map() };
    tally.total.sent += report.total.sent;
    tally.total.lost += report.total.lost;
    for (const entry of report.nodes) {
      const nodeKey = hexOf(entry.nodeId);
      if (nodeKey === key) continue;
      const counts = tally.nodes.get(nodeKey) ?? { sent: 0, lost: 0 };
      counts.sent += entry.sent;
      counts.lost += entry.lost;
      tally.nodes.set(nodeKey, counts);
    }
    tallies.set(key, tally);
  }
  return tallies;
}

/** What a reporter's counts say against a node: its excess loss rate, or undefined (too few loops). */
export function excessLoss(total: LoopCounts, through: LoopCounts): number | undefined {
  if (through.sent < MIN_LOOPS_THROUGH) return undefined;
  const otherSent = total.sent - through.sent;
  const otherLost = total.lost - through.lost;
  const baseline = otherSent >= MIN_LOOPS_THROUGH && otherLost >= 0 ? otherLost / otherSent : 0;
  return Math.max(0, through.lost / through.sent - baseline);
}

/** Per-mille scores by node ID (hex) for the nodes some reporter measured. */
export function reliabilityScores(reports: readonly LoopReport[]): Map<string, number> {
  const excesses = new Map<string, number[]>();
  for (const [reporter, tally] of byReporter(reports)) {
    for (const [node, counts] of tally.nodes) {
      if (node === reporter) continue;
      const excess = excessLoss(tally.total, counts);
      if (excess === undefined) continue;
      const list = excesses.get(node) ?? [];
      list.push(excess);
      excesses.set(node, list);
    }
  }
  const scores = new Map<string, number>();
  for (const [node, list] of excesses) {
    list.sort((a, b) => a - b);
    const median = list[Math.floor((list.length - 1) / 2)];
    scores.set(node, Math.max(0, Math.min(RELIABILITY_SCALE, Math.round(RELIABILITY_SCALE * (1 - median)))));
  }
  return scores;
}
