import { sameBytes } from '../../codec/bytes.js';
import type { ConsensusDocument, NodeDescriptor } from '../../pki/index.js';
import type { PirParameters } from '../../pki/params.js';
import { pirPartner } from '../../wire/pir-partner.js';
import type { WebSocketConnector } from '../../net/request-channel.js';
import type { Crypto } from '../../crypto/types.js';
import { bucketOf } from '../../store/mailbox.js';
import { ClientError } from '../errors.js';
import { RequestRefusal } from '../../net/request-channel.js';
import { MailboxFetcher, PROVIDER_EPOCH_NOT_HELD, PROVIDER_TOO_LARGE } from '../mailbox-fetcher.js';
import { PirRetrieval, type PirMismatch } from '../pir-retrieval.js';
import type { StoredItem } from '../../wire/retrieval.js';

/**
 * How a poll reads the mailbox (docs/client.md, "Retrieval"): one interface, three ways, chosen by
 * the consensus's `retrieval`. `pir` asks two providers of different operators with distributed
 * point functions; `bucket` downloads the bucket the address hashes into; `download` the whole epoch.
 * Each way answers every (epoch, address) pair with the stored items it found (others' included: the
 * caller keeps its own).
 */
export type FetchPair = readonly [epoch: number, address: Uint8Array];

export interface FetchResult {
  readonly results: StoredItem[][];
  /** PIR rows that did not verify (nothing of them is read). */
  readonly mismatches: PirMismatch[];
  /** PIR: items of the fetched buckets left for a later snapshot. */
  readonly more: number;
  /** PIR queries sent to each server. */
  readonly queries: number;
  /** PIR: further pages of the fetched buckets left for later polls (beyond this poll's budget). */
  readonly deferred?: number;
  /** PIR: older epochs the provider refused for now (read in a later poll). */
  readonly skipped?: readonly number[];
  /** PIR: the epochs of this poll not read whole yet (a bucket of their pairs not read in the snapshot named, or items on pages not read); one not listed was read whole (PirBacklog.readWhole). */
  readonly unfinished?: readonly number[];
}

export interface MailboxRetrieval {
  readonly mode: ConsensusDocument['retrieval'];
  readonly provider: NodeDescriptor;
  /** PIR: the second server. */
  readonly partner?: NodeDescriptor;
  readonly connected: boolean;
  fetch(pairs: readonly FetchPair[]): Promise<FetchResult>;
  close(): void;
}

const NOTHING = { mismatches: [], more: 0, queries: 0 };

/** An epoch the provider does not hold has nothing for us. */
function emptyIfNotHeld(error: unknown): StoredItem[] {
  if (error instanceof RequestRefusal && error.code === PROVIDER_EPOCH_NOT_HELD) return [];
  throw error;
}

/** The bucket of each address, from the own provider. */
export class BucketRetrieval implements MailboxRetrieval {
  readonly mode = 'bucket';

  constructor(
    private readonly fetcher: MailboxFetcher,
    private readonly buckets: number,
    /** The most buckets a fetch may be split into: each step up shrinks the crowd an address hides in. */
    private readonly maxBuckets: number = buckets,
  ) {}

  get provider(): NodeDescriptor {
    return this.fetcher.node;
  }

  get connected(): boolean {
    return this.fetcher.connected;
  }

  async fetch(pairs: readonly FetchPair[]): Promise<FetchResult> {
    return { results: await Promise.all(pairs.map(([epoch, address]) => this.fetchOne(epoch, address))), ...NOTHING };
  }

  /**
   * A provider that finds the bucket too large for one response is asked again with 16 times the
   * buckets (a sixteenth of the bucket, still holding the address), never beyond `maxBuckets`:
   * there the fetch fails with 'bucket-limit' (a provider could otherwise narrow the bucket down
   * until it names the address).
   */
  private async fetchOne(epoch: number, address: Uint8Array): Promise<StoredItem[]> {
    let buckets = this.buckets;
    for (;;) {
      try {
        return await this.fetcher.fetchBucket(epoch, bucketOf(address, epoch, buckets), buckets);
      } catch (error) {
        if (error instanceof RequestRefusal && error.code === PROVIDER_TOO_LARGE) {
          if (buckets * 16 > this.maxBuckets) {
            throw new ClientError('bucket-limit', `the provider finds the bucket too large at ${buckets} buckets, and splitting further would pass maxBuckets (${this.maxBuckets})`);
          }
          buckets *= 16;
          continue;
        }
        return emptyIfNotHeld(error);
      }
    }
  }

  close(): void {
    this.fetcher.close();
  }
}

