/**
 * How a PIR snapshot cuts an epoch's mailboxes into fixed-size pages (docs/pir.md, "Snapshot
 * layout"). Every row is one page of `rowBytes` bytes, a size the consensus fixes: what is stored
 * changes the number of rows, never their size, so a hot bucket (one address receiving a large mail
 * or a flood) adds rows of its own and grows neither the other rows nor any answer.
 *
 * - The epoch's items go to `buckets` buckets (a power of two; bucket = bucketOf(address, epoch,
 *   buckets)), each in storage order.
 * - Page p of a bucket holds its items p·slots … (p+1)·slots − 1; `slots` (per page) follows from
 *   rowBytes and the slot size alone, so an item's page never changes while the epoch grows.
 * - Rows 0 … buckets − 1 are the buckets' first pages (page 0, possibly empty). The further pages
 *   ("extra pages") follow, bucket by bucket, each bucket's in one contiguous run; page 0 names the
 *   run (its first row, its first page number, its length).
 * - When the rows would pass the snapshot's row limit, every bucket keeps at most `cap` extra pages
 *   (the largest cap that fits, water-filling), and a bucket with more shows the window of `cap`
 *   pages that turns with the snapshot's sequence number: page numbers 1 + ((first − 1 + i) mod
 *   (pages − 1)). Nothing is dropped: every page appears in one of ⌈(pages − 1) / cap⌉ consecutive
 *   snapshots while the bucket does not change.
 * Pure: no I/O, no clock, no randomness.
 */

/** Fewest buckets a snapshot has (16, the default bucket count of bucket retrieval). */
export const MIN_PIR_BUCKETS = 16;
/** Most rows (and buckets) a snapshot has. */
export const MAX_PIR_ROWS = 1 << 20;
/** Depth of the Merkle tree over the most rows; every row reserves room for a path this deep. */
export const MAX_PIR_DEPTH = 20;
export const HASH_BYTES = 32;
/** The path field at the end of every row (levels past the tree's depth are zero). */
export const PATH_BYTES = MAX_PIR_DEPTH * HASH_BYTES;
export const ROW_HEADER_BYTES = 32;
export const SLOT_HEADER_BYTES = 36;
/** Target mean of distinct addresses per bucket, as a fraction of the slots of a page. */
const ADDRESSES_PER_SLOT = 0.5;

/** The slots of one page for rows of `rowBytes` bytes and slots of `slotBytes` (0 when none fits). */
export function slotsPerPage(rowBytes: number, slotBytes: number): number {
  if (!Number.isInteger(rowBytes) || !Number.isInteger(slotBytes) || slotBytes <= 0) return 0;
  return Math.max(0, Math.floor((rowBytes - ROW_HEADER_BYTES - PATH_BYTES) / slotBytes));
}

/** Pages a bucket of `total` items has (at least its first page). */
export function pagesOf(total: number, slots: number): number {
  return Math.max(1, Math.ceil(total / slots));
}

/**
 * The bucket count for `addresses` distinct addresses: the smallest power of two in
 * MIN_PIR_BUCKETS … maxBuckets giving at most half a page's slots of addresses per bucket on average.
 * It depends on the addresses, not on the items: one address receiving many items adds pages, it
 * does not move every other address to another bucket.
 */
export function chooseBuckets(addresses: number, slots: number, maxBuckets: number): number {
  const wanted = Math.ceil(addresses / Math.max(1, slots * ADDRESSES_PER_SLOT));
  let buckets = MIN_PIR_BUCKETS;
  while (buckets < wanted && buckets * 2 <= maxBuckets) buckets *= 2;
  return buckets;
}

/** Where one bucket's extra pages sit in a snapshot (all zero when it has none there). */
export interface ExtraRun {
  /** Row of the run's first page. */
  readonly row: number;
  /** Page number of the run's first page (1 … pages − 1). */
  readonly first: number;
  /** Pages in the run. */
  readonly count: number;
}

export const NO_EXTRA: ExtraRun = Object.freeze({ row: 0, first: 0, count: 0 });

export interface PageLayout {
  readonly rows: number;
  /** Per bucket: its run of extra pages. */
  readonly runs: readonly ExtraRun[];
  /** Pages of the buckets that no row carries in this snapshot (over the row limit). */
  readonly omittedPages: number;
}

/**
 * The rows of a snapshot whose buckets hold `totals` items: first pages, then each bucket's run of
 * extra pages, within `maxRows` (see the file comment).
 */
export function layoutPages(totals: readonly number[], slots: number, maxRows: number, sequence: number): PageLayout {
  const buckets = totals.length;
  if (buckets > maxRows) throw new RangeError('more buckets than rows');
  const extras = totals.map((total) => pagesOf(total, slots) - 1);
  const cap = extraCap(extras, maxRows - buckets);
  const runs: ExtraRun[] = [];
  let row = buckets;
  let omittedPages = 0;
  for (const extra of extras) {
    const count = Math.min(extra, cap);
    if (count === 0) {
      runs.push(NO_EXTRA);
      omittedPages += extra;
      continue;
    }
    const first = count < extra ? 1 + ((sequence * count) % extra) : 1;
    runs.push({ row, first, count });
    row += count;
    omittedPages += extra - count;
  }
  return { rows: row, runs, omittedPages };
}

/** The largest per-bucket count of extra pages whose sum fits in `room` (Infinity when all fit). */
function extraCap(extras: readonly number[], room: number): number {
  let sum = 0;
  for (const extra of extras) sum += extra;
  if (sum <= room) return Infinity;
  let low = 0;
  let high = Math.max(...extras);
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    let used = 0;
    for (const extra of extras) used += Math.min(extra, mid);
    if (used <= room) low = mid;
    else high = mid - 1;
  }
  return low;
}

/** The page number of the run's i-th row, for a bucket of `pages` pages. */
export function runPage(run: ExtraRun, pages: number, i: number): number {
  return 1 + ((run.first - 1 + i) % (pages - 1));
}

/** The row that carries page `page` (≥ 1) of a bucket of `pages` pages in this run, or undefined. */
export function rowOfPage(run: ExtraRun, pages: number, page: number): number | undefined {
  if (run.count === 0 || page < 1 || page >= pages) return undefined;
  const i = (((page - run.first) % (pages - 1)) + (pages - 1)) % (pages - 1);
  return i < run.count ? run.row + i : undefined;
}
