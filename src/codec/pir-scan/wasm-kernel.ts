import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkSelection, checkSelections, MAX_BATCH, MAX_ROW_BYTES, ScanError, shardsOf, type PirShard, type ScanDatabase, type ScanKernel, type ShardedPirDatabase } from './types.js';

/**
 * The WebAssembly SIMD scan kernel (scan.wat) and its loader, plus databases whose shards live in
 * WebAssembly memories so the kernel scans them in place. I/O (reading scan.wasm): floor 1.
 *
 * Shard memory layout (byte offsets; each shard is one shared WebAssembly.Memory of whole pages):
 *   [0, 64)                     fold output (16 bytes used; the benchmark's floor measurement)
 *   [64, outOffset)             the shard's slice of the selection bitmap, ceil((rows + 7) / 8) bytes
 *   [outOffset, dataOffset)     the shard's scan result, rowBytes bytes (then padding)
 *   [dataOffset, + rows*rowBytes) the rows, row k of the shard at dataOffset + k * rowBytes
 *   [scratchOffset, + BATCH_SCRATCH_BYTES) the batched scan's XOR tables and table addresses (64-aligned, after the rows)
 *   [selsOffset, + batch*selStride) the batched scan's selection slices, one per query
 *   [outsOffset, + batch*outStride) the batched scan's results, one per query (64-aligned each)
 * outOffset is a multiple of 64 and dataOffset of 4096: 4 KiB rows are then exactly pages, which
 * the scan reads about 7% faster than rows straddling two pages (hardware prefetchers stop at a page).
 */

/** Where the build (build-kernel.ts) writes the assembled kernel: beside this module's JS. */
export const SCAN_KERNEL_PATH = fileURLToPath(new URL('./scan.wasm', import.meta.url));

/** Default shard size: 64 MiB of rows per WebAssembly memory. */
export const DEFAULT_SHARD_BYTES = 64 * 2 ** 20;
/** Largest shard accepted (1 GiB); a WebAssembly memory holds at most 4 GiB. */
export const MAX_SHARD_BYTES = 2 ** 30;

const PAGE_BYTES = 65536;
const MAX_PAGES = 65535; // 4 GiB - 64 KiB: every offset and end stays below 2^32
const FOLD_OFFSET = 0;
/** The batched kernel's scratch: 6144 bytes of XOR tables and 12 bytes of table addresses per selection (scan.wat). */
const BATCH_SCRATCH_BYTES = 6144 + 12 * MAX_BATCH;
const SELECTION_OFFSET = 64;

/** The kernel's exports (see scan.wat for the exact semantics). */
export interface ScanExports {
  scan(rows: number, count: number, rowBytes: number, selection: number, bit: number, out: number): void;
  fold(pointer: number, length: number, out: number): void;
  scan_batch(rows: number, count: number, rowBytes: number, bit: number, batch: number, sels: number, selStride: number, outs: number, outStride: number, scratch: number): void;
}

/** Where one shard's parts sit in its memory: plain data, so it crosses to worker threads. */
export interface ShardLayout {
  readonly memory: WebAssembly.Memory;
  readonly firstRow: number;
  readonly rows: number;
  readonly rowBytes: number;
  readonly outOffset: number;
  readonly dataOffset: number;
  readonly batch: BatchLayout;
}

/** Where the batched scan's masks, selections and results sit in a shard's memory. */
export interface BatchLayout {
  /** Selections a pass over this shard takes (MAX_BATCH unless the memory is nearly full). */
  readonly capacity: number;
  readonly scratchOffset: number;
  readonly selsOffset: number;
  readonly selStride: number;
  readonly outsOffset: number;
  readonly outStride: number;
}

const modules = new Map<string, WebAssembly.Module>();

/** Reads and compiles scan.wasm (synchronously; cached per path). Raises ScanError('kernel-unavailable'). */
export function loadScanModule(path: string = SCAN_KERNEL_PATH): WebAssembly.Module {
  const cached = modules.get(path);
  if (cached !== undefined) return cached;
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch {
    throw new ScanError('kernel-unavailable', `${path} is missing: build it with \`node dist/src/codec/pir-scan/build-kernel.js\``);
  }
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(bytes);
  } catch (error) {
    throw new ScanError('kernel-unavailable', `${path} does not compile (${(error as Error).message}); WebAssembly SIMD and threads are required`);
  }
  modules.set(path, module);
  return module;
}

