import { RequestChannel } from '../net/request-channel.js';
import type { NodeDescriptor } from '../pki/index.js';
import { RETRIEVAL_ERRORS } from '../wire/retrieval-errors.js';
import { decodeRetrievalResponse, encodeFetchBucket, encodeFetchEpoch, type RetrievalResponse, type StoredItem } from '../wire/retrieval.js';
import { wsTarget } from './routes.js';

/**
 * The own provider's bucket fetches (docs/network.md, "Client protocols") over a request channel:
 * one bucket of an epoch, or the whole epoch (download retrieval). A refusal rejects with
 * RequestRefusal and the provider's code.
 */

/** Error codes of the provider protocol the agent reacts to. */
export const PROVIDER_EPOCH_NOT_HELD = RETRIEVAL_ERRORS['epoch-not-held'];
export const PROVIDER_TOO_LARGE = RETRIEVAL_ERRORS['too-large'];

/** The largest response accepted from the provider. */
const PROVIDER_MAX_MESSAGE = 256 * 1024 * 1024;

export class MailboxFetcher {
  private readonly channel: RequestChannel<RetrievalResponse>;

  constructor(
    readonly node: NodeDescriptor,
    timeoutMs: number,
    maxCiphertextBytes: number,
  ) {
    this.channel = new RequestChannel({
      target: wsTarget(node),
      name: `provider ${node.name}`,
      timeoutMs,
      maxMessageBytes: PROVIDER_MAX_MESSAGE,
      decode: (bytes) => decodeRetrievalResponse(bytes, maxCiphertextBytes),
    });
  }

  get connected(): boolean {
    return this.channel.connected;
  }

  async fetchBucket(epoch: number, bucket: number, buckets: number): Promise<StoredItem[]> {
    return (await this.channel.request((id) => encodeFetchBucket(id, epoch, bucket, buckets))).messages;
  }

  /** The whole epoch (download retrieval). */
  async fetchEpoch(epoch: number): Promise<StoredItem[]> {
    return (await this.channel.request((id) => encodeFetchEpoch(id, epoch))).messages;
  }

  close(): void {
    this.channel.close();
  }
}
