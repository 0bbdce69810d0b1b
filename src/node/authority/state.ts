import { hexOf, sameBytes } from '../../codec/bytes.js';
import type { Crypto } from '../../crypto/types.js';
import {
  decodeConsensusUnverified,
  decodeDescriptor,
  epochAt,
  epochEnd,
  epochStart,
  PkiError,
  reliabilityScores,
  verifyConsensus,
  type EpochTiming,
  type NodeDescriptor,
} from '../../pki/index.js';
import type { Clock } from '../../net/clock.js';
import type { AuthorityConfig } from './config.js';
import { HttpError } from './http-error.js';
import { LoopReportBook } from './loop-reports.js';
import type { AuthorityMetrics } from './metrics.js';
import { ProbeBook } from './probes.js';
import { AuthorityStore } from './store.js';
import { Voting } from './voting.js';
import type { NodeLog } from '../log.js';

export type UploadOutcome = 'new' | 'replaced' | 'unchanged';

export interface AuthorityStateDeps {
  readonly crypto: Crypto;
  readonly clock: Clock;
  readonly metrics: AuthorityMetrics;
  readonly log: NodeLog;
}

const PKI_STATUS: Record<string, number> = {
  malformed: 400,
  invalid: 400,
  'bad-signature': 403,
  'wrong-epoch': 422,
  conflict: 409,
};

interface Held {
  readonly descriptor: NodeDescriptor;
  readonly bytes: Uint8Array;
}

/**
 * What the directory authority holds (docs/pki.md, "Authority"): the descriptors uploaded for
 * epochs whose document is not made yet, the signed documents, and both on disk in the data
 * directory (read back at start). It decides which uploads are taken and makes, signs and stores
 * a document when asked for one that is due.
 */
export class AuthorityState {
  readonly timing: EpochTiming;
  /** The authority's Ed25519 public key (its ID in consensus signatures). */
  readonly publicKey: Uint8Array;
  private readonly crypto: Crypto;
  private readonly clock: Clock;
  private readonly metrics: AuthorityMetrics;
  private readonly log: NodeLog;
  private readonly store: AuthorityStore;
  private readonly documents = new Map<number, Uint8Array>();
  private readonly descriptors = new Map<number, Map<string, Held>>();
  readonly voting: Voting;
  /** The mixes' loop reports, scored into this authority's votes. */
  readonly loopReports: LoopReportBook;
  /** This authority's own probe counts, scored into its votes with the reports. */
  readonly probes: ProbeBook;
  /** The signatures (hex) of the descriptors a published document holds, to recognise re-uploads. */
  private readonly included = new Map<number, Set<string>>();
  /** The nodes of the last document probed, decoded once. */
  private documentNodes: { epoch: number; nodes: readonly NodeDescriptor[] } | undefined;

  constructor(
    private readonly config: AuthorityConfig,
    deps: AuthorityStateDeps,
  ) {
    this.crypto = deps.crypto;
    this.clock = deps.clock;
    this.metrics = deps.metrics;
    this.log = deps.log;
    this.timing = { genesisMs: config.genesisMs, epochMs: config.epochMs };
    this.publicKey = this.crypto.ed25519PublicKey(config.identitySeed);
    this.store = new AuthorityStore(config.dataDir);
    this.restoreDocuments();
    this.restoreDescriptors();
    this.loopReports = new LoopReportBook(this.crypto, (nodeId) => this.admitted(nodeId), this.store);
    this.probes = new ProbeBook(this.store);
    const startEpoch = this.currentEpoch(this.clock.now());
    for (const problem of this.loopReports.restore(startEpoch)) this.log(`authority: skipping stored loop report ${problem}`, 'warn');
    for (const problem of this.probes.restore(startEpoch)) this.log(`authority: skipping stored probe counts ${problem}`, 'warn');
    const scores = (epoch: number): Map<string, number> => this.scoresFor(epoch);
    const measured = (epoch: number): Map<string, number> => this.probes.throughputFor(epoch);
    this.voting = new Voting(config, { crypto: this.crypto, metrics: this.metrics, log: this.log, store: this.store, scores, measured }, this.clock.now());
  }

