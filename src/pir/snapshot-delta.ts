/**
 * Snapshot deltas (docs/pir.md, "Incremental replication"): a later snapshot of an epoch written as
 * the changes from an earlier one of the same origin, epoch and row size that the partner already
 * holds (the base). Successive snapshots of an epoch share most rows: a new item changes its
 * bucket's pages, a new extra page moves the pages after it by one row. Pure: no I/O, no clock.
 *
 * Only row contents travel (a row's bytes before its Merkle path): the paths change with every
 * leaf, and the partner recomputes the whole tree anyway (sealSnapshot) and holds the result only
 * when its root is the id the origin signed.
 *
 * Delta, version 1 (u32 and u16 big-endian):
 *
 *   version (u8, 1) ‖ base snapshot id (32) ‖ records, in row order, until every row is given:
 *   0x01 copy   ‖ base row j (u32) ‖ count (u32)   the next `count` rows are the contents of base rows j … j + count − 1
 *   0x02 patch  ‖ base row j (u32) ‖ ranges (u16, ≥ 1) ‖ ranges × (offset (u32) ‖ length (u32, ≥ 1) ‖ bytes)
 *                                                    the next row is base row j's content with the ranges replaced;
 *                                                    ranges ascending, not overlapping, within the content
 *   0x03 row    ‖ content (rowBytes − 640 bytes)    the next row's content, whole
 */
import type { Crypto } from '../crypto/types.js';
import { ByteReader } from '../codec/bytes.js';
import { DecodeError } from '../codec/errors.js';
import { PATH_BYTES } from './snapshot-pages.js';
import { ROW_VERSION, sealSnapshot, type PirSnapshotInfo, type SnapshotShape } from './snapshot.js';

export const DELTA_VERSION = 1;
export const DELTA_COPY = 0x01;
export const DELTA_PATCH = 0x02;
export const DELTA_ROW = 0x03;
/** version ‖ base snapshot id. */
export const DELTA_HEADER_BYTES = 1 + 32;
const COPY_BYTES = 9;
const PATCH_HEADER_BYTES = 7;
const RANGE_HEADER_BYTES = 8;
const MAX_RANGES = 0xffff;

/** The rows of a snapshot as a delta reads them. */
export interface SnapshotRows {
  readonly snapshotId: Uint8Array;
  readonly rows: number;
  readonly rowBytes: number;
  /** Row `index` (at least its content, the first rowBytes − 640 bytes); a view is fine, it is not kept. */
  row(index: number): Uint8Array;
}

/** A delta that cannot give the snapshot it claims: callers switch on `code`. */
export class SnapshotDeltaError extends Error {
  constructor(
    readonly code: 'malformed' | 'wrong-base' | 'bad-data',
    message: string,
  ) {
    super(`snapshot delta: ${message}`);
    this.name = 'SnapshotDeltaError';
  }
}

function contentBytesOf(rowBytes: number): number {
  return rowBytes - PATH_BYTES;
}

/** Row format 2's (bucket, page), the key that finds a page's row in the base; undefined for another format. */
function pageKey(content: Uint8Array): number | undefined {
  if (content[0] !== ROW_VERSION) return undefined;
  const view = new DataView(content.buffer, content.byteOffset, 12);
  return view.getUint32(4) * 2 ** 32 + view.getUint32(8);
}

