/**
 * The PIR database of one provider's epoch (docs/pir.md, "Snapshot layout"): the epoch's stored
 * ciphertexts cut into pages of a fixed `rowBytes` (the consensus's pir.rowBytes), one page per
 * row (snapshot-pages.ts says which page sits where), each row closed by its Merkle authentication
 * path so that a client can check the row it decoded against the snapshot id (the Merkle root)
 * without revealing which row it asked for. Pure: no I/O, no clock; the hashing goes through the
 * Crypto interface. Providers build and verify snapshots with it, clients open rows with it.
 *
 * Row r, format version 2 (every field u32 big-endian unless said):
 *
 *   0    version (u8, 2) ‖ 3 zero bytes
 *   4    bucket            8  page             12  total: items of the bucket in the epoch
 *   16   used: items on this page
 *   20   extra row ‖ 24 extra first page ‖ 28 extra count: page 0 only, the bucket's run of extra pages (else 0)
 *   32   slots × (address (32) ‖ length (u32) ‖ stored ciphertext, zero-padded to slotBytes − 36)
 *   …    zero up to rowBytes − PATH_BYTES
 *   rowBytes − 640   the Merkle path: depth sibling hashes (32 each, the leaf's sibling first), then zero
 *
 * leaf(r) = BLAKE2b-256(LEAF_LABEL ‖ origin (32) ‖ epoch (u64) ‖ rows ‖ buckets ‖ slotBytes ‖ rowBytes ‖ r ‖ bytes 0 … rowBytes − 640 of row r)
 * node    = BLAKE2b-256(NODE_LABEL ‖ left ‖ right); the tree has 2^depth leaves, depth = ⌈log2 rows⌉,
 * the leaves past the last row are 32 zero bytes; snapshot id = the root.
 */
import { hexOf } from '../codec/bytes.js';
import type { Crypto } from '../crypto/types.js';
import { PIR_ROW_BYTES_MAX, PIR_ROW_BYTES_MIN } from '../pki/params.js';
import { bucketHash } from '../store/mailbox.js';
import {
  HASH_BYTES,
  layoutPages,
  MAX_PIR_ROWS,
  MIN_PIR_BUCKETS,
  NO_EXTRA,
  PATH_BYTES,
  ROW_HEADER_BYTES,
  SLOT_HEADER_BYTES,
  chooseBuckets,
  pagesOf,
  runPage,
  slotsPerPage,
  type ExtraRun,
} from './snapshot-pages.js';

export { HASH_BYTES, MAX_PIR_ROWS, MIN_PIR_BUCKETS, PATH_BYTES, ROW_HEADER_BYTES, SLOT_HEADER_BYTES, slotsPerPage } from './snapshot-pages.js';

/** What names a snapshot's layout. */
export interface SnapshotShape {
  readonly epoch: number;
  /** Rows in the database (the DPF domain): buckets + extra pages. */
  readonly rows: number;
  /** Buckets (a power of two): bucket = bucketOf(address, epoch, buckets); row b is bucket b's first page. */
  readonly buckets: number;
  /** Slots per page: slotsPerPage(rowBytes, slotBytes). */
  readonly slots: number;
  readonly slotBytes: number;
  /** Bytes of every row (the consensus's pir.rowBytes). */
  readonly rowBytes: number;
}

/** What pir-info answers: the snapshot to query for that epoch. */
export interface PirSnapshotInfo extends SnapshotShape {
  readonly snapshotId: Uint8Array;
}

export const ROW_VERSION = 2;
const ADDRESS_BYTES = 32;
/** Largest slot: a 1 MiB stored ciphertext. */
export const MAX_SLOT_BYTES = SLOT_HEADER_BYTES + (1 << 20);

export const PIR_LEAF_LABEL = new TextEncoder().encode('umbra/pir-leaf/v2');
export const PIR_NODE_LABEL = new TextEncoder().encode('umbra/pir-node/v1');

export interface SnapshotItem {
  readonly address: Uint8Array;
  readonly ciphertext: Uint8Array;
}

export interface Snapshot extends PirSnapshotInfo {
  /** The provider that built it (its node ID is hashed into every leaf). */
  readonly origin: Uint8Array;
  /** rows × rowBytes bytes, row r at r · rowBytes. */
  readonly data: Uint8Array;
  /** Items on a page of this snapshot. */
  readonly placed: number;
  /** Items on pages left for later snapshots (over the row limit). */
  readonly omitted: number;
  /** Items larger than a slot (impossible with the provider's own geometry; counted, not placed). */
  readonly oversized: number;
}

