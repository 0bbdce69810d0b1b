import { hexOf, sameBytes } from '../../codec/bytes.js';
import type { Crypto } from '../../crypto/types.js';
import {
  decodeConsensusUnverified,
  decodeDescriptor,
  encodeConsensus,
  epochAt,
  epochEnd,
  epochStart,
  makeConsensus,
  PkiError,
  signConsensus,
  type EpochTiming,
  type NodeDescriptor,
} from '../../pki/index.js';
import type { Clock } from '../../net/clock.js';
import type { AuthorityConfig } from './config.js';
import { HttpError } from './http-error.js';
import type { AuthorityMetrics } from './metrics.js';
import { AuthorityStore } from './store.js';

export type UploadOutcome = 'new' | 'replaced' | 'unchanged';

export interface AuthorityStateDeps {
  readonly crypto: Crypto;
  readonly clock: Clock;
  readonly metrics: AuthorityMetrics;
  readonly log: (line: string) => void;
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
  private readonly log: (line: string) => void;
  private readonly store: AuthorityStore;
  private readonly documents = new Map<number, Uint8Array>();
  private readonly descriptors = new Map<number, Map<string, Held>>();
  /** Why the document of an epoch could not be made (the last failure), until it is made. */
  private readonly buildProblems = new Map<number, string>();
  /** The signatures (hex) of the descriptors a published document holds, to recognise re-uploads. */
  private readonly included = new Map<number, Set<string>>();

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
  }

  /** The current epoch, or -1 before genesis. */
  currentEpoch(now: number): number {
    return epochAt(now, this.timing);
  }

  /** When the document for `epoch` is made: `publishLeadMs` before the epoch starts. */
  publishTime(epoch: number): number {
    return epochStart(epoch, this.timing) - this.config.publishLeadMs;
  }

  /** The stored document for `epoch`, exactly the served bytes, if made. */
  document(epoch: number): Uint8Array | undefined {
    return this.documents.get(epoch);
  }

  /** Why the document for `epoch` could not be made, if it could not. */
  buildProblem(epoch: number): string | undefined {
    return this.buildProblems.get(epoch);
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
    return this.build(epoch);
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
    const allowed = this.config.allowedNodes;
    const admitted = allowed === undefined ? this.config.openAdmission === true : allowed.some((key) => sameBytes(key, descriptor.nodeId));
    if (!admitted) {
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
    for (const epoch of [...this.buildProblems.keys()]) if (epoch < current) this.buildProblems.delete(epoch);
    this.store.pruneDescriptorsBefore(current);
  }

  updateGauges(current: number): void {
    this.metrics.set('umbra_authority_epoch', current);
    this.metrics.set('umbra_authority_latest_document_epoch', this.latestDocumentEpoch() ?? -1);
    let held = 0;
    for (const byNode of this.descriptors.values()) held += byNode.size;
    this.metrics.set('umbra_authority_descriptors_held', held);
  }

  /** Makes, signs and stores the document for `epoch`; returns it, or undefined (problem recorded). */
  private build(epoch: number): Uint8Array | undefined {
    const held = [...(this.descriptors.get(epoch)?.values() ?? [])].map((entry) => entry.descriptor);
    try {
      const { graceMs, network } = this.config;
      const unsigned = makeConsensus({ ...this.timing, epoch, graceMs, network, descriptors: held });
      const bytes = encodeConsensus(signConsensus(this.crypto, unsigned, this.config.identitySeed));
      this.store.writeDocument(epoch, bytes); // on disk before anyone can see it
      this.documents.set(epoch, bytes);
      this.buildProblems.delete(epoch);
      this.descriptors.delete(epoch);
      this.metrics.add('umbra_authority_documents_published_total');
      this.log(`authority: published the document for epoch ${epoch} (${held.length} nodes, ${bytes.length} bytes)`);
      return bytes;
    } catch (error) {
      const reason = error instanceof PkiError ? error.code : 'storage';
      const message = error instanceof Error ? error.message : String(error);
      if (this.buildProblems.get(epoch) !== message) this.log(`authority: no document for epoch ${epoch} yet: ${message}`);
      this.buildProblems.set(epoch, message);
      this.metrics.add('umbra_authority_documents_failed_total', 1, { reason });
      return undefined;
    }
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

  /** Reads back the documents this authority signed; anything else in the directory is skipped. */
  private restoreDocuments(): void {
    for (const [epoch, bytes] of this.store.readDocuments()) {
      try {
        const { doc, signedBytes } = decodeConsensusUnverified(this.crypto, bytes, false);
        const own = doc.signatures.find((entry) => sameBytes(entry.authorityId, this.publicKey));
        if (doc.epoch !== epoch || own === undefined || !this.crypto.ed25519Verify(this.publicKey, signedBytes, own.signature)) {
          throw new Error('not a document signed by this authority for its epoch');
        }
        this.documents.set(epoch, bytes);
      } catch (error) {
        this.log(`authority: skipping stored document ${epoch}.bin: ${error instanceof Error ? error.message : String(error)}`);
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
          this.log(`authority: skipping stored descriptor ${epoch}/${nodeHex}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      this.descriptors.set(epoch, held);
    }
  }
}
