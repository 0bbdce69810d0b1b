import { expectedTagsPerKey, replayFilterSizing, type ReplaySizing } from '../../mixing/replay-sizing.js';
import { graceFor, keptGraceMs, type ConsensusDocument } from '../../pki/index.js';
import type { NodeConfig } from './config.js';

/**
 * The replay-filter generation size for an epoch's key (docs/nodes.md, "Replay filter"): from the
 * traffic rates and this layer's width in that epoch's consensus, for `expectedClients` clients,
 * at most 2^replayFilterLog2Bits bits. Without the document, the largest size.
 */
export function consensusReplaySizing(
  config: NodeConfig,
  documentFor: (epoch: number) => ConsensusDocument | undefined,
): (epoch: number) => ReplaySizing {
  return (epoch) => {
    const doc = documentFor(epoch);
    if (doc === undefined) return replayFilterSizing(Number.POSITIVE_INFINITY, config.replayFilterLog2Bits);
    const expected = expectedTagsPerKey({
      traffic: doc.traffic,
      clients: config.expectedClients,
      layerWidth: doc.nodes.filter((node) => node.layer === config.layer).length,
      // A key lives its epoch and the grace after it: the configured one, or the longer one its consensus needs (keyring.ts).
      keyLifetimeMs: config.epochMs + keptGraceMs(config.graceMs, config.epochMs, graceFor(config.epochMs, doc.mixing)),
    });
    return replayFilterSizing(expected, config.replayFilterLog2Bits);
  };
}
