import { ParallelScanKernel } from '../../codec/pir-scan/parallel.js';
import type { ScanDatabase, ScanKernel } from '../../codec/pir-scan/types.js';
import { WasmScanKernel, WasmShardedDatabase } from '../../codec/pir-scan/wasm-kernel.js';
import type { NodeLog } from '../log.js';

/**
 * The scan kernel for each held snapshot (docs/pir.md, "Sharding and threads"): a database of
 * several shards in WebAssembly memories is scanned by a ParallelScanKernel on `threads` threads
 * (the caller's included), started the first time it is queried and stopped when the snapshot is
 * dropped; anything else, or when threads is 1 or the workers do not start, by the base kernel.
 */
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
    if (this.threads <= 1 || !(base instanceof WasmScanKernel) || !(database instanceof WasmShardedDatabase) || database.shards.length < 2) return base;
    if (this.released.has(database)) return base;
    let kernel = this.parallel.get(database);
    if (kernel === undefined) {
      try {
        kernel = new ParallelScanKernel(database, { threads: this.threads, module: base.module });
      } catch (error) {
        if (!this.warned) this.log(`provider: PIR scan threads did not start (${error instanceof Error ? error.message : String(error)}); scanning on the main thread`, 'warn');
        this.warned = true;
        return base;
      }
      this.parallel.set(database, kernel);
    }
    return kernel;
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
