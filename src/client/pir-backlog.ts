import type { OpenedRow } from '../pir/snapshot.js';

/**
 * What the client has read of each bucket it polls by PIR (docs/pir.md, "The client"): per (epoch,
 * bucket count, bucket), the bucket's page count and the full pages already read. A page's items
 * never change once it is full (items only join the end of a bucket), so a full page is read once;
 * the first page is read at every poll (it says how many pages there are and where they sit), the
 * last page until it is full. The pages not yet read are the backlog that planPirPoll spreads over
 * the polls' budgets.
 */
export interface BacklogPage {
  readonly key: string;
  readonly page: number;
}

interface BucketState {
  readonly epoch: number;
  pages: number;
  total: number;
  /** Full pages read (for good). */
  readonly done: Set<number>;
  /** Items last seen on each page past the first that was not full when read. */
  readonly partial: Map<number, number>;
  /** The snapshot the first page was last read from. */
  snapshot: string;
}

export function bucketKey(epoch: number, buckets: number, bucket: number): string {
  return `${epoch}:${buckets}:${bucket}`;
}

export class PirBacklog {
  private readonly buckets = new Map<string, BucketState>();

  /** Takes a bucket's first page, read from snapshot `snapshot` (its ID in hex): its page count now. */
  sawFirstPage(key: string, epoch: number, row: OpenedRow, snapshot: string): void {
    const state = this.buckets.get(key) ?? { epoch, pages: 1, total: 0, done: new Set<number>(), partial: new Map<number, number>(), snapshot };
    state.pages = row.pages;
    state.total = row.total;
    state.snapshot = snapshot;
    this.buckets.set(key, state);
  }

  /** Takes a further page: read once for good when it is full; a page not full yet counts the items it held. */
  sawPage(key: string, row: OpenedRow, slots: number): void {
    const state = this.buckets.get(key);
    if (state === undefined) return;
    if (row.items.length === slots) {
      state.done.add(row.page);
      state.partial.delete(row.page);
    } else {
      state.partial.set(row.page, row.items.length);
    }
  }

  /** The bucket's pages (past the first) not read yet, lowest first. */
  wanted(key: string): BacklogPage[] {
    const state = this.buckets.get(key);
    if (state === undefined) return [];
    const pages: BacklogPage[] = [];
    for (let page = 1; page < state.pages; page++) if (!state.done.has(page)) pages.push({ key, page });
    return pages;
  }

  /**
   * Items of the tracked buckets not read yet (the first pages are read every poll; a page not full
   * when read counts the items it held then); of one epoch's buckets when given.
   */
  unread(slots: number, epoch?: number): number {
    let unread = 0;
    for (const state of this.buckets.values()) if (epoch === undefined || state.epoch === epoch) unread += unreadOf(state, slots);
    return unread;
  }

  /**
   * Whether every item of the buckets `keys` (of one epoch) in snapshot `snapshot` has been
   * read: each bucket's first page seen in that snapshot (the buckets of an epoch with more of them
   * than its share are read in turn over the polls; one read in an earlier snapshot may have had
   * mail since) and nothing of them left on further pages.
   */
  readWhole(keys: Iterable<string>, slots: number, snapshot: string): boolean {
    for (const key of keys) {
      const state = this.buckets.get(key);
      if (state === undefined || state.snapshot !== snapshot || unreadOf(state, slots) > 0) return false;
    }
    return true;
  }

  /** Forgets the buckets of epochs no longer polled. */
  keepEpochs(epochs: readonly number[]): void {
    for (const [key, state] of this.buckets) if (!epochs.includes(state.epoch)) this.buckets.delete(key);
  }
}

/** A bucket's items not read yet: past its first page, on pages neither read full nor counted as read partly. */
function unreadOf(state: BucketState, slots: number): number {
  let read = slots * (1 + state.done.size);
  for (const count of state.partial.values()) read += count;
  return Math.max(0, state.total - read);
}