  /** The current epoch, or -1 before genesis. */
  currentEpoch(now: number): number {
    return epochAt(now, this.timing);
  }

  /** When the authorities vote on the document for `epoch`: `publishLeadMs` before the epoch starts. */
  publishTime(epoch: number): number {
    return epochStart(epoch, this.timing) - this.config.publishLeadMs;
  }

  /** Whether the voting needs the timer more often than at publish times (several authorities, an epoch not yet published). */
  votingPending(now: number): boolean {
    if (this.voting.authorityCount === 1) return false;
    const current = this.currentEpoch(now);
    return [current, current + 1].some((epoch) => epoch >= 0 && !this.documents.has(epoch) && now >= this.publishTime(epoch));
  }

  /** The stored document for `epoch`, exactly the served bytes, if made. */
  document(epoch: number): Uint8Array | undefined {
    return this.documents.get(epoch);
  }

  /** Why the document for `epoch` could not be made, if it could not. */
  buildProblem(epoch: number): string | undefined {
    return this.voting.problem(epoch);
  }

  /** The newest epoch with a document, if any. */
  latestDocumentEpoch(): number | undefined {
    return this.documents.size === 0 ? undefined : Math.max(...this.documents.keys());
  }

  /** Descriptors held per epoch (epochs as decimal strings). */
  descriptorsHeld(): Record<string, number> {
    return Object.fromEntries([...this.descriptors].map(([epoch, byNode]) => [String(epoch), byNode.size]));
  }

  /** The document for `epoch`, made now if it is due (publish time reached, epoch not over). */
  documentFor(epoch: number, now: number): Uint8Array | undefined {
    const existing = this.documents.get(epoch);
    if (existing !== undefined) return existing;
    if (epoch < 0 || now < this.publishTime(epoch) || now >= epochEnd(epoch, this.timing)) return undefined;
    return this.advance(epoch, now);
  }

  /** Both votes of every authority that voted twice for `epoch` (by authority ID hex), as kept on disk. */
  evidence(epoch: number): Map<string, Uint8Array[]> {
    return this.store.readEvidence(epoch);
  }

  /** A peer's vote (voting.ts); the round moves on at once. */
  receiveVote(body: Uint8Array): 'new' | 'unchanged' {
    const now = this.clock.now();
    const { result, epoch } = this.voting.receiveVote(body, now);
    if (result === 'new') this.documentFor(epoch, now);
    return result;
  }

  /** A peer's signature on its tally (voting.ts); publishes once a majority has signed. */
  receiveSignature(body: Uint8Array): 'new' | 'unchanged' {
    const now = this.clock.now();
    const { result, epoch } = this.voting.receiveSignature(body, now);
    if (result === 'new') this.documentFor(epoch, now);
    return result;
  }

  /**
   * A document for `epoch` fetched from a peer: taken (stored and served as this authority's) when
   * it verifies with a majority of the listed authorities. Returns whether it was taken.
   */
  adopt(epoch: number, bytes: Uint8Array): boolean {
    if (this.documents.has(epoch)) return false;
    try {
      verifyConsensus(this.crypto, bytes, { authorities: this.config.authorities, epoch, nowMs: this.clock.now() });
    } catch {
      return false;
    }
    this.publish(epoch, bytes, 'taken from a peer');
    this.metrics.add('umbra_authority_documents_adopted_total');
    return true;
  }