export interface BuildSnapshotOptions {
  readonly crypto: Crypto;
  readonly origin: Uint8Array;
  readonly epoch: number;
  /** The epoch's stored ciphertexts in storage order (the store's ids ascending). */
  readonly items: readonly SnapshotItem[];
  /** Largest stored ciphertext a slot holds: slotBytes = 36 + capacity. */
  readonly capacity: number;
  /** Bytes of every row (the consensus's pir.rowBytes). */
  readonly rowBytes: number;
  /** The number of this snapshot among the epoch's (0, 1, …): turns the window of a bucket over the row limit. */
  readonly sequence: number;
  /** Most rows (default MAX_PIR_ROWS). */
  readonly maxRows?: number;
}

/** A decoded row that did not check out: the answer was wrong (docs/pir.md, "Integrity"). */
export class PirRowError extends Error {
  constructor(
    readonly code: 'bad-length' | 'bad-proof' | 'bad-format',
    message: string,
  ) {
    super(`pir row: ${message}`);
    this.name = 'PirRowError';
  }
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0 && n <= 2 ** 30;
}

/** Depth of the tree over `rows` rows: ⌈log2 rows⌉. */
export function depthOf(rows: number): number {
  let depth = 0;
  while (2 ** depth < rows) depth++;
  return depth;
}

export function slotBytesFor(capacity: number): number {
  return SLOT_HEADER_BYTES + capacity;
}

/** What is wrong with a snapshot's shape, or undefined (bounds every party checks). */
export function shapeProblem(shape: SnapshotShape): string | undefined {
  if (!Number.isInteger(shape.rowBytes) || shape.rowBytes < PIR_ROW_BYTES_MIN || shape.rowBytes > PIR_ROW_BYTES_MAX) return 'rowBytes out of range';
  if (!Number.isInteger(shape.slotBytes) || shape.slotBytes <= SLOT_HEADER_BYTES || shape.slotBytes > MAX_SLOT_BYTES) return 'slotBytes out of range';
  if (shape.slots < 1 || shape.slots !== slotsPerPage(shape.rowBytes, shape.slotBytes)) return 'slots is not what a row of rowBytes holds';
  if (!isPowerOfTwo(shape.buckets) || shape.buckets < MIN_PIR_BUCKETS || shape.buckets > MAX_PIR_ROWS) return `buckets must be a power of two in ${MIN_PIR_BUCKETS}..${MAX_PIR_ROWS}`;
  if (!Number.isInteger(shape.rows) || shape.rows < shape.buckets || shape.rows > MAX_PIR_ROWS) return `rows must be in buckets..${MAX_PIR_ROWS}`;
  return undefined;
}

function contentBytesOf(rowBytes: number): number {
  return rowBytes - PATH_BYTES;
}

/** The leaf hash of row `index`: binds the origin, the shape and the row's position to its content. */
export function leafHash(crypto: Crypto, origin: Uint8Array, shape: SnapshotShape, index: number, content: Uint8Array): Uint8Array {
  // LEAF_LABEL ‖ origin (32) ‖ epoch (u64) ‖ rows ‖ buckets ‖ slotBytes ‖ rowBytes ‖ index (u32 each) ‖ content
  const header = PIR_LEAF_LABEL.length + 32 + 8 + 20;
  const input = new Uint8Array(header + content.length);
  const v = new DataView(input.buffer);
  let at = 0;
  input.set(PIR_LEAF_LABEL, at);
  at += PIR_LEAF_LABEL.length;
  input.set(origin, at);
  at += 32;
  v.setBigUint64(at, BigInt(shape.epoch));
  v.setUint32(at + 8, shape.rows);
  v.setUint32(at + 12, shape.buckets);
  v.setUint32(at + 16, shape.slotBytes);
  v.setUint32(at + 20, shape.rowBytes);
  v.setUint32(at + 24, index);
  input.set(content, header);
  return crypto.blake2b(32, input);
}

export function nodeHash(crypto: Crypto, left: Uint8Array, right: Uint8Array): Uint8Array {
  const input = new Uint8Array(PIR_NODE_LABEL.length + 2 * HASH_BYTES);
  input.set(PIR_NODE_LABEL, 0);
  input.set(left, PIR_NODE_LABEL.length);
  input.set(right, PIR_NODE_LABEL.length + HASH_BYTES);
  return crypto.blake2b(32, input);
}

