/**
 * The PIR database of one provider's epoch (docs/pir.md, "Mailbox retrieval"): the epoch's stored
 * ciphertexts laid out as `rows` buckets × `slots` fixed-size slots, bucket = bucketOf(address,
 * epoch, rows), each row closed by its Merkle authentication path so that a client can check the
 * row it decoded against the snapshot id (the Merkle root) without revealing which row it asked for.
 * Pure: no I/O, no clock; the hashing goes through the Crypto interface. Providers build and verify
 * snapshots with it, clients open rows with it.
 *
 * Row r (rowBytes = 16 + slots·slotBytes + depth·32, depth = log2(rows)):
 *
 *   0    version (u8, 1) ‖ 3 zero bytes
 *   4    total (u32): items stored in bucket r for this epoch
 *   8    used (u32): slots filled (min(total, slots))
 *   12   first (u32): position, in the bucket's storage order, of the item in slot 0
 *   16   slots × (address (32) ‖ length (u32) ‖ stored ciphertext, zero-padded to slotBytes − 36)
 *   …    the Merkle path: depth sibling hashes (32 each), the leaf's sibling first
 *
 * leaf(r) = BLAKE2b-256(LEAF_LABEL ‖ origin (32) ‖ epoch (u64) ‖ rows (u32) ‖ slots (u32) ‖ slotBytes (u32) ‖ r (u32) ‖ bytes 0 … 16 + slots·slotBytes of row r)
 * node    = BLAKE2b-256(NODE_LABEL ‖ left ‖ right);   snapshot id = the root over leaves 0 … rows − 1.
 *
 * Row bound: a row is at most MAX_PIR_ROW_BYTES (256 KiB) unless it has a single slot, so one hot
 * bucket cannot grow every row of the database (each query scans all rows; each answer is a row).
 * Every party checks it (shapeProblem): a partner does not take, and a client does not query, a
 * snapshot with larger rows.
 *
 * Overflow: slots = the fullest bucket's item count, capped at `maxSlots` and at the row bound. A bucket holding more than
 * that many items keeps the others for later snapshots: snapshot number k of an epoch shows the
 * window of `slots` items starting at position (k · slots) mod total (cyclically), and `total` tells
 * the client how many it did not get. Nothing is dropped: while a bucket's content is unchanged,
 * every item appears in one of any ⌈total / slots⌉ consecutive snapshots.
 */
import type { Crypto } from '../crypto/types.js';
import { bucketHash } from '../store/mailbox.js';


/** What names a snapshot's layout: epoch, rows (buckets), slots per row, bytes per slot. */
export interface SnapshotShape {
  readonly epoch: number;
  readonly rows: number;
  readonly slots: number;
  readonly slotBytes: number;
}

/** What pir-info answers: the snapshot to query for that epoch. */
export interface PirSnapshotInfo extends SnapshotShape {
  readonly snapshotId: Uint8Array;
  readonly rowBytes: number;
}

export const ROW_VERSION = 1;
export const ROW_HEADER_BYTES = 16;
export const SLOT_HEADER_BYTES = 36;
export const HASH_BYTES = 32;
const ADDRESS_BYTES = 32;
/** Fewest rows a snapshot has (16, the default bucket count of bucket retrieval). */
export const MIN_PIR_ROWS = 16;
/** Most rows (the largest bucket count, MAX_BUCKETS). */
export const MAX_PIR_ROWS = 1 << 20;
/** Largest row of more than one slot: what one hot bucket can grow every row to. */
export const MAX_PIR_ROW_BYTES = 256 * 1024;
/** Largest slot: a 1 MiB stored ciphertext. */
export const MAX_SLOT_BYTES = SLOT_HEADER_BYTES + (1 << 20);
/**
 * How many slots of scanning (server work) one slot of answer (client download) is worth when the
 * row count is chosen: rows minimise slots × (rows + DOWNLOAD_WEIGHT).
 */
export const DOWNLOAD_WEIGHT = 64;

export const PIR_LEAF_LABEL = new TextEncoder().encode('umbra/pir-leaf/v1');
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
  /** Items placed in a slot. */
  readonly placed: number;
  /** Items left for later snapshots because their bucket had more than `slots` items. */
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
  /** The number of this snapshot among the epoch's (0, 1, …): turns the overflow window. */
  readonly sequence: number;
  /** Most slots per row (the answer size limit); at least 1. */
  readonly maxSlots: number;
  readonly minRows?: number;
  readonly maxRows?: number;
  readonly downloadWeight?: number;
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

