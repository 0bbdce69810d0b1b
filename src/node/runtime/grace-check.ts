import { graceFor, type MixingParameters } from '../../pki/index.js';
import type { NodeLog } from '../log.js';
import type { NodeMetrics } from './metrics.js';

/**
 * Whether a node's `graceMs` covers the delays a consensus's mixing gives a packet's way
 * (src/pki/grace.ts; docs/nodes.md, "Keys"). A shorter grace drops packets that left late in an
 * epoch as `bad-mac` at the last hops: every such document is counted, and the grace needed is
 * said once per value.
 */
export class GraceCheck {
  private warnedFor: number | undefined;

  constructor(
    private readonly graceMs: number,
    private readonly epochMs: number,
    private readonly metrics: NodeMetrics,
    private readonly log: NodeLog,
  ) {}

  /** Checks a verified document's mixing; true when the grace is long enough. */
  check(mixing: Pick<MixingParameters, 'meanDelayMs' | 'maxDelayMs'>): boolean {
    const needed = graceFor(this.epochMs, mixing);
    if (this.graceMs >= needed) return true;
    this.metrics.count('node_consensus_grace_short_total');
    if (this.warnedFor !== needed) {
      this.warnedFor = needed;
      this.log(`node: graceMs ${this.graceMs} is shorter than the ${needed} ms the consensus's mixing delays need: packets sent late in an epoch will be dropped as bad-mac (set graceMs to ${needed})`, 'warn');
    }
    return false;
  }
}