const EMPTY_LEAF = new Uint8Array(HASH_BYTES);

/** Every level of the tree over `leaves`, padded with zero leaves to a power of two: levels[0] = leaves, last = [root]. */
function merkleLevels(crypto: Crypto, leaves: Uint8Array[]): Uint8Array[][] {
  const width = 2 ** depthOf(leaves.length);
  const padded = leaves.slice();
  while (padded.length < width) padded.push(EMPTY_LEAF);
  const levels = [padded];
  while (levels[levels.length - 1].length > 1) {
    const below = levels[levels.length - 1];
    const level: Uint8Array[] = [];
    for (let i = 0; i < below.length; i += 2) level.push(nodeHash(crypto, below[i], below[i + 1]));
    levels.push(level);
  }
  return levels;
}

function writePaths(data: Uint8Array, rows: number, rowBytes: number, levels: Uint8Array[][]): void {
  const depth = levels.length - 1;
  const start = contentBytesOf(rowBytes);
  for (let r = 0; r < rows; r++) {
    for (let level = 0, index = r; level < depth; level++, index >>= 1) {
      data.set(levels[level][index ^ 1], r * rowBytes + start + level * HASH_BYTES);
    }
  }
}

/** Writes one page's header and items at `base`. */
function writePage(data: Uint8Array, base: number, bucket: number, page: number, items: readonly SnapshotItem[], slots: number, slotBytes: number, run: ExtraRun): number {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const from = page * slots;
  const used = Math.max(0, Math.min(slots, items.length - from));
  data[base] = ROW_VERSION;
  view.setUint32(base + 4, bucket);
  view.setUint32(base + 8, page);
  view.setUint32(base + 12, items.length);
  view.setUint32(base + 16, used);
  if (page === 0) {
    view.setUint32(base + 20, run.row);
    view.setUint32(base + 24, run.first);
    view.setUint32(base + 28, run.count);
  }
  for (let j = 0; j < used; j++) {
    const item = items[from + j];
    const at = base + ROW_HEADER_BYTES + j * slotBytes;
    data.set(item.address, at);
    view.setUint32(at + ADDRESS_BYTES, item.ciphertext.length);
    data.set(item.ciphertext, at + SLOT_HEADER_BYTES);
  }
  return used;
}

/** The most items any bucket of a snapshot of `items` holds (what format 1 sized every row to). */
export function fullestBucket(items: readonly SnapshotItem[], epoch: number, capacity: number, rowBytes: number, maxRows = MAX_PIR_ROWS): number {
  const addresses = new Set(items.map((item) => hexOf(item.address)));
  const buckets = chooseBuckets(addresses.size, Math.max(1, slotsPerPage(rowBytes, slotBytesFor(capacity))), maxRows);
  const loads = new Uint32Array(buckets);
  let fullest = 0;
  for (const item of items) fullest = Math.max(fullest, ++loads[bucketHash(item.address, epoch) % buckets]);
  return fullest;
}

