import { ParallelScanKernel } from '../../codec/pir-scan/parallel.js';
import type { ScanDatabase, ScanKernel } from '../../codec/pir-scan/types.js';
import { WasmScanKernel, WasmShardedDatabase } from '../../codec/pir-scan/wasm-kernel.js';
import type { NodeLog } from '../log.js';

/**
 * The scan kernel for each held snapshot (docs/pir.md, "Sharding and threads"): a database in
 * WebAssembly memories of at least OFF_THREAD_MIN_BYTES is scanned off the event loop by a
 * ParallelScanKernel of `threads` worker threads (at most one per shard; scanBatchAsync), started the first time it is queried and stopped
 * when the snapshot is dropped; anything else, or when the workers fail, by the base kernel.
 */
/** Databases smaller than this are scanned on the event loop (a pass of 8 MiB takes about 1 ms). */
export const OFF_THREAD_MIN_BYTES = 8 * 2 ** 20;

export class SnapshotScanKernels {
  private readonly parallel = new Map<ScanDatabase, ParallelScanKernel>();
  /** Snapshots dropped: a query queued before the drop is scanned by the base kernel, starting no threads. */
  private readonly released = new WeakSet<ScanDatabase>();
  private warned = false;

  constructor(
    readonly base: ScanKernel,
    readonly threads: number,
    private readonly log: NodeLog,
  ) {}

  /** Databases with scan threads running. */
  get running(): number {
    return this.parallel.size;
  }

  kernelFor(database: ScanDatabase): ScanKernel {
    const { base } = this;
    if (!(base instanceof WasmScanKernel) || !(database instanceof WasmShardedDatabase)) return base;
    // A small database is scanned in well under a millisecond: starting its threads (a new snapshot
    // every refresh) would cost far more than the pass holds the event loop.
    if (database.rows * database.rowBytes < OFF_THREAD_MIN_BYTES) return base;
    if (this.released.has(database)) return base;
    let kernel = this.parallel.get(database);
    if (kernel?.failed === true) {
      this.fallBack('a scan worker failed');
      this.release(database);
      return base;
    }
    if (kernel === undefined) {
      try {
        kernel = new ParallelScanKernel(database, { threads: Math.min(this.threads, database.shards.length), module: base.module, offThread: true });
      } catch (error) {
        this.fallBack(error instanceof Error ? error.message : String(error));
        return base;
      }
      this.parallel.set(database, kernel);
    }
    return kernel;
  }

  private fallBack(reason: string): void {
    if (!this.warned) this.log(`provider: PIR scan threads did not start or failed (${reason}); scanning on the main thread`, 'warn');
    this.warned = true;
  }

  /** Stops the threads of a snapshot no longer held. */
  release(database: ScanDatabase): void {
    this.released.add(database);
    const kernel = this.parallel.get(database);
    if (kernel === undefined) return;
    this.parallel.delete(database);
    void kernel.close();
  }

  close(): void {
    for (const database of [...this.parallel.keys()]) this.release(database);
  }
}
