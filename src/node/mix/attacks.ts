import { hexOf } from '../../codec/bytes.js';
import type { ForwardResult } from '../../sphinx/index.js';
import type { MixAttack } from '../runtime/config.js';
import type { NodeRuntime } from '../runtime/node.js';

/**
 * A mix's attacks, for test networks only (`attackForTests`; never set in a deployment). Each
 * decides, for a packet the mix would forward, whether it goes on (true) or silently vanishes: an
 * attacker counts nothing. `peer` is the node the packet came from (hex ID).
 */
export type ForwardFilter = (result: ForwardResult, peer: string | undefined) => boolean;

export function mixAttack(attack: MixAttack, runtime: NodeRuntime): ForwardFilter {
  return attack === 'n-1' ? nMinusOne(runtime) : spareLoops(runtime);
}

/**
 * 'n-1': lets one packet per epoch through (the first it receives, standing for its target's) and
 * drops all others, as if it held them past the epoch (their SURBs and keys would be useless by
 * then). Every loop through it vanishes (docs/network.md, "Alerts").
 */
function nMinusOne(runtime: NodeRuntime): ForwardFilter {
  const { config, clock } = runtime;
  let passedIn = -1;
  return () => {
    const epoch = Math.floor((clock.now() - config.genesisMs) / config.epochMs);
    if (epoch === passedIn) return false;
    passedIn = epoch;
    return true;
  };
}

/**
 * 'spare-loops': a mix that drops mail and spares loops, so that loops keep its score up. The only
 * thing a mix can tell them apart by is the hop: it forwards a packet that came from a node not of
 * the previous layer (a gateway for layer 1) or goes to one not of the next layer (a provider for
 * layer 3), since client traffic never takes such a hop, and drops every other. Where mix loops
 * take clients' hops (docs/network.md, "Mix loops"), it drops them all, and its loops show it.
 */
function spareLoops(runtime: NodeRuntime): ForwardFilter {
  const own = runtime.config.layer;
  const layerOf = (id: string | undefined): number | undefined => {
    if (id === undefined) return undefined;
    for (const doc of runtime.consensus.held()) {
      const node = doc.nodes.find((each) => hexOf(each.nodeId) === id);
      if (node !== undefined) return node.layer;
    }
    return undefined;
  };
  return (result, peer) => layerOf(peer) !== own - 1 || layerOf(hexOf(result.nextHop)) !== own + 1;
}