/** Lays out an epoch's items (see the file comment) and computes the tree, the paths and the id. */
export function buildSnapshot(options: BuildSnapshotOptions): Snapshot {
  const { crypto, origin, epoch, items, capacity, sequence, rowBytes } = options;
  if (!(origin instanceof Uint8Array) || origin.length !== 32) throw new RangeError('origin must be a 32-byte node ID');
  if (!Number.isSafeInteger(sequence) || sequence < 0) throw new RangeError('sequence must be a non-negative integer');
  const slotBytes = slotBytesFor(capacity);
  const slots = slotsPerPage(rowBytes, slotBytes);
  if (slots < 1 || rowBytes > PIR_ROW_BYTES_MAX || rowBytes < PIR_ROW_BYTES_MIN) throw new RangeError(`rows of ${rowBytes} bytes do not hold a slot of ${slotBytes}`);
  const maxRows = Math.min(MAX_PIR_ROWS, options.maxRows ?? MAX_PIR_ROWS);
  if (!Number.isInteger(maxRows) || maxRows < MIN_PIR_BUCKETS) throw new RangeError(`maxRows must be at least ${MIN_PIR_BUCKETS}`);
  let oversized = 0;
  const fitting: SnapshotItem[] = [];
  const addresses = new Set<string>();
  for (const item of items) {
    if (item.ciphertext.length === 0 || item.ciphertext.length > capacity) {
      oversized++;
      continue;
    }
    fitting.push(item);
    addresses.add(hexOf(item.address));
  }
  const buckets = chooseBuckets(addresses.size, slots, maxRows);
  const byBucket: SnapshotItem[][] = Array.from({ length: buckets }, () => []);
  for (const item of fitting) byBucket[bucketHash(item.address, epoch) % buckets].push(item);
  const layout = layoutPages(byBucket.map((b) => b.length), slots, maxRows, sequence);
  const shape: SnapshotShape = { epoch, rows: layout.rows, buckets, slots, slotBytes, rowBytes };
  const data = new Uint8Array(layout.rows * rowBytes);
  let placed = 0;
  for (let b = 0; b < buckets; b++) {
    const bucketItems = byBucket[b];
    const run = layout.runs[b];
    placed += writePage(data, b * rowBytes, b, 0, bucketItems, slots, slotBytes, run);
    const pages = pagesOf(bucketItems.length, slots);
    for (let i = 0; i < run.count; i++) {
      placed += writePage(data, (run.row + i) * rowBytes, b, runPage(run, pages, i), bucketItems, slots, slotBytes, NO_EXTRA);
    }
  }
  const contentBytes = contentBytesOf(rowBytes);
  const leaves: Uint8Array[] = [];
  for (let r = 0; r < layout.rows; r++) leaves.push(leafHash(crypto, origin, shape, r, data.subarray(r * rowBytes, r * rowBytes + contentBytes)));
  const levels = merkleLevels(crypto, leaves);
  writePaths(data, layout.rows, rowBytes, levels);
  const snapshotId = levels[levels.length - 1][0];
  return { ...shape, snapshotId, origin: origin.slice(), data, placed, omitted: fitting.length - placed, oversized };
}

/**
 * The tree over `data`'s rows (levels[0] = the leaves, last = [root]), or undefined when a row's
 * content is not well formed for the shape: header or slot lengths out of range, or a row in the
 * wrong place. Only the content of each row is read, never its path.
 */
function contentLevels(crypto: Crypto, origin: Uint8Array, shape: SnapshotShape, data: Uint8Array): Uint8Array[][] | undefined {
  if (shapeProblem(shape) !== undefined) return undefined;
  const { rows, rowBytes } = shape;
  if (!(data instanceof Uint8Array) || data.length !== rows * rowBytes) return undefined;
  const contentBytes = contentBytesOf(rowBytes);
  const leaves: Uint8Array[] = [];
  for (let r = 0; r < rows; r++) {
    const content = data.subarray(r * rowBytes, r * rowBytes + contentBytes);
    const parsed = parseContent(content, shape);
    if (parsed === undefined || (r < shape.buckets && (parsed.bucket !== r || parsed.page !== 0)) || (r >= shape.buckets && parsed.page === 0)) return undefined;
    leaves.push(leafHash(crypto, origin, shape, r, content));
  }
  return merkleLevels(crypto, leaves);
}

/**
 * The snapshot id that `data` (rows × rowBytes bytes) carries, recomputed from its rows, or
 * undefined when it is not a well-formed snapshot of that shape: a row's header or slot lengths out
 * of range, a row in the wrong place, or an embedded path that is not the tree's. A partner runs
 * this on every snapshot replicated whole before it answers queries over it.
 */
export function snapshotRoot(crypto: Crypto, origin: Uint8Array, shape: SnapshotShape, data: Uint8Array): Uint8Array | undefined {
  const levels = contentLevels(crypto, origin, shape, data);
  if (levels === undefined) return undefined;
  const { rows, rowBytes } = shape;
  const contentBytes = contentBytesOf(rowBytes);
  const expected = new Uint8Array(data.length);
  writePaths(expected, rows, rowBytes, levels);
  for (let r = 0; r < rows; r++) {
    const start = r * rowBytes + contentBytes;
    if (!crypto.constantTimeEqual(data.subarray(start, (r + 1) * rowBytes), expected.subarray(start, (r + 1) * rowBytes))) return undefined;
  }
  return levels[levels.length - 1][0];
}

/**
 * Completes a snapshot whose rows' contents are in place (one rebuilt from a delta): checks every
 * row's content as snapshotRoot does, writes every row's Merkle path (over whatever the path area
 * held) and returns the root, or undefined when a row is not well formed. The caller compares the
 * root with the id it expects.
 */
