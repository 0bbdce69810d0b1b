import { checkSelection, checkSelections, shardsOf, type ScanDatabase, type ScanKernel } from './types.js';

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
  /** One pass over the rows: each word is read once and masked into every selection's result. */
  scanBatch(database: ScanDatabase, selections: readonly Uint8Array[]): Uint8Array[] {
    const shards = shardsOf(database);
    checkSelections(database.rows, selections);
    const { rowBytes } = database;
    const outs = selections.map(() => new Uint8Array(rowBytes));
    for (const shard of shards) {
      if (rowBytes % 4 === 0 && shard.data.byteOffset % 4 === 0) scanWordsBatch(shard.data, shard.rows, rowBytes, selections, shard.firstRow, outs);
      else for (let q = 0; q < selections.length; q++) scanBytes(shard.data, shard.rows, rowBytes, selections[q], shard.firstRow, outs[q]);
    }
    return outs;
  },
};

function scanWordsBatch(data: Uint8Array, rows: number, rowBytes: number, selections: readonly Uint8Array[], firstRow: number, outs: Uint8Array[]): void {
  const words = new Uint32Array(data.buffer, data.byteOffset, data.length >>> 2);
  const accs = outs.map((out) => new Uint32Array(out.buffer, out.byteOffset, rowBytes >>> 2));
  const masks = new Int32Array(selections.length);
  const rowWords = rowBytes >>> 2;
  let base = 0;
  for (let r = 0; r < rows; r++) {
    const bit = firstRow + r;
    for (let q = 0; q < selections.length; q++) masks[q] = -((selections[q][Math.floor(bit / 8)] >>> (bit & 7)) & 1) | 0;
    for (let q = 0; q < accs.length; q++) {
      const acc = accs[q];
      const mask = masks[q];
      for (let j = 0; j < rowWords; j++) acc[j] ^= words[base + j] & mask;
    }
    base += rowWords;
  }
}

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
