import type { Crypto } from '../../crypto/types.js';
import { fragmentParamsFor } from '../../e2e/sphinx-link.js';
import { epochAt, type ConsensusDocument, type NodeDescriptor } from '../../pki/index.js';
import { makeSuite, Sphinx } from '../../sphinx/index.js';
import type { ClientCore } from '../directory.js';
import { fetchCurrentConsensus } from '../setup.js';
import type { Clock } from '../../net/clock.js';
import { ClientError } from '../errors.js';
import { Network, providerForServers } from '../routes.js';

/**
 * The agent's view of the network (docs/client.md, "Consensus"): the verified consensus it routes
 * with, the Sphinx instance for its geometry and suite, and the user's own provider in it. Every
 * other part reads the network from here; the agent hands each new consensus to the parts.
 */
export class NetworkView {
  network!: Network;
  sphinx!: Sphinx;
  /** The provider of the user's card in the current consensus. */
  ownProvider!: NodeDescriptor;

  constructor(
    private readonly core: ClientCore,
    private readonly clock: Clock,
    /** Real-time limit of a consensus request (the agent's request timeout). */
    private readonly timeoutMs: number,
  ) {}

  get doc(): ConsensusDocument {
    return this.network.doc;
  }

  /** Whole milliseconds (a fake clock may stand between two). */
  now(): number {
    return Math.floor(this.clock.now());
  }

  /** The epoch of `now` (epoch 0 before genesis: a network about to start). */
  epochAt(now: number): number {
    return Math.max(0, epochAt(now, this.doc));
  }

  /** The consensus for the current epoch from the user's authority (verified; 'no-consensus' otherwise). */
  fetch(now: number): Promise<ConsensusDocument> {
    const { settings } = this.core;
    return fetchCurrentConsensus(this.core.crypto, settings.authority, now, settings.verifyDescriptors, this.timeoutMs);
  }

  /** True when the consensus held is for an earlier epoch than `now`'s. */
  stale(now: number): boolean {
    return this.doc.epoch < this.epochAt(now);
  }

  /**
   * Takes `doc` as the network. A consensus without the user's provider is refused: at the start it
   * throws ('no-provider'), later the previous one stays and the reason is returned.
   */
  adopt(doc: ConsensusDocument, first: boolean): string | undefined {
    if (!doc.geometry.withSurb) throw new ClientError('unsupported-network', 'the network carries no SURBs in forward packets: messages could not be acknowledged');
    const own = providerForServers(doc, this.core.endpoint.identity.servers);
    if (own === undefined) {
      const message = `none of this user's servers (${this.core.endpoint.identity.servers.join(', ')}) is a provider of the consensus of epoch ${doc.epoch}`;
      if (first) throw new ClientError('no-provider', message);
      return message;
    }
    const geometryChanged = first || JSON.stringify(doc.geometry) !== JSON.stringify(this.doc.geometry) || doc.suite !== this.doc.suite;
    if (geometryChanged) {
      this.sphinx = new Sphinx(makeSuite(doc.suite, this.crypto), doc.geometry);
      this.core.useFragmentParams(fragmentParamsFor(this.sphinx.geometry));
    }
    this.network = new Network(doc);
    this.ownProvider = own;
    return undefined;
  }

  private get crypto(): Crypto {
    return this.core.crypto;
  }
}
