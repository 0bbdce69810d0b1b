import { hexOf } from '../codec/bytes.js';
import type { Crypto } from '../crypto/types.js';
import { RequestChannel, RequestRefusal, type WebSocketConnector } from '../net/request-channel.js';
import type { NodeDescriptor } from '../pki/index.js';
import { pirDecode, pirQuery } from '../pir/index.js';
import { openRow, PirRowError, shapeProblem } from '../pir/snapshot.js';
import { bucketOf } from '../store/mailbox.js';
import { decodePirResponse, encodePirInfo, encodePirQuery, type PirResponse, type PirSnapshotInfo } from '../wire/pir-messages.js';
import { RETRIEVAL_ERRORS } from '../wire/retrieval-errors.js';
import type { StoredItem } from '../wire/retrieval.js';
import { wsTarget } from './routes.js';

/**
 * Mailbox retrieval by two-server PIR (docs/pir.md, "Mailbox retrieval"; docs/network.md): per poll,
 * one pir-info per epoch at the own provider, then for every (epoch, address) pair one DPF query:
 * key 0 to the own provider, key 1 to its partner (the next provider of the consensus in node-ID
 * order), both over the same snapshot id. The XOR of the two answers is the row of the address's
 * bucket; it is accepted only when its Merkle path leads to the snapshot id (src/pir/snapshot.ts), so a
 * wrong answer from either server is detected, reported and never read as mail.
 */
export interface PirRetrievalOptions {
  readonly crypto: Crypto;
  /** The user's provider (server 0, and the builder of the snapshots). */
  readonly provider: NodeDescriptor;
  /** Its partner (server 1). */
  readonly partner: NodeDescriptor;
  readonly timeoutMs: number;
  /** Opens the WebSockets (default connectWebSocket); tests wrap it to tamper with a server's answers. */
  readonly connect?: WebSocketConnector;
  /** Largest row accepted (default 256 MiB). */
  readonly maxRowBytes?: number;
}

/** A decoded row that did not verify: one of the two servers answered wrongly. */
export interface PirMismatch {
  readonly epoch: number;
  /** Hex of the snapshot id. */
  readonly snapshot: string;
  readonly provider: string;
  readonly partner: string;
  readonly reason: string;
}

export interface PirFetchResult {
  /** One list per pair: the verified row's items (every address of the bucket), or [] (epoch not held, or a mismatch). */
  readonly results: StoredItem[][];
  readonly mismatches: PirMismatch[];
  /** Items of the fetched buckets that this snapshot did not carry (overflow: they come in later snapshots). */
  readonly more: number;
  /** Queries sent to each server. */
  readonly queries: number;
}

const DEFAULT_MAX_ROW_BYTES = 256 * 1024 * 1024;

export class PirRetrieval {
  readonly provider: NodeDescriptor;
  readonly partner: NodeDescriptor;
  private readonly channels: [RequestChannel<PirResponse>, RequestChannel<PirResponse>];
  private readonly maxRowBytes: number;

  constructor(private readonly options: PirRetrievalOptions) {
    this.provider = options.provider;
    this.partner = options.partner;
    this.maxRowBytes = options.maxRowBytes ?? DEFAULT_MAX_ROW_BYTES;
    const channel = (node: NodeDescriptor, role: string): RequestChannel<PirResponse> =>
      new RequestChannel({
        target: wsTarget(node),
        name: `${role} ${node.name}`,
        timeoutMs: options.timeoutMs,
        maxMessageBytes: this.maxRowBytes + 64,
        decode: decodePirResponse,
        ...(options.connect === undefined ? {} : { connect: options.connect }),
      });
    this.channels = [channel(options.provider, 'provider'), channel(options.partner, 'PIR partner')];
  }

  /** True when this object serves exactly these two servers (at these addresses, with these link keys). */
  serves(provider: NodeDescriptor, partner: NodeDescriptor): boolean {
    const same = (a: NodeDescriptor, b: NodeDescriptor): boolean =>
      hexOf(a.nodeId) === hexOf(b.nodeId) && a.addresses.ws === b.addresses.ws && hexOf(a.linkPublicKey) === hexOf(b.linkPublicKey);
    return same(provider, this.provider) && same(partner, this.partner);
  }

  get connected(): boolean {
    return this.channels[0].connected && this.channels[1].connected;
  }

  /** The snapshot to query for `epoch`, or undefined when the provider does not hold the epoch. */
  private async info(epoch: number): Promise<PirSnapshotInfo | undefined> {
    let response;
    try {
      response = await this.channels[0].request((id) => encodePirInfo(id, epoch));
    } catch (error) {
      if (error instanceof RequestRefusal && error.code === RETRIEVAL_ERRORS['epoch-not-held']) return undefined;
      throw error;
    }
    if (response.type !== 'pir-info') throw new Error(`provider ${this.provider.name} answered pir-info with ${response.type}`);
    const { info } = response;
    const problem = info.epoch !== epoch ? 'it is for another epoch' : shapeProblem(info);
    if (problem !== undefined) throw new Error(`provider ${this.provider.name} announced an unusable snapshot: ${problem}`);
    if (info.rowBytes > this.maxRowBytes) throw new Error(`provider ${this.provider.name} announced rows of ${info.rowBytes} bytes (more than ${this.maxRowBytes})`);
    return info;
  }

  /**
   * One query per pair (the same count every poll). Network failures and refusals reject; a row
   * that does not verify is a mismatch (its pair gets no items) and the others are still returned.
   */
  async fetch(pairs: readonly (readonly [number, Uint8Array])[]): Promise<PirFetchResult> {
    const epochs = [...new Set(pairs.map(([epoch]) => epoch))];
    const infos = new Map<number, PirSnapshotInfo | undefined>();
    await Promise.all(epochs.map(async (epoch) => infos.set(epoch, await this.info(epoch))));
    const { crypto } = this.options;
    // The DPF seeds are the client's only secret in a query: always from the operating system.
    const random = (length: number): Uint8Array => crypto.randomBytes(length);
    const mismatches: PirMismatch[] = [];
    let more = 0;
    let queries = 0;
    const results = await Promise.all(
      pairs.map(async ([epoch, address]): Promise<StoredItem[]> => {
        const info = infos.get(epoch);
        if (info === undefined) return [];
        const index = bucketOf(address, epoch, info.rows);
        const { keys } = pirQuery(crypto, random, index, info.rows);
        queries++;
        const answers = await Promise.all(
          this.channels.map(async (channel, b) => {
            const response = await channel.request((id) => encodePirQuery(id, info.snapshotId, keys[b]));
            if (response.type !== 'pir-answer') throw new Error(`${b === 0 ? 'provider' : 'partner'} answered pir-query with ${response.type}`);
            return response.answer;
          }),
        );
        const mismatch = (reason: string): StoredItem[] => {
          mismatches.push({ epoch, snapshot: hexOf(info.snapshotId), provider: this.provider.name, partner: this.partner.name, reason });
          return [];
        };
        if (answers[0].length !== info.rowBytes || answers[1].length !== info.rowBytes) {
          return mismatch(`answers of ${answers[0].length} and ${answers[1].length} bytes for rows of ${info.rowBytes}`);
        }
        try {
          const row = openRow(crypto, this.provider.nodeId, info, index, pirDecode(answers[0], answers[1]));
          more += row.total - row.items.length;
          return row.items;
        } catch (error) {
          if (error instanceof PirRowError) return mismatch(error.message);
          throw error;
        }
      }),
    );
    return { results, mismatches, more, queries };
  }

  close(): void {
    for (const channel of this.channels) channel.close();
  }
}
