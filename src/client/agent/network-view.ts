import type { Crypto } from '../../crypto/types.js';
import { fragmentParamsFor } from '../../e2e/sphinx-link.js';
import { consensusDigest, epochAt, type ConsensusDocument, type NodeDescriptor, type RetrievalMode } from '../../pki/index.js';
import { makeSuite, Sphinx } from '../../sphinx/index.js';
import { consensusBelowMinimums } from '../../traffic/consensus-minimums.js';
import { chooseMirrors, judgeMirrors, type MirrorAnswer } from '../../traffic/mirror-check.js';
import { fetchMirrorDigest } from '../../net/authority-client.js';
import { mirrorTarget } from '../../net/pinned-https.js';
import type { ClientCore } from '../directory.js';
import { fetchCurrentConsensus } from '../setup.js';
import type { Clock } from '../../net/clock.js';
import { ClientError, describeError } from '../errors.js';
import { Network, providerForServers } from '../routes.js';

/** The last consensus the agent refused, for status(). */
export interface ConsensusRefusal {
  readonly code: string;
  readonly message: string;
  readonly atMs: number;
}

/**
 * The agent's view of the network (docs/client.md, "Consensus"): the verified consensus it routes
 * with, the Sphinx instance for its geometry and suite, and the user's own provider in it. Every
 * other part reads the network from here; the agent hands each new consensus to the parts. A
 * document is used only once it meets the user's minimums and the partition check.
 */
export class NetworkView {
  network!: Network;
  sphinx!: Sphinx;
  /** The provider of the user's card in the current consensus. */
  ownProvider!: NodeDescriptor;
  /** The retrieval mode of the first consensus adopted. */
  startMode?: RetrievalMode;
  /** The latest refusal (cleared when a newer consensus is adopted). */
  refusal?: ConsensusRefusal;

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

  /**
   * The consensus for the current epoch from the user's authority: verified ('no-consensus'),
   * at or above the minimums ('consensus-refused'), and confirmed by the mirrors
   * ('consensus-mismatch'; 'no-consensus' when too few answer).
   */
  async fetch(now: number): Promise<ConsensusDocument> {
    const { settings } = this.core;
    const doc = await fetchCurrentConsensus(this.core.crypto, settings.authority, now, settings.verifyDescriptors, this.timeoutMs);
    const problems = consensusBelowMinimums(doc, settings.minimums, {
      ...(this.startMode === undefined ? {} : { startMode: this.startMode }),
      allowModeChange: settings.allowRetrievalChange,
    });
    if (problems.length > 0) throw new ClientError('consensus-refused', `refused the consensus of epoch ${doc.epoch}: ${problems.join('; ')}`);
    await this.checkMirrors(doc);
    return doc;
  }

  /** Records a refusal for status(). */
  refused(error: ClientError): void {
    this.refusal = { code: error.code, message: error.message, atMs: this.now() };
  }

  /** Asks mirrors in random order until `mirrorsRequired` confirmed the document's digest (or one differs). */
  private async checkMirrors(doc: ConsensusDocument): Promise<void> {
    const { mirrors, mirrorsRequired } = this.core.settings;
    if (mirrorsRequired === 0) return;
    const digest = consensusDigest(this.core.crypto, doc);
    const order = chooseMirrors(mirrors, (n) => randomIndex(this.core.random(4), n));
    const answers: MirrorAnswer[] = [];
    let next = 0;
    while (next < order.length) {
      const confirmed = answers.filter((answer) => answer.digest !== undefined).length;
      if (confirmed >= mirrorsRequired) break;
      const batch = order.slice(next, next + mirrorsRequired - confirmed);
      next += batch.length;
      answers.push(...(await Promise.all(batch.map((mirror) => this.askMirror(mirror, doc.epoch)))));
      const verdict = judgeMirrors(digest, answers, 0);
      if (!verdict.ok) break;
    }
    const verdict = judgeMirrors(digest, answers, mirrorsRequired);
    if (verdict.ok) return;
    if (verdict.kind === 'mismatch') throw new ClientError('consensus-mismatch', `epoch ${doc.epoch}: ${verdict.message}`);
    throw new ClientError('no-consensus', `epoch ${doc.epoch}: ${verdict.message}${mirrors.length < mirrorsRequired ? ` (${mirrors.length} configured)` : ''}`);
  }

  private async askMirror(mirror: string, epoch: number): Promise<MirrorAnswer> {
    try {
      return { mirror: mirror.split('#')[0], digest: await fetchMirrorDigest(this.core.crypto, mirrorTarget(mirror, this.core.settings.authority.publicKeys), epoch, { timeoutMs: this.timeoutMs }) };
    } catch (error) {
      return { mirror: mirror.split('#')[0], failure: describeError(error) };
    }
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
    this.startMode ??= doc.retrieval;
    this.refusal = undefined;
    return undefined;
  }

  private get crypto(): Crypto {
    return this.core.crypto;
  }
}

/** An index in [0, n) from four random bytes. */
function randomIndex(bytes: Uint8Array, n: number): number {
  return (((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0) % n;
}