export function sealSnapshot(crypto: Crypto, origin: Uint8Array, shape: SnapshotShape, data: Uint8Array): Uint8Array | undefined {
  const levels = contentLevels(crypto, origin, shape, data);
  if (levels === undefined) return undefined;
  const { rows, rowBytes } = shape;
  for (let r = 0; r < rows; r++) data.fill(0, r * rowBytes + contentBytesOf(rowBytes), (r + 1) * rowBytes);
  writePaths(data, rows, rowBytes, levels);
  return levels[levels.length - 1][0];
}

export interface OpenedRow {
  readonly bucket: number;
  readonly page: number;
  /** Items stored in the bucket in the epoch (on this page and others). */
  readonly total: number;
  /** Pages of the bucket: ⌈total / slots⌉, at least 1. */
  readonly pages: number;
  /** Page 0: where this snapshot carries the bucket's extra pages. */
  readonly extra: ExtraRun;
  readonly items: SnapshotItem[];
}

function parseContent(content: Uint8Array, shape: SnapshotShape): OpenedRow | undefined {
  const view = new DataView(content.buffer, content.byteOffset, content.byteLength);
  if (content[0] !== ROW_VERSION || content[1] !== 0 || content[2] !== 0 || content[3] !== 0) return undefined;
  const [bucket, page, total, used, row, first, count] = [4, 8, 12, 16, 20, 24, 28].map((at) => view.getUint32(at));
  const pages = pagesOf(total, shape.slots);
  if (bucket >= shape.buckets || page >= pages || used !== Math.max(0, Math.min(shape.slots, total - page * shape.slots))) return undefined;
  let extra = NO_EXTRA;
  if (count > 0) {
    if (page !== 0 || count >= pages || first < 1 || first >= pages || row < shape.buckets || row + count > shape.rows) return undefined;
    extra = { row, first, count };
  } else if (row !== 0 || first !== 0) {
    return undefined;
  }
  const items: SnapshotItem[] = [];
  for (let j = 0; j < shape.slots; j++) {
    const at = ROW_HEADER_BYTES + j * shape.slotBytes;
    const length = view.getUint32(at + ADDRESS_BYTES);
    if (j >= used) {
      if (length !== 0) return undefined;
      continue;
    }
    if (length === 0 || length > shape.slotBytes - SLOT_HEADER_BYTES) return undefined;
    items.push({ address: content.slice(at, at + ADDRESS_BYTES), ciphertext: content.slice(at + SLOT_HEADER_BYTES, at + SLOT_HEADER_BYTES + length) });
  }
  return { bucket, page, total, pages, extra, items };
}

/**
 * Checks a decoded row against the snapshot id and returns its page. PirRowError when the row has
 * the wrong length ('bad-length'), when its Merkle path does not lead from its content at `index` to
 * the id ('bad-proof': some server's answer was wrong), or when its content does not parse
 * ('bad-format'; only a wrong origin could have built such a row and got it a valid path).
 */
export function openRow(crypto: Crypto, origin: Uint8Array, info: PirSnapshotInfo, index: number, row: Uint8Array): OpenedRow {
  const problem = shapeProblem(info);
  if (problem !== undefined) throw new PirRowError('bad-format', problem);
  if (!Number.isInteger(index) || index < 0 || index >= info.rows) throw new RangeError(`row ${index} is outside 0..${info.rows - 1}`);
  if (!(row instanceof Uint8Array) || row.length !== info.rowBytes) throw new PirRowError('bad-length', `a row is ${info.rowBytes} bytes, got ${row.length}`);
  const contentBytes = contentBytesOf(info.rowBytes);
  const content = row.subarray(0, contentBytes);
  let hash = leafHash(crypto, origin, info, index, content);
  for (let level = 0; level < depthOf(info.rows); level++) {
    const sibling = row.subarray(contentBytes + level * HASH_BYTES, contentBytes + (level + 1) * HASH_BYTES);
    hash = ((index >> level) & 1) === 1 ? nodeHash(crypto, sibling, hash) : nodeHash(crypto, hash, sibling);
  }
  if (!crypto.constantTimeEqual(hash, info.snapshotId)) throw new PirRowError('bad-proof', 'the row does not hash to the snapshot id');
  const opened = parseContent(content, info);
  if (opened === undefined) throw new PirRowError('bad-format', 'the row does not parse');
  return opened;
}