/** log2 of a power of two. */
export function depthOf(rows: number): number {
  return Math.round(Math.log2(rows));
}

export function slotBytesFor(capacity: number): number {
  return SLOT_HEADER_BYTES + capacity;
}

export function rowBytesOf(shape: Pick<SnapshotShape, 'rows' | 'slots' | 'slotBytes'>): number {
  return ROW_HEADER_BYTES + shape.slots * shape.slotBytes + depthOf(shape.rows) * HASH_BYTES;
}

/** What is wrong with a snapshot's shape, or undefined (bounds every party checks). */
export function shapeProblem(shape: PirSnapshotInfo | SnapshotShape): string | undefined {
  if (!isPowerOfTwo(shape.rows) || shape.rows > MAX_PIR_ROWS) return `rows must be a power of two in 1..${MAX_PIR_ROWS}`;
  if (!Number.isInteger(shape.slotBytes) || shape.slotBytes <= SLOT_HEADER_BYTES || shape.slotBytes > MAX_SLOT_BYTES) return 'slotBytes out of range';
  if (!Number.isInteger(shape.slots) || shape.slots < 1 || shape.slots * shape.slotBytes > 2 ** 30) return 'slots out of range';
  if (shape.slots > slotsWithinRowBound(shape.slotBytes, shape.rows)) return `rows of more than one slot must be at most ${MAX_PIR_ROW_BYTES} bytes`;
  if ('rowBytes' in shape && shape.rowBytes !== rowBytesOf(shape)) return 'rowBytes does not match rows, slots and slotBytes';
  return undefined;
}

