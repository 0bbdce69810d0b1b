import { checkSelection, shardsOf, type ScanDatabase, type ScanKernel } from './types.js';

/**
 * The plain-JavaScript scan: out ^= row & mask for every row, 32 bits at a time when the rows are
 * 4-byte aligned (a byte at a time otherwise). Every row is read whatever its selection bit. It
 * needs no WebAssembly and is the reference the WASM kernel is tested against; it runs at about a
 * sixth of the WASM kernel's speed (docs/pir.md, "Measured").
 */
export const jsScanKernel: ScanKernel = {
  name: 'js',
  scan(database: ScanDatabase, selection: Uint8Array): Uint8Array {
    const shards = shardsOf(database);
    checkSelection(database.rows, selection);
    const { rowBytes } = database;
    const out = new Uint8Array(rowBytes);
    for (const shard of shards) {
      const { data, firstRow, rows } = shard;
      if (rowBytes % 4 === 0 && data.byteOffset % 4 === 0) scanWords(data, rows, rowBytes, selection, firstRow, out);
      else scanBytes(data, rows, rowBytes, selection, firstRow, out);
    }
    return out;
  },
};

function scanWords(data: Uint8Array, rows: number, rowBytes: number, selection: Uint8Array, firstRow: number, out: Uint8Array): void {
  const words = new Uint32Array(data.buffer, data.byteOffset, data.length >>> 2);
  const acc = new Uint32Array(out.buffer, out.byteOffset, rowBytes >>> 2);
  const rowWords = rowBytes >>> 2;
  const unrolled = rowWords & ~3;
  let base = 0;
  for (let r = 0; r < rows; r++) {
    const bit = firstRow + r;
    const mask = -((selection[Math.floor(bit / 8)] >>> (bit & 7)) & 1) | 0;
    let j = 0;
    for (; j < unrolled; j += 4) {
      acc[j] ^= words[base + j] & mask;
      acc[j + 1] ^= words[base + j + 1] & mask;
      acc[j + 2] ^= words[base + j + 2] & mask;
      acc[j + 3] ^= words[base + j + 3] & mask;
    }
    for (; j < rowWords; j++) acc[j] ^= words[base + j] & mask;
    base += rowWords;
  }
}

function scanBytes(data: Uint8Array, rows: number, rowBytes: number, selection: Uint8Array, firstRow: number, out: Uint8Array): void {
  let base = 0;
  for (let r = 0; r < rows; r++) {
    const bit = firstRow + r;
    const mask = -((selection[Math.floor(bit / 8)] >>> (bit & 7)) & 1) & 0xff;
    for (let j = 0; j < rowBytes; j++) out[j] ^= data[base + j] & mask;
    base += rowBytes;
  }
}
