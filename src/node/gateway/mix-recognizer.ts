import { hexOf } from '../../codec/bytes.js';
import { sameLinkKey } from '../../net/tls-identity.js';
import type { ConsensusDocument } from '../../pki/index.js';

/**
 * The mix (its node id, hex) whose link key a connection presented, looked up again whenever the
 * newest document held changes until one lists it: a mix may hold a document listing itself, and
 * connect, before this gateway holds that document (seen at startup on a loaded machine, where the
 * mix's connection then stayed in its address's bucket). `recognized` is called once, when found.
 */
export function mixRecognizer(peerLinkKey: Uint8Array | undefined, held: () => readonly ConsensusDocument[], recognized: () => void): () => string | undefined {
  let mix: string | undefined;
  let newestChecked = -1;
  return () => {
    if (mix !== undefined || peerLinkKey === undefined) return mix;
    const docs = held();
    const newest = docs.reduce((most, doc) => Math.max(most, doc.epoch), -1);
    if (newest === newestChecked) return undefined;
    newestChecked = newest;
    mix = mixWithLinkKey(docs, peerLinkKey);
    if (mix !== undefined) recognized();
    return mix;
  };
}

/** The node ID (hex) of a mix of the documents held whose link key is `linkKey`, if any. */
function mixWithLinkKey(docs: readonly ConsensusDocument[], linkKey: Uint8Array): string | undefined {
  for (const doc of docs) {
    for (const node of doc.nodes) {
      if (node.role === 'mix' && sameLinkKey(node.linkPublicKey, linkKey)) return hexOf(node.nodeId);
    }
  }
  return undefined;
}
