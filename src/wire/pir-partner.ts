import { sameBytes } from '../codec/bytes.js';
import { pathLayers, PROVIDER_LAYER, type ConsensusDocument, type NodeDescriptor } from '../pki/index.js';

/**
 * Who answers PIR queries with whom (docs/pir.md, "Mailbox retrieval"): the two servers of a
 * provider P's snapshots are P itself and its partner, the first provider after P in node-ID order,
 * cyclically, whose family (operator) differs from P's. The two servers must not collude, so a
 * provider of P's own operator is never its partner, however its key sorts. Providers and clients
 * choose the same partner from the same consensus document.
 */

/** The providers that can serve PIR (those with a client WebSocket), in node-ID order. */
export function pirProviders(doc: Pick<ConsensusDocument, 'nodes'>): NodeDescriptor[] {
  return pathLayers(doc)[PROVIDER_LAYER].filter((node) => node.addresses.ws !== undefined);
}

/**
 * The second PIR server of `providerId`'s snapshots: the next provider after it in node-ID order,
 * cyclically, of another family. Undefined when the provider is not in the document or no provider
 * of another family serves PIR (then there is no non-colluding pair, and PIR is refused).
 */
export function pirPartner(doc: Pick<ConsensusDocument, 'nodes'>, providerId: Uint8Array): NodeDescriptor | undefined {
  const providers = pirProviders(doc);
  const index = providers.findIndex((node) => sameBytes(node.nodeId, providerId));
  if (index < 0) return undefined;
  const family = providers[index].family;
  for (let step = 1; step < providers.length; step++) {
    const candidate = providers[(index + step) % providers.length];
    if (candidate.family !== family) return candidate;
  }
  return undefined;
}