/** Instantiates the kernel over one memory. */
export function instantiateScan(module: WebAssembly.Module, memory: WebAssembly.Memory): ScanExports {
  return new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as ScanExports;
}

function align64(value: number): number {
  return Math.ceil(value / 64) * 64;
}

/** Offsets of a shard of `rows` rows: result area, rows (page-aligned), batch area; and the WebAssembly pages needed. */
function layoutFor(rows: number, rowBytes: number): { outOffset: number; dataOffset: number; batch: BatchLayout; pages: number } {
  const outOffset = align64(SELECTION_OFFSET + Math.ceil((rows + 7) / 8));
  const dataOffset = Math.ceil((outOffset + rowBytes) / 4096) * 4096;
  const scratchOffset = align64(dataOffset + rows * rowBytes);
  const selsOffset = scratchOffset + BATCH_SCRATCH_BYTES;
  // The batched kernel reads a selection's bits 4 bytes at a time, up to 4 bytes past the shard's own (masked off): room for it.
  const selStride = align64(Math.ceil((rows + 40) / 8));
  // One cache line more than the row: results 4 KiB apart would all fall into the same L1 cache set.
  const outStride = align64(rowBytes) + 64;
  for (let capacity = MAX_BATCH; capacity >= 2; capacity /= 2) {
    const outsOffset = align64(selsOffset + capacity * selStride);
    const pages = Math.ceil((outsOffset + capacity * outStride) / PAGE_BYTES);
    if (pages <= MAX_PAGES) return { outOffset, dataOffset, batch: { capacity, scratchOffset, selsOffset, selStride, outsOffset, outStride }, pages: Math.max(1, pages) };
  }
  throw new ScanError('invalid-database', 'a shard does not fit in one WebAssembly memory');
}

function newMemory(pages: number): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}

/** One shard of a WasmShardedDatabase: its rows live in its own shared WebAssembly memory. */
export class WasmShard implements PirShard, ShardLayout {
  readonly memory: WebAssembly.Memory;
  readonly outOffset: number;
  readonly dataOffset: number;
  readonly batch: BatchLayout;
  /** The shard's rows, a view into its memory: write the database here. */
  readonly data: Uint8Array;

  constructor(readonly firstRow: number, readonly rows: number, readonly rowBytes: number) {
    const layout = layoutFor(rows, rowBytes);
    this.memory = newMemory(layout.pages);
    this.outOffset = layout.outOffset;
    this.dataOffset = layout.dataOffset;
    this.batch = layout.batch;
    this.data = new Uint8Array(this.memory.buffer, this.dataOffset, rows * rowBytes);
  }

  /** The plain data a worker thread needs to scan this shard in place. */
  layout(): ShardLayout {
    const { memory, firstRow, rows, rowBytes, outOffset, dataOffset, batch } = this;
    return { memory, firstRow, rows, rowBytes, outOffset, dataOffset, batch };
  }
}

export interface ShardOptions {
  /** Bytes of rows per shard (default 64 MiB, at most 1 GiB); a shard holds at least one row. */
  readonly shardBytes?: number;
}

/** A database split into shards of at most shardBytes each, every shard in its own WebAssembly memory. */
export class WasmShardedDatabase implements ShardedPirDatabase {
  readonly shards: readonly WasmShard[];

  constructor(readonly rows: number, readonly rowBytes: number, options: ShardOptions = {}) {
    const shardBytes = options.shardBytes ?? DEFAULT_SHARD_BYTES;
    if (!Number.isInteger(rows) || rows < 1 || rows > 2 ** 32 - 1) throw new ScanError('invalid-database', 'rows must be an integer in 1..2^32-1');
    if (!Number.isInteger(rowBytes) || rowBytes < 1 || rowBytes > MAX_ROW_BYTES) throw new ScanError('invalid-database', `rowBytes must be an integer in 1..${MAX_ROW_BYTES}`);
    if (!Number.isInteger(shardBytes) || shardBytes < 1 || shardBytes > MAX_SHARD_BYTES) throw new ScanError('invalid-database', `shardBytes must be an integer in 1..${MAX_SHARD_BYTES}`);
    const perShard = Math.max(1, Math.floor(shardBytes / rowBytes));
    const shards: WasmShard[] = [];
    for (let first = 0; first < rows; first += perShard) shards.push(new WasmShard(first, Math.min(perShard, rows - first), rowBytes));
    this.shards = shards;
  }

