import type { ScanDatabase } from '../../codec/pir-scan/types.js';
import type { SnapshotRows } from '../../pir/snapshot-delta.js';

/** A held snapshot's rows as a delta reads them: views into its flat or sharded database, not copies. */
export function databaseRows(snapshotId: Uint8Array, database: ScanDatabase): SnapshotRows {
  const { rows, rowBytes } = database;
  if ('data' in database) return { snapshotId, rows, rowBytes, row: (index) => database.data.subarray(index * rowBytes, (index + 1) * rowBytes) };
  const { shards } = database;
  let last = 0; // rows are mostly read in order: start from the shard of the last one
  return {
    snapshotId,
    rows,
    rowBytes,
    row(index) {
      if (!Number.isInteger(index) || index < 0 || index >= rows) throw new RangeError(`row ${index} is outside 0..${rows - 1}`);
      if (index < shards[last].firstRow) last = 0;
      while (index >= shards[last].firstRow + shards[last].rows) last++;
      const at = (index - shards[last].firstRow) * rowBytes;
      return shards[last].data.subarray(at, at + rowBytes);
    },
  };
}

/** Bytes [offset, offset + length) of the database's rows, copied. */
export function readRange(database: ScanDatabase, offset: number, length: number): Uint8Array {
  if ('data' in database) return database.data.slice(offset, offset + length);
  const out = new Uint8Array(length);
  const end = offset + length;
  for (const shard of database.shards) {
    const start = shard.firstRow * database.rowBytes;
    const stop = start + shard.data.length;
    if (stop <= offset || start >= end) continue;
    const from = Math.max(offset, start);
    const to = Math.min(end, stop);
    out.set(shard.data.subarray(from - start, to - start), from - offset);
  }
  return out;
}
