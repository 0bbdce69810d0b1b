import { graceFor, type ConsensusDocument, type MixingParameters } from '../../pki/index.js';
import type { NodeLog } from '../log.js';
import type { NodeMetrics } from './metrics.js';

/**
 * The grace each held consensus needs for the packets that left in its epoch (src/pki/grace.ts), for
 * the keyring (KeyringOptions.neededGraceMs): a node keeps the previous epoch's key as long as the
 * longer of its `graceMs` and this, so that no operator has to work it out for short epochs.
 */
export function consensusGrace(epochMs: number, documentFor: (epoch: number) => ConsensusDocument | undefined): (epoch: number) => number | undefined {
  // Asked for every packet unwrapped (the keyring's candidates): computed once per document.
  const computed = new WeakMap<ConsensusDocument, number>();
  return (epoch) => {
    // The next epoch's document stands in for a missing one (a node restarted in the epoch after):
    // mixing parameters seldom change.
    const doc = documentFor(epoch) ?? documentFor(epoch + 1);
    if (doc === undefined) return undefined;
    let grace = computed.get(doc);
    if (grace === undefined) computed.set(doc, (grace = graceFor(epochMs, doc.mixing)));
    return grace;
  };
}

/**
 * Whether a node's `graceMs` covers the delays a consensus's mixing gives a packet's way
 * (src/pki/grace.ts; docs/nodes.md, "Keys"). The keyring keeps the previous key longer when it does
 * not (consensusGrace): every such document is counted, and the grace kept is said once per value.
 */
export class GraceCheck {
  private saidFor: number | undefined;

  constructor(
    private readonly graceMs: number,
    private readonly epochMs: number,
    private readonly metrics: NodeMetrics,
    private readonly log: NodeLog,
  ) {}

  /** Checks a verified document's mixing; true when the configured grace is long enough. */
  check(mixing: Pick<MixingParameters, 'meanDelayMs' | 'maxDelayMs'>): boolean {
    const needed = graceFor(this.epochMs, mixing);
    if (this.graceMs >= needed) return true;
    this.metrics.count('node_consensus_grace_short_total');
    if (this.saidFor !== needed) {
      this.saidFor = needed;
      this.log(`node: the consensus's mixing delays need ${needed} ms of grace, more than graceMs ${this.graceMs}: the previous epoch's key is kept ${needed} ms after each boundary`, 'info');
    }
    return false;
  }
}
