import type { Crypto } from '../../crypto/types.js';
import { makeDescriptor, type NetworkParameters, type NodeDescriptor, type VoteInput } from '../../pki/index.js';

/**
 * The test hook `dishonestVote` (docs/pki.md, "Threat model"): the vote a lying authority casts —
 * a mix of its own making that no operator runs, and a lower mean delay. Honest authorities outvote
 * it; tests use it to show that they do. Never set in a real deployment.
 */
export function dishonestVoteInput(
  crypto: Crypto,
  authoritySeed: Uint8Array,
  honest: VoteInput,
  lie: { readonly extraNode: boolean; readonly meanDelayMs?: number },
): VoteInput {
  const descriptors: NodeDescriptor[] = [...honest.descriptors];
  if (lie.extraNode) descriptors.push(phantomMix(crypto, authoritySeed, honest.epoch));
  const network: NetworkParameters =
    lie.meanDelayMs === undefined ? honest.network : { ...honest.network, mixing: { ...honest.network.mixing, meanDelayMs: Math.min(lie.meanDelayMs, honest.network.mixing.maxDelayMs) } };
  return { ...honest, descriptors, network };
}

function derived(crypto: Crypto, seed: Uint8Array, label: string): Uint8Array {
  return crypto.blake2b(32, new Uint8Array([...seed, ...new TextEncoder().encode(label)]));
}

function phantomMix(crypto: Crypto, authoritySeed: Uint8Array, epoch: number): NodeDescriptor {
  return makeDescriptor(crypto, derived(crypto, authoritySeed, 'phantom identity'), {
    epoch,
    serial: 1,
    name: 'phantom-mix',
    family: 'phantom',
    role: 'mix',
    layer: 1,
    addresses: { link: '127.0.0.1:9' },
    linkPublicKey: crypto.ed25519PublicKey(derived(crypto, authoritySeed, 'phantom link')),
    sphinxKeys: [epoch, epoch + 1].map((e) => ({ epoch: e, publicKey: crypto.x25519Base(derived(crypto, authoritySeed, `phantom sphinx ${e}`)) })),
  });
}