  /** Row r's bytes (a view into its shard's memory). */
  row(index: number): Uint8Array {
    if (!Number.isInteger(index) || index < 0 || index >= this.rows) throw new RangeError(`row ${index} is outside 0..${this.rows - 1}`);
    const perShard = this.shards[0].rows;
    const shard = this.shards[Math.floor(index / perShard)];
    const offset = (index - shard.firstRow) * this.rowBytes;
    return shard.data.subarray(offset, offset + this.rowBytes);
  }

  /** Copies a flat row array (row r at r * rowBytes) into the shards. */
  load(data: Uint8Array): void {
    if (!(data instanceof Uint8Array) || data.length !== this.rows * this.rowBytes) {
      throw new ScanError('invalid-database', `expected ${this.rows * this.rowBytes} bytes of rows`);
    }
    for (const shard of this.shards) {
      const start = shard.firstRow * this.rowBytes;
      shard.data.set(data.subarray(start, start + shard.data.length));
    }
  }
}

/** Writes the shard's bits of the selection into its memory and clears its result area. */
export function loadSelection(layout: ShardLayout, selection: Uint8Array): void {
  const bytes = new Uint8Array(layout.memory.buffer);
  const first = Math.floor(layout.firstRow / 8);
  const last = Math.floor((layout.firstRow + layout.rows - 1) / 8);
  bytes.set(selection.subarray(first, last + 1), SELECTION_OFFSET);
  bytes.fill(0, layout.outOffset, layout.outOffset + layout.rowBytes);
}

/** Runs the kernel over the shard: its result area becomes the XOR of its selected rows. */
export function runShard(exports: ScanExports, layout: ShardLayout): void {
  exports.scan(layout.dataOffset, layout.rows, layout.rowBytes, SELECTION_OFFSET, layout.firstRow & 7, layout.outOffset);
}

/** XORs the shard's result area into out. */
export function collectShard(layout: ShardLayout, out: Uint8Array): void {
  const result = new Uint8Array(layout.memory.buffer, layout.outOffset, layout.rowBytes);
  for (let j = 0; j < out.length; j++) out[j] ^= result[j];
}

/** Writes the shard's bits of each selection into its batch area and clears the results (selections.length <= capacity). */
export function loadSelections(layout: ShardLayout, selections: readonly Uint8Array[]): void {
  const bytes = new Uint8Array(layout.memory.buffer);
  const { selsOffset, selStride, outsOffset, outStride } = layout.batch;
  const first = Math.floor(layout.firstRow / 8);
  const last = Math.floor((layout.firstRow + layout.rows - 1) / 8);
  selections.forEach((selection, q) => bytes.set(selection.subarray(first, last + 1), selsOffset + q * selStride));
  bytes.fill(0, outsOffset, outsOffset + selections.length * outStride);
}

/** Runs the batched kernel over the shard for the first `count` selections loaded. */
export function runShardBatch(exports: ScanExports, layout: ShardLayout, count: number): void {
  const { scratchOffset, selsOffset, selStride, outsOffset, outStride } = layout.batch;
  exports.scan_batch(layout.dataOffset, layout.rows, layout.rowBytes, layout.firstRow & 7, count, selsOffset, selStride, outsOffset, outStride, scratchOffset);
}

/** XORs the shard's batched results into outs. */
export function collectShardBatch(layout: ShardLayout, outs: readonly Uint8Array[]): void {
  outs.forEach((out, q) => {
    const result = new Uint8Array(layout.memory.buffer, layout.batch.outsOffset + q * layout.batch.outStride, layout.rowBytes);
    for (let j = 0; j < out.length; j++) out[j] ^= result[j];
  });
}

/** The selections one batched pass over every shard of `shards` takes. */
export function batchCapacity(shards: readonly ShardLayout[]): number {
  return Math.min(...shards.map((shard) => shard.batch.capacity));
}

/** Chunk size for databases that do not live in WebAssembly memory: copied in, then scanned. */
const SCRATCH_BYTES = 4 * 2 ** 20;