/** The first index from `from` where `a` and `b` differ (their length when none), a word at a time when both are aligned alike. */
function firstDifference(a: Uint8Array, b: Uint8Array, from: number): number {
  const n = a.length;
  let i = from;
  if (a.byteOffset % 4 === b.byteOffset % 4) {
    while (i < n && (a.byteOffset + i) % 4 !== 0) {
      if (a[i] !== b[i]) return i;
      i++;
    }
    const words = (n - i) >> 2;
    if (words > 0) {
      const wa = new Int32Array(a.buffer, a.byteOffset + i, words);
      const wb = new Int32Array(b.buffer, b.byteOffset + i, words);
      let w = 0;
      while (w < words && wa[w] === wb[w]) w++;
      i += w * 4;
    }
  }
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** The changed byte ranges of `next` against `base` (same length), gaps of up to a range header merged. */
function changedRanges(base: Uint8Array, next: Uint8Array): [number, number][] {
  const ranges: [number, number][] = [];
  const n = next.length;
  for (let i = firstDifference(base, next, 0); i < n; i = firstDifference(base, next, i)) {
    let end = i + 1;
    while (end < n && base[end] !== next[end]) end++;
    const last = ranges[ranges.length - 1];
    if (last !== undefined && i - last[1] <= RANGE_HEADER_BYTES) last[1] = end;
    else ranges.push([i, end]);
    i = end;
  }
  return ranges;
}

/** Appends records; gives up (undefined) once the delta would pass `maxBytes`. */
class DeltaWriter {
  readonly parts: Uint8Array[] = [];
  length = 0;
  private copy: { from: number; count: number } | undefined;

  constructor(private readonly maxBytes: number) {}

  push(part: Uint8Array): boolean {
    this.parts.push(part);
    this.length += part.length;
    return this.length <= this.maxBytes;
  }

  /** Row `j` of the base, unchanged: extends the copy run under way when it continues it. */
  copyRow(j: number): boolean {
    if (this.copy !== undefined && this.copy.from + this.copy.count === j) {
      this.copy.count++;
      return true;
    }
    if (!this.flush()) return false;
    this.copy = { from: j, count: 1 };
    return true;
  }

  flush(): boolean {
    if (this.copy === undefined) return true;
    const record = new Uint8Array(COPY_BYTES);
    const view = new DataView(record.buffer);
    record[0] = DELTA_COPY;
    view.setUint32(1, this.copy.from);
    view.setUint32(5, this.copy.count);
    this.copy = undefined;
    return this.push(record);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const part of this.parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }
}

function patchRecord(j: number, ranges: [number, number][], next: Uint8Array): Uint8Array {
  let length = PATCH_HEADER_BYTES;
  for (const [from, to] of ranges) length += RANGE_HEADER_BYTES + to - from;
  const record = new Uint8Array(length);
  const view = new DataView(record.buffer);
  record[0] = DELTA_PATCH;
  view.setUint32(1, j);
  view.setUint16(5, ranges.length);
  let at = PATCH_HEADER_BYTES;
  for (const [from, to] of ranges) {
    view.setUint32(at, from);
    view.setUint32(at + 4, to - from);
    record.set(next.subarray(from, to), at + RANGE_HEADER_BYTES);
    at += RANGE_HEADER_BYTES + to - from;
  }
  return record;
}

/**
 * The delta that gives `next` from `base`, or undefined when it would be longer than `maxBytes`
 * (send the snapshot whole) or the row sizes differ. Each row of `next` is matched with the base row
 * holding the same page (bucket and page number, row format 2), else the base row at its own index,
 * and sent as a copy, a patch or whole, whichever is shortest.
 */
export function encodeSnapshotDelta(base: SnapshotRows, next: SnapshotRows, maxBytes: number): Uint8Array | undefined {
  if (base.rowBytes !== next.rowBytes || base.snapshotId.length !== 32) return undefined;
  const contentBytes = contentBytesOf(next.rowBytes);
  const rowOfPage = new Map<number, number>();
  for (let j = base.rows - 1; j >= 0; j--) {
    const key = pageKey(base.row(j));
    if (key !== undefined) rowOfPage.set(key, j);
  }
  const writer = new DeltaWriter(maxBytes);
  const header = new Uint8Array(DELTA_HEADER_BYTES);
  header[0] = DELTA_VERSION;
  header.set(base.snapshotId, 1);
  if (!writer.push(header)) return undefined;
  for (let r = 0; r < next.rows; r++) {
    const content = next.row(r).subarray(0, contentBytes);
    const key = pageKey(content);
    const j = (key === undefined ? undefined : rowOfPage.get(key)) ?? (r < base.rows ? r : -1);
    let written: boolean;
    const ranges = j < 0 ? undefined : changedRanges(base.row(j).subarray(0, contentBytes), content);
    if (ranges !== undefined && ranges.length === 0) {
      written = writer.copyRow(j);
    } else {
      let patchBytes = PATCH_HEADER_BYTES;
      for (const [from, to] of ranges ?? []) patchBytes += RANGE_HEADER_BYTES + to - from;
      const asPatch = ranges !== undefined && ranges.length <= MAX_RANGES && patchBytes < 1 + contentBytes;
      const record = asPatch ? patchRecord(j, ranges, content) : Uint8Array.of(DELTA_ROW);
      written = writer.flush() && writer.push(record) && (asPatch || writer.push(content.slice()));
    }
    if (!written) return undefined;
  }
  return writer.flush() ? writer.finish() : undefined;
}

/**
 * The rows of the snapshot of `shape` that `delta` gives from `base`: rows × rowBytes bytes with
 * every row's content in place and its path area zero (sealSnapshot completes it).
 * SnapshotDeltaError 'wrong-base' when the delta was made from another snapshot (or another row
 * size), 'malformed' when it does not parse, names rows outside either snapshot, or gives more or
 * fewer rows than the shape's.
 */
export function applySnapshotDelta(shape: SnapshotShape, base: SnapshotRows, delta: Uint8Array): Uint8Array {
  const { rows, rowBytes } = shape;
  if (base.rowBytes !== rowBytes) throw new SnapshotDeltaError('wrong-base', `the base has rows of ${base.rowBytes} bytes, the snapshot ${rowBytes}`);
  const contentBytes = contentBytesOf(rowBytes);
  const out = new Uint8Array(rows * rowBytes);
  const reader = new ByteReader(delta, 'snapshot delta');
  const malformed = (detail: string) => new SnapshotDeltaError('malformed', detail);
  try {
    const version = reader.u8('version');
    if (version !== DELTA_VERSION) throw malformed(`version ${version} is not ${DELTA_VERSION}`);
    const baseId = reader.bytesOf(32, 'base snapshot id');
    if (!sameId(baseId, base.snapshotId)) throw new SnapshotDeltaError('wrong-base', 'the delta was made from another base snapshot');
    let r = 0;
    const baseRow = (j: number): Uint8Array => {
      if (j >= base.rows) throw malformed(`base row ${j} is outside the base's ${base.rows} rows`);
      return base.row(j).subarray(0, contentBytes);
    };
    while (r < rows) {
      const kind = reader.u8('record');
      const at = r * rowBytes;
      if (kind === DELTA_COPY) {
        const j = reader.u32('base row');
        const count = reader.u32('count');
        if (count < 1 || count > rows - r) throw malformed(`a copy of ${count} rows at row ${r} of ${rows}`);
        for (let i = 0; i < count; i++) out.set(baseRow(j + i), (r + i) * rowBytes);
        r += count;
      } else if (kind === DELTA_PATCH) {
        out.set(baseRow(reader.u32('base row')), at);
        const ranges = reader.u16('ranges');
        if (ranges < 1) throw malformed('a patch without ranges');
        for (let i = 0, end = 0; i < ranges; i++) {
          const offset = reader.u32('offset');
          const length = reader.u32('length');
          if (offset < end || length < 1 || length > contentBytes - offset) throw malformed(`range ${offset}+${length} is out of order or outside the ${contentBytes}-byte content`);
          out.set(reader.bytesOf(length, 'patch bytes'), at + offset);
          end = offset + length;
        }
        r++;
      } else if (kind === DELTA_ROW) {
        out.set(reader.bytesOf(contentBytes, 'row content'), at);
        r++;
      } else {
        throw malformed(`unknown record 0x${kind.toString(16)}`);
      }
    }
    if (reader.remaining !== 0) throw malformed(`${reader.remaining} bytes past the last row`);
  } catch (error) {
    if (error instanceof DecodeError) throw malformed(error.message);
    throw error;
  }
  return out;
}

function sameId(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/**
 * The snapshot `target` rebuilt from `base` and `delta` (its rows × rowBytes bytes, paths
 * included), verified: every row well formed and the tree's root equal to target.snapshotId.
 * SnapshotDeltaError as applySnapshotDelta, and 'bad-data' when the rows do not hash to the id.
 * The base must be a snapshot of the same origin and epoch (the caller's check).
 */
export function rebuildFromDelta(crypto: Crypto, origin: Uint8Array, target: PirSnapshotInfo, base: SnapshotRows, delta: Uint8Array): Uint8Array {
  const data = applySnapshotDelta(target, base, delta);
  const root = sealSnapshot(crypto, origin, target, data);
  if (root === undefined) throw new SnapshotDeltaError('bad-data', 'a rebuilt row is not a well-formed row of the snapshot');
  if (!crypto.constantTimeEqual(root, target.snapshotId)) throw new SnapshotDeltaError('bad-data', 'the rebuilt snapshot does not hash to the offered id');
  return data;
}