  /**
   * Takes an uploaded descriptor for the current or the next epoch, or refuses it with an
   * HttpError. A descriptor taken is on disk before this returns.
   */
  accept(body: Uint8Array): { result: UploadOutcome; descriptor: NodeDescriptor } {
    let descriptor: NodeDescriptor;
    try {
      descriptor = decodeDescriptor(this.crypto, body);
    } catch (error) {
      if (error instanceof PkiError) throw new HttpError(PKI_STATUS[error.code] ?? 400, error.code, error.message);
      throw error;
    }
    const nodeHex = hexOf(descriptor.nodeId);
    if (!this.admitted(descriptor.nodeId)) {
      throw new HttpError(403, 'unknown-node', `node ${nodeHex} is not on this authority's list`);
    }
    const now = this.clock.now();
    const current = this.currentEpoch(now);
    const { epoch } = descriptor;
    if (epoch !== current && epoch !== current + 1) {
      const accepted = current < 0 ? 'epoch 0 (before genesis)' : `epochs ${current} and ${current + 1}`;
      throw new HttpError(422, 'wrong-epoch', `descriptor for epoch ${epoch}; this authority takes ${accepted}`);
    }
    if (this.documents.has(epoch)) {
      if (this.includedIn(epoch).has(hexOf(descriptor.signature))) return { result: 'unchanged', descriptor };
      throw new HttpError(409, 'too-late', `the document for epoch ${epoch} is already published; upload for epoch ${epoch + 1}`);
    }
    let byNode = this.descriptors.get(epoch);
    const earlier = byNode?.get(nodeHex);
    if (earlier !== undefined) {
      if (sameBytes(earlier.bytes, body)) return { result: 'unchanged', descriptor };
      if (descriptor.serial <= earlier.descriptor.serial) {
        throw new HttpError(409, 'conflict', `a different descriptor with serial ${earlier.descriptor.serial} is held; a replacement needs a larger serial`);
      }
    } else if ((byNode?.size ?? 0) >= this.config.maxNodesPerEpoch) {
      throw new HttpError(429, 'full', `this authority holds ${this.config.maxNodesPerEpoch} descriptors for epoch ${epoch} already`);
    }
    const stored = body.slice();
    this.store.writeDescriptor(epoch, nodeHex, stored);
    if (byNode === undefined) {
      byNode = new Map();
      this.descriptors.set(epoch, byNode);
    }
    byNode.set(nodeHex, { descriptor, bytes: stored });
    this.updateGauges(current);
    return { result: earlier === undefined ? 'new' : 'replaced', descriptor };
  }

  /** The per-mille scores this authority votes for `epoch` (docs/network.md, "Score"), by node ID hex. */
  scoresFor(epoch: number): Map<string, number> {
    return reliabilityScores(this.loopReports.reportsFor(epoch), this.probes.countsFor(epoch));
  }

  /** The nodes to probe during `epoch`: those of its document, else the descriptors held for it. */
  nodesOf(epoch: number): NodeDescriptor[] {
    const bytes = this.documents.get(epoch);
    if (bytes !== undefined) {
      if (this.documentNodes?.epoch !== epoch) this.documentNodes = { epoch, nodes: decodeConsensusUnverified(this.crypto, bytes, false).doc.nodes };
      return [...this.documentNodes.nodes];
    }
    return [...(this.descriptors.get(epoch)?.values() ?? [])].map((held) => held.descriptor);
  }

  /** A mix's signed loop report (loop-reports.ts); refusals are HttpErrors. */
  receiveLoopReport(body: Uint8Array): 'new' | 'unchanged' {
    return this.loopReports.receive(body, this.currentEpoch(this.clock.now()));
  }

  private admitted(nodeId: Uint8Array): boolean {
    const allowed = this.config.allowedNodes;
    return allowed === undefined ? this.config.openAdmission === true : allowed.some((key) => sameBytes(key, nodeId));
  }

  /** Forgets documents past retention and descriptors of epochs before `current`, on disk too. */
  prune(current: number): void {
    const oldestKept = current - this.config.retainEpochs + 1;
    for (const epoch of [...this.documents.keys()]) {
      if (epoch < oldestKept) {
        this.documents.delete(epoch);
        this.included.delete(epoch);
        this.store.deleteDocument(epoch);
      }
    }
    for (const epoch of [...this.descriptors.keys()]) if (epoch < current) this.descriptors.delete(epoch);
    this.store.pruneDescriptorsBefore(current);
    this.voting.prune(current);
    this.loopReports.prune(current);
    this.probes.prune(current);
    this.store.pruneMeasurementsBefore(current - 1);
  }

  updateGauges(current: number): void {
    this.metrics.set('umbra_authority_epoch', current);
    this.metrics.set('umbra_authority_latest_document_epoch', this.latestDocumentEpoch() ?? -1);
    let held = 0;
    for (const byNode of this.descriptors.values()) held += byNode.size;
    this.metrics.set('umbra_authority_descriptors_held', held);
  }

