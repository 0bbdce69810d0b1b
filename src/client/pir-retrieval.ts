import { hexOf } from '../codec/bytes.js';
import type { Crypto } from '../crypto/types.js';
import { RequestChannel, RequestRefusal, type WebSocketConnector } from '../net/request-channel.js';
import type { NodeDescriptor } from '../pki/index.js';
import { pirDecode, pirQuery } from '../pir/index.js';
import { rowOfPage } from '../pir/snapshot-pages.js';
import { openRow, PirRowError, shapeProblem, type OpenedRow } from '../pir/snapshot.js';
import type { PirParameters } from '../pki/params.js';
import { chooseFirstPages, planPirPoll } from '../traffic/poll-schedule.js';
import { bucketKey, PirBacklog, type BacklogPage } from './pir-backlog.js';
import { bucketOf } from '../store/mailbox.js';
import { decodePirResponse, encodePirInfo, encodePirQuery, type PirResponse, type PirSnapshotInfo } from '../wire/pir-messages.js';
import { RETRIEVAL_ERRORS } from '../wire/retrieval-errors.js';
import type { StoredItem } from '../wire/retrieval.js';
import { wsTarget } from './routes.js';

/**
 * Mailbox retrieval by two-server PIR (docs/pir.md, "Mailbox retrieval"; docs/network.md): per poll,
 * one pir-info per epoch at the own provider (three from epoch 2 on: paddingEpochs), then the consensus's fixed budget of DPF queries (the
 * first pages of the pairs' buckets, further pages, dummies): key 0 to the own provider, key 1 to
 * its partner (the next provider of the consensus in node-ID order), both over the same snapshot id. The XOR of the two answers is the row of the address's
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
  /** The consensus's fixed PIR sizes: every row is pir.rowBytes, every poll sends pir.queriesPerPoll queries to each server. */
  readonly pir: PirParameters;
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
  /** Backlog pages left for later polls (beyond this poll's budget, or not in this snapshot). */
  readonly deferred?: number;
  /** Older epochs whose pir-info was refused for now (read in a later poll). */
  readonly skipped?: readonly number[];
  /** PIR: the epochs of this poll not read whole yet (a bucket of their pairs not read in the snapshot named, or items on pages not read); one not listed was read whole (PirBacklog.readWhole). */
  readonly unfinished?: readonly number[];
}

/** One PIR query of a poll: the row, and for a real page which bucket and pairs it serves ('' key: a dummy). */
interface Query {
  readonly epoch: number;
  readonly info: PirSnapshotInfo;
  readonly row: number;
  readonly key: string;
  readonly page?: number;
  readonly pairs: readonly number[];
}

/**
 * pir-info requests of every poll from epoch 2 on: the current, the previous and the history epoch
 * (docs/client.md, "Catch-up").
 */
export const PIR_INFOS_PER_POLL = 3;

/**
 * The epochs a poll also asks pir-info for, so that it asks PIR_INFOS_PER_POLL in all: when its
 * pairs name fewer (the history epoch is the previous one, read for its mail under the addresses of
 * the epoch before), the epochs below the oldest it names, as a cover poll would ask. Without them
 * such a poll would be one request short on the provider link, and tell itself apart.
 */
export function paddingEpochs(epochs: readonly number[]): number[] {
  const padding: number[] = [];
  for (let epoch = Math.min(...epochs) - 1; epochs.length + padding.length < PIR_INFOS_PER_POLL && epoch >= 0; epoch--) padding.push(epoch);
  return padding;
}

export class PirRetrieval {
  readonly provider: NodeDescriptor;
  readonly partner: NodeDescriptor;
  private readonly channels: [RequestChannel<PirResponse>, RequestChannel<PirResponse>];
  private readonly backlog = new PirBacklog();
  /** Per polled epoch: where the rotation over its first pages stands (chooseFirstPages). */
  private readonly cursors = new Map<number, number>();