/** The leaf hash of row `index`: binds the origin, the shape and the row's position to its content. */
export function leafHash(crypto: Crypto, origin: Uint8Array, shape: SnapshotShape, index: number, content: Uint8Array): Uint8Array {
  // LEAF_LABEL ‖ origin (32) ‖ epoch (u64) ‖ rows (u32) ‖ slots (u32) ‖ slotBytes (u32) ‖ index (u32) ‖ content
  const header = PIR_LEAF_LABEL.length + 32 + 8 + 16;
  const input = new Uint8Array(header + content.length);
  const v = new DataView(input.buffer);
  let at = 0;
  input.set(PIR_LEAF_LABEL, at);
  at += PIR_LEAF_LABEL.length;
  input.set(origin, at);
  at += 32;
  v.setBigUint64(at, BigInt(shape.epoch));
  v.setUint32(at + 8, shape.rows);
  v.setUint32(at + 12, shape.slots);
  v.setUint32(at + 16, shape.slotBytes);
  v.setUint32(at + 20, index);
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

/** Every level of the tree over `leaves` (a power of two of them): levels[0] = leaves, last = [root]. */
function merkleLevels(crypto: Crypto, leaves: Uint8Array[]): Uint8Array[][] {
  const levels = [leaves];
  while (levels[levels.length - 1].length > 1) {
    const below = levels[levels.length - 1];
    const level: Uint8Array[] = [];
    for (let i = 0; i < below.length; i += 2) level.push(nodeHash(crypto, below[i], below[i + 1]));
    levels.push(level);
  }
  return levels;
}

/** The most slots a row of `rows` rows may have within MAX_PIR_ROW_BYTES (at least 1). */
export function slotsWithinRowBound(slotBytes: number, rows: number): number {
  return Math.max(1, Math.floor((MAX_PIR_ROW_BYTES - ROW_HEADER_BYTES - depthOf(rows) * HASH_BYTES) / slotBytes));
}

/**
 * The slots of `hashes` over `rows` buckets (rows a power of two: bucket = hash mod rows): the
 * fullest bucket's load capped at maxSlots, and the items those slots place.
 */
function layoutCost(hashes: readonly number[], rows: number, maxSlots: number): { slots: number; placed: number } {
  const loads = new Uint32Array(rows);
  let max = 0;
  for (const hash of hashes) {
    const load = ++loads[hash % rows];
    if (load > max) max = load;
  }
  const slots = Math.max(1, Math.min(maxSlots, max));
  let placed = 0;
  for (const load of loads) placed += Math.min(load, slots);
  return { slots, placed };
}

/**
 * The row count: the power of two in minRows … maxRows minimising the work per placed item,
 * slots × (rows + weight) / placed, where slots is the fullest bucket's load capped at maxSlots;
 * larger counts stop once rows ≥ 2 × items. While nothing overflows every count places every item,
 * and this is the smallest slots × (rows + weight); when a bucket overflows, more rows are taken
 * only if they place more items for their cost (spreading one hot address places nothing more).
 */
export function chooseRows(hashes: readonly number[], maxSlots: number, minRows = MIN_PIR_ROWS, maxRows = MAX_PIR_ROWS, weight = DOWNLOAD_WEIGHT): { rows: number; slots: number } {
  const costOf = (rows: number) => {
    const { slots, placed } = layoutCost(hashes, rows, maxSlots);
    return { rows, slots, cost: (slots * (rows + weight)) / Math.max(1, placed) };
  };
  let best = costOf(minRows);
  for (let rows = minRows * 2; rows <= maxRows && rows <= 2 * hashes.length; rows *= 2) {
    const candidate = costOf(rows);
    if (candidate.cost < best.cost) best = candidate;
  }
  return { rows: best.rows, slots: best.slots };
}

/** Lays out an epoch's items (see the file comment) and computes the tree, the paths and the id. */
export function buildSnapshot(options: BuildSnapshotOptions): Snapshot {
  const { crypto, origin, epoch, items, capacity, sequence } = options;
  if (!(origin instanceof Uint8Array) || origin.length !== 32) throw new RangeError('origin must be a 32-byte node ID');
  if (!Number.isSafeInteger(sequence) || sequence < 0) throw new RangeError('sequence must be a non-negative integer');
  if (!Number.isInteger(options.maxSlots) || options.maxSlots < 1) throw new RangeError('maxSlots must be a positive integer');
  const slotBytes = slotBytesFor(capacity);
  const minRows = options.minRows ?? MIN_PIR_ROWS;
  const maxRows = options.maxRows ?? MAX_PIR_ROWS;
  if (!isPowerOfTwo(minRows) || !isPowerOfTwo(maxRows) || minRows > maxRows || maxRows > MAX_PIR_ROWS) throw new RangeError('minRows and maxRows must be powers of two, minRows ≤ maxRows ≤ 2^20');
  let oversized = 0;
  const fitting: { item: SnapshotItem; hash: number }[] = [];
  for (const item of items) {
    if (item.ciphertext.length === 0 || item.ciphertext.length > capacity) {
      oversized++;
      continue;
    }
    fitting.push({ item, hash: bucketHash(item.address, epoch) });
  }
  // The row bound for the deepest tree holds for every row count.
  const maxSlots = Math.min(options.maxSlots, slotsWithinRowBound(slotBytes, maxRows));
  const { rows, slots } = chooseRows(
    fitting.map((f) => f.hash),
    maxSlots,
    minRows,
    maxRows,
    options.downloadWeight ?? DOWNLOAD_WEIGHT,
  );
  const shape: SnapshotShape = { epoch, rows, slots, slotBytes };
  const rowBytes = rowBytesOf(shape);
  const contentBytes = ROW_HEADER_BYTES + slots * slotBytes;
  const buckets: SnapshotItem[][] = Array.from({ length: rows }, () => []);
  for (const { item, hash } of fitting) buckets[hash % rows].push(item);
  const data = new Uint8Array(rows * rowBytes);
  const view = new DataView(data.buffer);
  let placed = 0;
  let omitted = 0;
  const leaves: Uint8Array[] = [];
  for (let r = 0; r < rows; r++) {
    const bucket = buckets[r];
    const base = r * rowBytes;
    const total = bucket.length;
    const used = Math.min(total, slots);
    const first = total > slots ? (sequence * slots) % total : 0;
    data[base] = ROW_VERSION;
    view.setUint32(base + 4, total);
    view.setUint32(base + 8, used);
    view.setUint32(base + 12, first);
    for (let j = 0; j < used; j++) {
      const item = bucket[(first + j) % total];
      const at = base + ROW_HEADER_BYTES + j * slotBytes;
      data.set(item.address, at);
      view.setUint32(at + ADDRESS_BYTES, item.ciphertext.length);
      data.set(item.ciphertext, at + SLOT_HEADER_BYTES);
    }
    placed += used;
    omitted += total - used;
    leaves.push(leafHash(crypto, origin, shape, r, data.subarray(base, base + contentBytes)));
  }
  const levels = merkleLevels(crypto, leaves);
  writePaths(data, rows, rowBytes, contentBytes, levels);
  const snapshotId = levels[levels.length - 1][0];
  return { ...shape, rowBytes, snapshotId, origin: origin.slice(), data, placed, omitted, oversized };
}

function writePaths(data: Uint8Array, rows: number, rowBytes: number, contentBytes: number, levels: Uint8Array[][]): void {
  const depth = levels.length - 1;
  for (let r = 0; r < rows; r++) {
    for (let level = 0, index = r; level < depth; level++, index >>= 1) {
      data.set(levels[level][index ^ 1], r * rowBytes + contentBytes + level * HASH_BYTES);
    }
  }
}

/**
 * The snapshot id that `data` (rows × rowBytes bytes) carries, recomputed from its rows, or
 * undefined when it is not a well-formed snapshot of that shape: a row's version, counts or slot
 * lengths out of range, or an embedded path that is not the tree's. A partner runs this on every
 * replicated snapshot before it answers queries over it.
 */
export function snapshotRoot(crypto: Crypto, origin: Uint8Array, shape: SnapshotShape, data: Uint8Array): Uint8Array | undefined {
  if (shapeProblem(shape) !== undefined) return undefined;
  const rowBytes = rowBytesOf(shape);
  if (!(data instanceof Uint8Array) || data.length !== shape.rows * rowBytes) return undefined;
  const contentBytes = ROW_HEADER_BYTES + shape.slots * shape.slotBytes;
  const leaves: Uint8Array[] = [];
  for (let r = 0; r < shape.rows; r++) {
    const content = data.subarray(r * rowBytes, r * rowBytes + contentBytes);
    if (parseContent(content, shape) === undefined) return undefined;
    leaves.push(leafHash(crypto, origin, shape, r, content));
  }
  const levels = merkleLevels(crypto, leaves);
  const expected = new Uint8Array(data.length);
  writePaths(expected, shape.rows, rowBytes, contentBytes, levels);
  for (let r = 0; r < shape.rows; r++) {
    const start = r * rowBytes + contentBytes;
    if (!crypto.constantTimeEqual(data.subarray(start, (r + 1) * rowBytes), expected.subarray(start, (r + 1) * rowBytes))) return undefined;
  }
  return levels[levels.length - 1][0];
}

export interface OpenedRow {
  /** Items stored in the bucket (more than `items.length` when some wait for a later snapshot). */
  readonly total: number;
  /** Position of items[0] in the bucket's storage order. */
  readonly first: number;
  readonly items: SnapshotItem[];
}

function parseContent(content: Uint8Array, shape: SnapshotShape): OpenedRow | undefined {
  const view = new DataView(content.buffer, content.byteOffset, content.byteLength);
  if (content[0] !== ROW_VERSION || content[1] !== 0 || content[2] !== 0 || content[3] !== 0) return undefined;
  const total = view.getUint32(4);
  const used = view.getUint32(8);
  const first = view.getUint32(12);
  if (used !== Math.min(total, shape.slots) || (total <= shape.slots ? first !== 0 : first >= total)) return undefined;
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
  return { total, first, items };
}

/**
 * Checks a decoded row against the snapshot id and returns its items. PirRowError when the row has
 * the wrong length ('bad-length'), when its Merkle path does not lead from its content at `index` to
 * the id ('bad-proof': some server's answer was wrong), or when its content does not parse
 * ('bad-format'; only a wrong origin could have built such a row and got it a valid path).
 */
export function openRow(crypto: Crypto, origin: Uint8Array, info: PirSnapshotInfo, index: number, row: Uint8Array): OpenedRow {
  const problem = shapeProblem(info);
  if (problem !== undefined) throw new PirRowError('bad-format', problem);
  if (!Number.isInteger(index) || index < 0 || index >= info.rows) throw new RangeError(`row ${index} is outside 0..${info.rows - 1}`);
  if (!(row instanceof Uint8Array) || row.length !== info.rowBytes) throw new PirRowError('bad-length', `a row is ${info.rowBytes} bytes, got ${row.length}`);
  const contentBytes = ROW_HEADER_BYTES + info.slots * info.slotBytes;
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