  /** Votes, tallies, publishes for `epoch` as far as the voting allows now. */
  private advance(epoch: number, now: number): Uint8Array | undefined {
    const byNode = this.descriptors.get(epoch);
    const held = [...(byNode?.values() ?? [])].map((entry) => entry.descriptor);
    const allowed = this.config.allowedNodes;
    const allUploaded = allowed !== undefined && allowed.every((key) => byNode?.has(hexOf(key)) === true);
    let bytes: Uint8Array | undefined;
    try {
      // Bootstrap: an allow-list names the nodes to wait for, and no document of the epoch before is known.
      bytes = this.voting.step(epoch, now, held, allUploaded, allowed !== undefined && !this.documents.has(epoch - 1));
    } catch (error) {
      this.metrics.add('umbra_authority_documents_failed_total', 1, { reason: error instanceof PkiError ? error.code : 'storage' });
      this.log(`authority: voting for epoch ${epoch} failed: ${error instanceof Error ? error.message : String(error)}`, 'error');
      return undefined;
    }
    if (bytes === undefined) return undefined;
    try {
      this.publish(epoch, bytes, `signed by ${this.voting.threshold === 1 ? 'this authority' : 'a majority'}`);
    } catch (error) {
      this.metrics.add('umbra_authority_documents_failed_total', 1, { reason: 'storage' });
      this.log(`authority: could not store the document for epoch ${epoch}: ${error instanceof Error ? error.message : String(error)}`, 'error');
      return undefined;
    }
    return bytes;
  }

  private publish(epoch: number, bytes: Uint8Array, how: string): void {
    this.store.writeDocument(epoch, bytes); // on disk before anyone can see it
    this.documents.set(epoch, bytes);
    this.descriptors.delete(epoch);
    this.metrics.add('umbra_authority_documents_published_total');
    this.log(`authority: published the document for epoch ${epoch} (${how}, ${bytes.length} bytes)`);
  }

  private includedIn(epoch: number): Set<string> {
    let signatures = this.included.get(epoch);
    if (signatures === undefined) {
      const bytes = this.documents.get(epoch);
      const nodes = bytes === undefined ? [] : decodeConsensusUnverified(this.crypto, bytes, false).doc.nodes;
      signatures = new Set(nodes.map((node) => hexOf(node.signature)));
      this.included.set(epoch, signatures);
    }
    return signatures;
  }

  /** Reads back the documents a majority of the authorities signed; anything else in the directory is skipped. */
  private restoreDocuments(): void {
    for (const [epoch, bytes] of this.store.readDocuments()) {
      try {
        // Expiry aside, exactly what a client checks.
        const { doc } = decodeConsensusUnverified(this.crypto, bytes, false);
        verifyConsensus(this.crypto, bytes, { authorities: this.config.authorities, epoch, nowMs: doc.validUntilMs, verifyDescriptors: false });
        this.documents.set(epoch, bytes);
      } catch (error) {
        this.log(`authority: skipping stored document ${epoch}.bin: ${error instanceof Error ? error.message : String(error)}`, 'warn');
      }
    }
  }

  /** Reads back the descriptors of epochs from the current one on that have no document yet. */
  private restoreDescriptors(): void {
    const startEpoch = this.currentEpoch(this.clock.now());
    for (const [epoch, byNode] of this.store.readDescriptors()) {
      if (epoch < startEpoch || this.documents.has(epoch)) continue;
      const held = new Map<string, Held>();
      for (const [nodeHex, bytes] of byNode) {
        try {
          const descriptor = decodeDescriptor(this.crypto, bytes, epoch);
          if (hexOf(descriptor.nodeId) !== nodeHex) throw new Error('the file name is not its node ID');
          held.set(nodeHex, { descriptor, bytes });
        } catch (error) {
          this.log(`authority: skipping stored descriptor ${epoch}/${nodeHex}: ${error instanceof Error ? error.message : String(error)}`, 'warn');
        }
      }
      this.descriptors.set(epoch, held);
    }
  }
}
