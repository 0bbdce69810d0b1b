import { sameBytes } from '../codec/bytes.js';
import { pathLayers, PROVIDER_LAYER, type ConsensusDocument, type NodeDescriptor } from '../pki/index.js';

/**
 * Who answers PIR queries with whom (docs/pir.md, "Mailbox retrieval"): the two servers of a
 * provider P's snapshots are P itself and its partner, the provider after P among the consensus's
 * providers in node-ID order, cyclically. Providers and clients choose the same partner from the
 * same consensus document.
 */

/** The providers that can serve PIR (those with a client WebSocket), in node-ID order. */
export function pirProviders(doc: Pick<ConsensusDocument, 'nodes'>): NodeDescriptor[] {
  return pathLayers(doc)[PROVIDER_LAYER].filter((node) => node.addresses.ws !== undefined);
}

/**
 * The second PIR server of `providerId`'s snapshots: the next provider after it in node-ID order,
 * cyclically (with two providers, each is the other's partner). Undefined when the provider is not
 * in the document or is its only provider.
 */
export function pirPartner(doc: Pick<ConsensusDocument, 'nodes'>, providerId: Uint8Array): NodeDescriptor | undefined {
  const providers = pirProviders(doc);
  const index = providers.findIndex((node) => sameBytes(node.nodeId, providerId));
  if (index < 0 || providers.length < 2) return undefined;
  return providers[(index + 1) % providers.length];
}
