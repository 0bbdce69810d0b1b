import { availableParallelism } from 'node:os';
import { ScanThreadPool } from '../../codec/pir-scan/scan-pool.js';
import type { ScanDatabase, ScanKernel } from '../../codec/pir-scan/types.js';
import { WasmScanKernel, WasmShardedDatabase } from '../../codec/pir-scan/wasm-kernel.js';
import type { NodeLog } from '../log.js';

/**
 * The scan kernel for each held snapshot (docs/pir.md, "Sharding and threads"): a database in
 * WebAssembly memories of at least OFF_THREAD_MIN_BYTES is scanned off the event loop by the
 * provider's one ScanThreadPool of `threads` workers (scanBatchAsync), started at the first such
 * snapshot, reused by every later one and stopped by close(); a snapshot is handed to the pool at
 * its first query and released when dropped. Anything else, with `threads` 0, or once the pool has
 * failed, is scanned by the base kernel on the event loop.
 */
/** Databases smaller than this are scanned on the event loop (a pass of 8 MiB takes about 1 ms). */
export const OFF_THREAD_MIN_BYTES = 8 * 2 ** 20;

/** Default pool size: one core left to the event loop, at most 2 threads, at least 1. */
export function defaultScanThreads(cores: number = availableParallelism()): number {
  return Math.max(1, Math.min(cores - 1, 2));
}

export class SnapshotScanKernels {
  private pool: ScanThreadPool | undefined;
  /** Snapshots dropped: a query queued before the drop is scanned by the base kernel. */
  private readonly released = new WeakSet<ScanDatabase>();
  private warned = false;
  private failed = false;
  private closed = false;

  constructor(
    readonly base: ScanKernel,
    readonly threads: number,
    private readonly log: NodeLog,
  ) {}

  /** Snapshots handed to the scan threads and not yet dropped. */
  get running(): number {
    return this.pool?.databases ?? 0;
  }

  /** Scan threads started by this provider (at most `threads` over its whole life). */
  get threadsStarted(): number {
    return this.pool?.started ?? 0;
  }

  /** Scan threads started and not yet exited. */
  get threadsRunning(): number {
    return this.pool?.running ?? 0;
  }

  kernelFor(database: ScanDatabase): ScanKernel {
    const { base } = this;
    if (this.threads < 1 || this.failed || this.closed) return base;
    if (!(base instanceof WasmScanKernel) || !(database instanceof WasmShardedDatabase)) return base;
    // A small database is scanned in well under a millisecond on the event loop.
    if (database.rows * database.rowBytes < OFF_THREAD_MIN_BYTES) return base;
    if (this.released.has(database)) return base;
    if (this.pool?.failed === true) {
      this.fallBack('a scan worker failed');
      return base;
    }
    try {
      this.pool ??= new ScanThreadPool({ threads: this.threads, module: base.module });
      return this.pool.kernelFor(database);
    } catch (error) {
      this.fallBack(error instanceof Error ? error.message : String(error));
      return base;
    }
  }

  /** From now on every snapshot is scanned on the event loop; the pool's threads stop. */
  private fallBack(reason: string): void {
    if (!this.warned) this.log(`provider: PIR scan threads did not start or failed (${reason}); scanning on the main thread`, 'warn');
    this.warned = true;
    this.failed = true;
    void this.pool?.close();
  }

  /** Hands a snapshot no longer held back from the scan threads. */
  release(database: ScanDatabase): void {
    this.released.add(database);
    if (database instanceof WasmShardedDatabase) this.pool?.release(database);
  }

  /** Stops the scan threads once the passes queued are done; resolves when they have exited. */
  close(): Promise<void> {
    this.closed = true;
    return this.pool?.close() ?? Promise.resolve();
  }
}