/** The whole epoch, once per epoch and poll; every address of an epoch reads the same list. */
export class DownloadRetrieval implements MailboxRetrieval {
  readonly mode = 'download';

  constructor(private readonly fetcher: MailboxFetcher) {}

  get provider(): NodeDescriptor {
    return this.fetcher.node;
  }

  get connected(): boolean {
    return this.fetcher.connected;
  }

  async fetch(pairs: readonly FetchPair[]): Promise<FetchResult> {
    const byEpoch = new Map<number, Promise<StoredItem[]>>();
    for (const [epoch] of pairs) {
      if (!byEpoch.has(epoch)) byEpoch.set(epoch, this.fetcher.fetchEpoch(epoch).catch(emptyIfNotHeld));
    }
    return { results: await Promise.all(pairs.map(([epoch]) => byEpoch.get(epoch)!)), ...NOTHING };
  }

  close(): void {
    this.fetcher.close();
  }
}

/** Two-server PIR with the own provider and its partner (docs/pir.md). */
export class PirMailboxRetrieval implements MailboxRetrieval {
  readonly mode = 'pir';

  constructor(private readonly pir: PirRetrieval) {}

  get provider(): NodeDescriptor {
    return this.pir.provider;
  }

  get partner(): NodeDescriptor {
    return this.pir.partner;
  }

  /** The consensus's fixed PIR sizes this retrieval follows. */
  get pirParameters(): PirParameters {
    return this.pir.pirParameters;
  }

  get connected(): boolean {
    return this.pir.connected;
  }

  fetch(pairs: readonly FetchPair[]): Promise<FetchResult> {
    return this.pir.fetch(pairs);
  }

  close(): void {
    this.pir.close();
  }
}

/** PIR is asked for and the consensus has no second provider: every poll fails with the reason. */
/** PIR is asked for, but no provider of another operator can be the own provider's second server. */
export class NoPirPartnerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoPirPartnerError';
  }
}

class UnavailableRetrieval implements MailboxRetrieval {
  readonly mode = 'pir';
  readonly connected = false;

  constructor(readonly provider: NodeDescriptor, private readonly reason: string) {}

  fetch(): Promise<FetchResult> {
    return Promise.reject(new NoPirPartnerError(this.reason));
  }

  close(): void {}
}

export interface RetrievalOptions {
  readonly crypto: Crypto;
  readonly timeoutMs: number;
  /** Buckets an epoch is split into (bucket mode). */
  readonly buckets: number;
  /** The most buckets a provider's "too large" may push a fetch to (bucket mode). */
  readonly maxBuckets: number;
  /** Largest stored ciphertext accepted. */
  readonly maxCiphertextBytes: number;
  readonly connect?: WebSocketConnector;
}

/** The way `doc` asks for, with the own provider: `current` is kept while it still fits. */
export function retrievalFor(doc: ConsensusDocument, provider: NodeDescriptor, current: MailboxRetrieval | undefined, options: RetrievalOptions): MailboxRetrieval {
  const partner = doc.retrieval === 'pir' ? pirPartner(doc, provider.nodeId) : undefined;
  const samePir = !(current instanceof PirMailboxRetrieval) || (current.pirParameters.rowBytes === doc.pir.rowBytes && current.pirParameters.queriesPerPoll === doc.pir.queriesPerPoll);
  if (current !== undefined && current.mode === doc.retrieval && same(current.provider, provider) && sameOrBoth(current.partner, partner) && samePir) return current;
  current?.close();
  if (doc.retrieval === 'pir') {
    if (partner === undefined) {
      return new UnavailableRetrieval(provider, `PIR retrieval needs a second provider of another operator, and the consensus of epoch ${doc.epoch} has none for ${provider.name} (family ${provider.family}): the two PIR servers must not be of one operator`);
    }
    return new PirMailboxRetrieval(new PirRetrieval({
      crypto: options.crypto, provider, partner, timeoutMs: options.timeoutMs, pir: doc.pir,
      ...(options.connect === undefined ? {} : { connect: options.connect }),
    }));
  }
  const fetcher = new MailboxFetcher(provider, options.timeoutMs, options.maxCiphertextBytes);
  return doc.retrieval === 'download' ? new DownloadRetrieval(fetcher) : new BucketRetrieval(fetcher, options.buckets, options.maxBuckets);
}

function same(a: NodeDescriptor, b: NodeDescriptor): boolean {
  return a.addresses.ws === b.addresses.ws && sameBytes(a.nodeId, b.nodeId);
}

function sameOrBoth(a: NodeDescriptor | undefined, b: NodeDescriptor | undefined): boolean {
  return a === undefined || b === undefined ? a === b : same(a, b);
}
