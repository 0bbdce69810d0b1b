import { hexOf } from '../codec/bytes.js';
import type { LoopCounts, LoopReport } from './loop-report.js';
import { RELIABILITY_SCALE } from './params.js';

/**
 * An authority's reliability score of each node from the mixes' loop reports and its own probes
 * (docs/network.md, "Reliability"). Pure. For a node n and a reporter r ≠ n that sent at least
 * MIN_LOOPS_THROUGH loops through n:
 *
 *   excess_r(n) = max(0, loss rate of r's loops through n − loss rate of r's other loops)
 *
 * (the other loops' rate is the baseline that every path shares: a node is blamed only for the loss
 * its presence adds; with fewer than MIN_LOOPS_THROUGH other loops there is no baseline, and r says
 * nothing of n). The
 * reporters' score is RELIABILITY_SCALE × (1 − the lower median of excess_r(n) over its
 * reporters), rounded, once it has MIN_REPORTERS reporters. A reporter never scores itself; fewer than half the reporters of a node
 * cannot move the reporters' score above the range the others report, and no more than half cannot
 * move it below that range.
 *
 * The authority's probe score is RELIABILITY_SCALE × answered / sent, rounded, from at least
 * MIN_PROBES probes of n. The node's score is the lower of the two (the one measured when only one
 * is): a node is as reliable as its weaker measurement, so no number of reporters holds a node the
 * authority cannot reach above the probe score. A node with neither keeps RELIABILITY_SCALE
 * (nothing measured against it): it is left out of the map.
 */
export const MIN_LOOPS_THROUGH = 8;
/**
 * Reporters (each with MIN_LOOPS_THROUGH loops through a node) below which the reporters say
 * nothing of it: with one or two, the lower median is one reporter's word, so one liar, or one
 * reporter's small and unlucky sample (seen in a network's first seconds), would set the score.
 */
export const MIN_REPORTERS = 3;
/** Probes of a node (over the epochs read) below which the authority's probes say nothing. */
export const MIN_PROBES = 4;

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

/** What a reporter's counts say against a node: its excess loss rate, or undefined (too few loops through it or not). */
export function excessLoss(total: LoopCounts, through: LoopCounts): number | undefined {
  if (through.sent < MIN_LOOPS_THROUGH) return undefined;
  const otherSent = total.sent - through.sent;
  const otherLost = total.lost - through.lost;
  // No baseline, no word: loss the reporter saw on every path (a dropper elsewhere on its few loops) is not n's.
  if (otherSent < MIN_LOOPS_THROUGH || otherLost < 0) return undefined;
  return Math.max(0, through.lost / through.sent - otherLost / otherSent);
}

/** The per-mille score of probe counts (`lost` = not answered), or undefined (too few probes). */
export function probeScore(probes: LoopCounts): number | undefined {
  if (probes.sent < MIN_PROBES) return undefined;
  return Math.round((RELIABILITY_SCALE * (probes.sent - Math.min(probes.lost, probes.sent))) / probes.sent);
}

/** The reporters' per-mille score of each node some reporter measured, by node ID (hex). */
export function reporterScores(reports: readonly LoopReport[]): Map<string, number> {
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
    if (list.length < MIN_REPORTERS) continue;
    list.sort((a, b) => a - b);
    const median = list[Math.floor((list.length - 1) / 2)];
    scores.set(node, Math.max(0, Math.min(RELIABILITY_SCALE, Math.round(RELIABILITY_SCALE * (1 - median)))));
  }
  return scores;
}

/**
 * Per-mille scores by node ID (hex) for the nodes measured: the lower of the reporters' score and
 * the probe score (`probes`: this authority's counts by node ID hex; `lost` = not answered).
 */
export function reliabilityScores(reports: readonly LoopReport[], probes: ReadonlyMap<string, LoopCounts> = new Map()): Map<string, number> {
  const scores = reporterScores(reports);
  for (const [node, counts] of probes) {
    const probed = probeScore(counts);
    if (probed === undefined) continue;
    scores.set(node, Math.min(scores.get(node) ?? RELIABILITY_SCALE, probed));
  }
  return scores;
}
