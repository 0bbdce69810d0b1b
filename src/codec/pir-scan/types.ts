/**
 * The PIR server's database and scan-kernel shapes (docs/pir.md, "The scan kernel"). Pure: this file
 * does no I/O, so the floor-2 PIR core (src/pir) imports these types and validators from here.
 *
 * A database is `rows` rows of `rowBytes` bytes each, either flat (`data` holds row r at
 * r * rowBytes) or split into shards of consecutive rows (each shard's `data` holds its own rows
 * from offset 0). A selection is a packed bitmap: row r is selected when bit r & 7 of byte r >> 3 is
 * set (least significant bit first), exactly the output of dpfEvalAll.
 */

/** One run of consecutive rows: rows firstRow .. firstRow + rows - 1, row k at k * rowBytes in data. */
export interface PirShard {
  readonly firstRow: number;
  readonly rows: number;
  readonly data: Uint8Array;
}

/** A flat database: row r occupies data[r * rowBytes, (r + 1) * rowBytes). */
export interface PirDatabase {
  readonly rows: number;
  readonly rowBytes: number;
  readonly data: Uint8Array;
}

/** A database split into shards, in row order, that together cover rows 0 .. rows - 1. */
export interface ShardedPirDatabase {
  readonly rows: number;
  readonly rowBytes: number;
  readonly shards: readonly PirShard[];
}

export type ScanDatabase = PirDatabase | ShardedPirDatabase;

/**
 * The server's inner loop: the XOR of the rows whose selection bit is 1 (all zeros when none is).
 * Implementations read every row whatever the selection, so their time does not depend on it, and
 * must return identical bytes for identical inputs (test/pir/kernel.test.ts cross-checks them).
 */
export interface ScanKernel {
  readonly name: string;
  /** Returns a new Uint8Array of database.rowBytes bytes. Raises ScanError on a malformed input. */
  scan(database: ScanDatabase, selection: Uint8Array): Uint8Array;
  /**
   * The batched scan: one pass over the rows answers every selection (at most MAX_BATCH); result
   * q is byte for byte scan(database, selections[q]). Kernels without it are batched by scanMany.
   */
  scanBatch?(database: ScanDatabase, selections: readonly Uint8Array[]): Uint8Array[];
}

/** Most selections one batched pass takes (the kernels' accumulators and masks are sized for it). */
export const MAX_BATCH = 32;

/**
 * Scans `selections` over `database`: in batched passes of at most MAX_BATCH when the kernel has
 * scanBatch, else one scan each. Result q is always scan(database, selections[q]).
 */
export function scanMany(kernel: ScanKernel, database: ScanDatabase, selections: readonly Uint8Array[]): Uint8Array[] {
  if (kernel.scanBatch === undefined) return selections.map((selection) => kernel.scan(database, selection));
  const results: Uint8Array[] = [];
  for (let start = 0; start < selections.length; start += MAX_BATCH) {
    results.push(...kernel.scanBatch(database, selections.slice(start, start + MAX_BATCH)));
  }
  return results;
}

/** Raises ScanError unless `selections` is a list of 1 .. MAX_BATCH bitmaps of at least ceil(rows / 8) bytes. */
export function checkSelections(rows: number, selections: readonly Uint8Array[]): void {
  if (!Array.isArray(selections) || selections.length < 1 || selections.length > MAX_BATCH) {
    throw new ScanError('invalid-selection', `a batch holds 1 to ${MAX_BATCH} selections`);
  }
  for (const selection of selections) checkSelection(rows, selection);
}

export type ScanErrorCode =
  | 'invalid-database' // rows, rowBytes or the shards do not describe a well-formed database
  | 'invalid-selection' // the bitmap is shorter than ceil(rows / 8) bytes
  | 'kernel-unavailable' // the WebAssembly binary is missing or does not compile
  | 'foreign-database' // a kernel bound to one database was given another
  | 'worker-failed'; // a scan worker thread failed or did not answer in time

export class ScanError extends Error {
  readonly code: ScanErrorCode;
  constructor(code: ScanErrorCode, message: string) {
    super(`pir scan: ${message}`);
    this.name = 'ScanError';
    this.code = code;
  }
}

/** Largest row length a kernel accepts (1 GiB): a row must fit in one WebAssembly memory. */
export const MAX_ROW_BYTES = 2 ** 30;
/** Largest number of rows (the DPF domain is at most 2^32 - 1 points). */
export const MAX_ROWS = 2 ** 32 - 1;

function isCount(value: unknown, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= max;
}

/** Validates the shape and returns the database as shards (a flat database is one shard). */
export function shardsOf(database: ScanDatabase): readonly PirShard[] {
  if (typeof database !== 'object' || database === null) throw new ScanError('invalid-database', 'not an object');
  const { rows, rowBytes } = database;
  if (!isCount(rows, MAX_ROWS)) throw new ScanError('invalid-database', `rows must be an integer in 1..${MAX_ROWS}`);
  if (!isCount(rowBytes, MAX_ROW_BYTES)) throw new ScanError('invalid-database', `rowBytes must be an integer in 1..${MAX_ROW_BYTES}`);
  if ('shards' in database) {
    if (!Array.isArray(database.shards) || database.shards.length === 0) throw new ScanError('invalid-database', 'no shards');
    let next = 0;
    for (const shard of database.shards) {
      if (shard.firstRow !== next) throw new ScanError('invalid-database', `shard starts at row ${shard.firstRow}, expected ${next}`);
      if (!isCount(shard.rows, rows - next)) throw new ScanError('invalid-database', 'shard row count out of range');
      checkData(shard.data, shard.rows * rowBytes);
      next += shard.rows;
    }
    if (next !== rows) throw new ScanError('invalid-database', `shards cover ${next} of ${rows} rows`);
    return database.shards;
  }
  checkData(database.data, rows * rowBytes);
  return [{ firstRow: 0, rows, data: database.data }];
}

function checkData(data: unknown, length: number): void {
  if (!(data instanceof Uint8Array) || data.length !== length) {
    throw new ScanError('invalid-database', `row data must be a Uint8Array of ${length} bytes`);
  }
}

/** Raises ScanError unless `selection` is a bitmap of at least ceil(rows / 8) bytes. */
export function checkSelection(rows: number, selection: Uint8Array): void {
  if (!(selection instanceof Uint8Array) || selection.length < Math.ceil(rows / 8)) {
    throw new ScanError('invalid-selection', `the selection must be a bitmap of at least ${Math.ceil(rows / 8)} bytes`);
  }
}