/**
 * The WebAssembly SIMD kernel in the calling thread. A WasmShardedDatabase is scanned in place;
 * any other database is copied through a scratch memory chunk by chunk first (correct, but the
 * copy costs about as much as the scan: keep a server's database in a WasmShardedDatabase).
 */
export class WasmScanKernel implements ScanKernel {
  readonly name = 'wasm-simd';
  private readonly instances = new WeakMap<WebAssembly.Memory, ScanExports>();
  private scratch: (Omit<ShardLayout, 'firstRow'>) | undefined;

  constructor(readonly module: WebAssembly.Module = loadScanModule()) {}

  /** The kernel instantiated over a memory (cached). */
  exportsFor(memory: WebAssembly.Memory): ScanExports {
    let exports = this.instances.get(memory);
    if (exports === undefined) {
      exports = instantiateScan(this.module, memory);
      this.instances.set(memory, exports);
    }
    return exports;
  }

  scan(database: ScanDatabase, selection: Uint8Array): Uint8Array {
    const shards = shardsOf(database);
    checkSelection(database.rows, selection);
    const out = new Uint8Array(database.rowBytes);
    for (const shard of shards) {
      if (shard instanceof WasmShard && shard.rowBytes === database.rowBytes) {
        loadSelection(shard, selection);
        runShard(this.exportsFor(shard.memory), shard);
        collectShard(shard, out);
      } else {
        this.scanCopied(shard, database.rowBytes, selection, out);
      }
    }
    return out;
  }

  /**
   * One pass per shard answers every selection (in passes of the shards' batch capacity). A
   * database outside WebAssembly memory is scanned once per selection, through the copy path.
   */
  scanBatch(database: ScanDatabase, selections: readonly Uint8Array[]): Uint8Array[] {
    const shards = shardsOf(database);
    checkSelections(database.rows, selections);
    const inPlace = shards.every((shard) => shard instanceof WasmShard && shard.rowBytes === database.rowBytes);
    if (!inPlace) return selections.map((selection) => this.scan(database, selection));
    const layouts = shards as readonly WasmShard[];
    const outs = selections.map(() => new Uint8Array(database.rowBytes));
    const step = batchCapacity(layouts);
    for (let start = 0; start < selections.length; start += step) {
      const part = selections.slice(start, start + step);
      for (const shard of layouts) {
        loadSelections(shard, part);
        runShardBatch(this.exportsFor(shard.memory), shard, part.length);
        collectShardBatch(shard, outs.slice(start, start + step));
      }
    }
    return outs;
  }

  /** The floor: XOR-folds the shard's rows with plain v128 loads, no selection. Returns 16 bytes. */
  fold(shard: WasmShard): Uint8Array {
    this.exportsFor(shard.memory).fold(shard.dataOffset, shard.rows * shard.rowBytes, FOLD_OFFSET);
    return new Uint8Array(shard.memory.buffer, FOLD_OFFSET, 16).slice();
  }

  private scanCopied(shard: PirShard, rowBytes: number, selection: Uint8Array, out: Uint8Array): void {
    const chunkRows = Math.max(1, Math.floor(SCRATCH_BYTES / rowBytes));
    let scratch = this.scratch;
    if (scratch === undefined || scratch.rowBytes !== rowBytes) {
      const layout = layoutFor(chunkRows, rowBytes);
      scratch = { memory: newMemory(layout.pages), rowBytes, rows: chunkRows, outOffset: layout.outOffset, dataOffset: layout.dataOffset, batch: layout.batch };
      this.scratch = scratch;
    }
    const bytes = new Uint8Array(scratch.memory.buffer);
    const exports = this.exportsFor(scratch.memory);
    for (let done = 0; done < shard.rows; done += chunkRows) {
      const rows = Math.min(chunkRows, shard.rows - done);
      bytes.set(shard.data.subarray(done * rowBytes, (done + rows) * rowBytes), scratch.dataOffset);
      const layout: ShardLayout = { ...scratch, firstRow: shard.firstRow + done, rows };
      loadSelection(layout, selection);
      runShard(exports, layout);
      collectShard(layout, out);
    }
  }
}

/** The WASM kernel with the built scan.wasm (raises ScanError('kernel-unavailable') if it is missing). */
export function loadWasmScanKernel(path?: string): WasmScanKernel {
  return new WasmScanKernel(loadScanModule(path));
}
