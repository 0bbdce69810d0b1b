import type { ScanDatabase } from '../../src/codec/pir-scan/types.js';

/** Row r of a flat or sharded database (a copy). */
export function rowOf(database: ScanDatabase, index: number): Uint8Array {
  const { rowBytes } = database;
  if ('data' in database) return database.data.slice(index * rowBytes, (index + 1) * rowBytes);
  for (const shard of database.shards) {
    if (index >= shard.firstRow && index < shard.firstRow + shard.rows) {
      const at = (index - shard.firstRow) * rowBytes;
      return shard.data.slice(at, at + rowBytes);
    }
  }
  throw new RangeError(`row ${index}`);
}

/** The scan by its definition, one row and one byte at a time. */
export function referenceScan(database: ScanDatabase, selection: Uint8Array): Uint8Array {
  const out = new Uint8Array(database.rowBytes);
  for (let r = 0; r < database.rows; r++) {
    if (((selection[r >> 3] >> (r & 7)) & 1) === 0) continue;
    const row = rowOf(database, r);
    for (let j = 0; j < out.length; j++) out[j] ^= row[j];
  }
  return out;
}

/** Bit x of a packed bitmap. */
export function bitAt(bitmap: Uint8Array, x: number): number {
  return (bitmap[Math.floor(x / 8)] >> (x & 7)) & 1;
}

export function xorBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}