  constructor(private readonly options: PirRetrievalOptions) {
    this.provider = options.provider;
    this.partner = options.partner;
    const channel = (node: NodeDescriptor, role: string): RequestChannel<PirResponse> =>
      new RequestChannel({
        target: wsTarget(node),
        name: `${role} ${node.name}`,
        timeoutMs: options.timeoutMs,
        maxMessageBytes: options.pir.rowBytes + 64,
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

  get pirParameters(): PirParameters {
    return this.options.pir;
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
    // Rows have the consensus's size whatever is stored: a provider cannot grow (or shrink) the answers.
    if (info.rowBytes !== this.options.pir.rowBytes) throw new Error(`provider ${this.provider.name} announced rows of ${info.rowBytes} bytes, not the consensus's ${this.options.pir.rowBytes}`);
    return info;
  }

  /**
   * One poll: always the budget (the consensus's pir.queriesPerPoll) of queries to each server, in
   * two rounds of fixed sizes: first pages (chooseFirstPages: per epoch a fixed share, one query per
   * distinct bucket of the pairs, in turn when they are more), then the further pages not read yet
   * (planPirPoll), the rest dummy queries. Network failures and refusals reject; a row that does not
   * verify is a mismatch (its pages give no items) and the others are still returned. A pair whose
   * bucket is not read in this poll gets [] (it is read in a later one).
   */
  async fetch(pairs: readonly (readonly [number, Uint8Array])[]): Promise<PirFetchResult> {
    const epochs = [...new Set(pairs.map(([epoch]) => epoch))];
    const infos = new Map<number, PirSnapshotInfo | undefined>();
    const newest = Math.max(...epochs);
    const skipped: number[] = [];
    const asked = epochs.map(async (epoch) => {
      try {
        infos.set(epoch, await this.info(epoch));
      } catch (error) {
        // An older (catch-up) epoch the provider cannot serve now is read in a later poll; the current two must be.
        if (epoch >= newest - 1 || !(error instanceof RequestRefusal)) throw error;
        infos.set(epoch, undefined);
        skipped.push(epoch);
      }
    });
    // Padding: asked, never used (a failure of its own fails nothing; the others' do).
    const padded = paddingEpochs(epochs).map((epoch) => this.info(epoch).catch(() => undefined));
    await Promise.all([...asked, ...padded]);
    this.backlog.keepEpochs(epochs);
    for (const epoch of this.cursors.keys()) if (!epochs.includes(epoch)) this.cursors.delete(epoch);
    const mismatches: PirMismatch[] = [];
    const results: StoredItem[][] = pairs.map(() => []);
    const held = epochs.filter((epoch) => infos.get(epoch) !== undefined);
    const budget = this.options.pir.queriesPerPoll;
    // Round one: a fixed number of first pages per epoch, in turn when the pairs' buckets are more.
    const groups = held.map((epoch) => bucketsOf(pairs, epoch, infos.get(epoch)!));
    const firsts = this.firstPages(groups, budget);
    const runs = new Map<string, { info: PirSnapshotInfo; opened: OpenedRow }>();
    for (const { query, opened } of await this.ask(firsts, mismatches)) {
      if (opened === undefined || query.key === '') continue;
      if (opened.page !== 0 || opened.bucket !== query.row) {
        mismatches.push(this.mismatch(query, 'the row is not the bucket\'s first page'));
        continue;
      }
      this.backlog.sawFirstPage(query.key, query.epoch, opened, hexOf(query.info.snapshotId));
      runs.set(query.key, { info: query.info, opened });
      for (const i of query.pairs) results[i].push(...opened.items);
    }
    // Round two: the rest of the budget, backlog pages this snapshot carries, then dummies, within each epoch's share.
    const shares = held.map((epoch) => firsts.filter((q) => q.epoch === epoch).length);
    const plan = planPirPoll(budget, held.map((epoch, g) => ({ firstPages: shares[g], backlog: this.backlogOf(epoch, runs) })));
    const seconds: Query[] = [];
    held.forEach((epoch, g) => {
      const info = infos.get(epoch)!;
      for (const want of plan.groups[g].pages) {
        const pairIndexes = firsts.filter((q) => q.key === want.key).flatMap((q) => q.pairs);
        seconds.push({ epoch, info, row: want.row, key: want.key, page: want.page, pairs: pairIndexes });
      }
      for (let d = 0; d < plan.groups[g].dummies; d++) seconds.push(this.dummy(epoch, info));
    });
    for (const { query, opened } of await this.ask(seconds, mismatches)) {
      if (opened === undefined || query.page === undefined) continue; // a dummy's answer is not read
      if (opened.page !== query.page || opened.bucket !== Number(query.key.split(':')[2])) {
        mismatches.push(this.mismatch(query, 'the row is not the page asked for'));
        continue;
      }
      this.backlog.sawPage(query.key, opened, query.info.slots);
      for (const i of query.pairs) results[i].push(...opened.items);
    }
    const slots = held.length > 0 ? infos.get(held[0])!.slots : 1;
    // Unfinished: a bucket of the epoch's pairs not read in this snapshot yet (more buckets than its share) or items of it on pages not read (deferred, or not in this snapshot).
    const unfinished = groups
      .filter(({ info, keys }) => !this.backlog.readWhole(keys.map(([key]) => key), info.slots, hexOf(info.snapshotId)))
      .map(({ epoch }) => epoch);
    return { results, mismatches, more: this.backlog.unread(slots), queries: firsts.length + seconds.length, deferred: plan.deferred, skipped, unfinished };
  }

  /**
   * The first round's queries: per held epoch, its fixed share of firstRoundQueries(budget)
   * (chooseFirstPages), one query per distinct bucket of the epoch's pairs (buckets with unread
   * pages first, the others in turn over the polls when they are more than the share), the rest dummies.
   */
  private firstPages(groups: readonly EpochBuckets[], budget: number): Query[] {
    const choices = chooseFirstPages(budget, groups.map(({ epoch, keys }) => ({
      count: keys.length,
      urgent: keys.flatMap(([key], i) => (this.backlog.wanted(key).length > 0 ? [i] : [])),
      cursor: this.cursors.get(epoch) ?? 0,
    })));
    const queries: Query[] = [];
    groups.forEach(({ epoch, info, keys }, g) => {
      const choice = choices[g];
      this.cursors.set(epoch, choice.cursor);
      for (const i of choice.pick) {
        const [key, { bucket, pairs: pairIndexes }] = keys[i];
        queries.push({ epoch, info, row: bucket, key, pairs: pairIndexes });
      }
      for (let d = 0; d < choice.dummies; d++) queries.push(this.dummy(epoch, info));
    });
    return queries;
  }

  private dummy(epoch: number, info: PirSnapshotInfo): Query {
    return { epoch, info, row: this.randomRow(info.rows), key: '', pairs: [] };
  }

  /** The backlog pages of `epoch` that this poll's snapshot carries, with their rows, oldest first. */
  private backlogOf(epoch: number, runs: Map<string, { info: PirSnapshotInfo; opened: OpenedRow }>): (BacklogPage & { row: number })[] {
    const wanted: (BacklogPage & { row: number })[] = [];
    for (const [key, { info, opened }] of runs) {
      if (info.epoch !== epoch) continue;
      for (const want of this.backlog.wanted(key)) {
        const row = rowOfPage(opened.extra, opened.pages, want.page);
        if (row !== undefined) wanted.push({ ...want, row });
      }
    }
    return wanted.sort((a, b) => a.page - b.page);
  }

  /** Sends the queries (key 0 to the own provider, key 1 to the partner) and opens what verifies. */
  private async ask(queries: readonly Query[], mismatches: PirMismatch[]): Promise<{ query: Query; opened?: OpenedRow }[]> {
    const { crypto } = this.options;
    // The DPF seeds are the client's only secret in a query: always from the operating system.
    const random = (length: number): Uint8Array => crypto.randomBytes(length);
    return Promise.all(
      queries.map(async (query) => {
        const { info } = query;
        const { keys } = pirQuery(crypto, random, query.row, info.rows);
        const answers = await Promise.all(
          this.channels.map(async (channel, b) => {
            const response = await channel.request((id) => encodePirQuery(id, info.snapshotId, keys[b]));
            if (response.type !== 'pir-answer') throw new Error(`${b === 0 ? 'provider' : 'partner'} answered pir-query with ${response.type}`);
            return response.answer;
          }),
        );
        if (answers[0].length !== info.rowBytes || answers[1].length !== info.rowBytes) {
          if (query.key !== '') mismatches.push(this.mismatch(query, `answers of ${answers[0].length} and ${answers[1].length} bytes for rows of ${info.rowBytes}`));
          return { query };
        }
        if (query.key === '') return { query };
        try {
          return { query, opened: openRow(crypto, this.provider.nodeId, info, query.row, pirDecode(answers[0], answers[1])) };
        } catch (error) {
          if (!(error instanceof PirRowError)) throw error;
          mismatches.push(this.mismatch(query, error.message));
          return { query };
        }
      }),
    );
  }

  private mismatch(query: Query, reason: string): PirMismatch {
    return { epoch: query.epoch, snapshot: hexOf(query.info.snapshotId), provider: this.provider.name, partner: this.partner.name, reason };
  }

  /** A uniformly random row for a dummy query. */
  private randomRow(rows: number): number {
    const bytes = this.options.crypto.randomBytes(6);
    let value = 0;
    for (const byte of bytes) value = value * 256 + byte;
    return value % rows;
  }

  close(): void {
    for (const channel of this.channels) channel.close();
  }
}

/** The distinct buckets of one held epoch's pairs in its snapshot: each bucket's key, row and the indexes of its pairs. */
interface EpochBuckets {
  readonly epoch: number;
  readonly info: PirSnapshotInfo;
  readonly keys: [string, { bucket: number; pairs: number[] }][];
}

function bucketsOf(pairs: readonly (readonly [number, Uint8Array])[], epoch: number, info: PirSnapshotInfo): EpochBuckets {
  const byKey = new Map<string, { bucket: number; pairs: number[] }>();
  pairs.forEach(([e, address], i) => {
    if (e !== epoch) return;
    const bucket = bucketOf(address, epoch, info.buckets);
    const key = bucketKey(epoch, info.buckets, bucket);
    const entry = byKey.get(key) ?? { bucket, pairs: [] };
    entry.pairs.push(i);
    byKey.set(key, entry);
  });
  return { epoch, info, keys: [...byKey.entries()] };
}
