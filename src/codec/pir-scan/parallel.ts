import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { CONTROL, type WorkerData } from './scan-worker-protocol.js';
import { checkSelection, checkSelections, ScanError, type ScanDatabase, type ScanKernel } from './types.js';
import { batchCapacity, collectShard, collectShardBatch, loadScanModule, loadSelection, loadSelections, runShard, runShardBatch, WasmScanKernel, type WasmShardedDatabase } from './wasm-kernel.js';

/**
 * The WASM kernel spread over threads: the calling thread and `threads - 1` worker threads take the
 * shards of one WasmShardedDatabase from a shared counter and scan them in place (every shard's
 * memory is shared with every worker). Control runs through a small SharedArrayBuffer with
 * Atomics.wait/notify, not messages, so a scan costs no event-loop turn and stays synchronous:
 * the ScanKernel interface holds. Floor 1 (threads are I/O-ish).
 */
export interface ParallelScanOptions {
  /** Threads scanning, the caller's included (default: the machine's available parallelism). */
  readonly threads?: number;
  /** How long to wait for the workers to start, and for a scan to finish, in ms (default 30000). */
  readonly timeoutMs?: number;
  readonly module?: WebAssembly.Module;
}

export class ParallelScanKernel implements ScanKernel {
  readonly name: string;
  readonly threads: number;
  private readonly control: Int32Array;
  private readonly local: WasmScanKernel;
  private readonly workers: Worker[];
  private readonly timeoutMs: number;
  private closed = false;

  /** Starts the workers and blocks until every one has instantiated the kernel over every shard. */
  constructor(readonly database: WasmShardedDatabase, options: ParallelScanOptions = {}) {
    const module = options.module ?? loadScanModule();
    this.threads = Math.max(1, Math.floor(options.threads ?? availableParallelism()));
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.name = `wasm-simd-x${this.threads}`;
    this.local = new WasmScanKernel(module);
    this.control = new Int32Array(new SharedArrayBuffer(CONTROL.length * 4));
    const data: WorkerData = { module, control: this.control, shards: database.shards.map((shard) => shard.layout()) };
    this.workers = [];
    for (let i = 1; i < this.threads; i++) {
      // execArgv: []: the caller's flags (e.g. --input-type) may not apply to a worker loaded from a file.
      const worker = new Worker(new URL('./scan-worker.js', import.meta.url), { workerData: data, execArgv: [] });
      worker.unref();
      worker.on('error', () => Atomics.store(this.control, CONTROL.error, 1));
      this.workers.push(worker);
    }
    try {
      this.await(CONTROL.ready, this.workers.length, 'start');
    } catch (error) {
      void this.close();
      throw error;
    }
  }

  scan(database: ScanDatabase, selection: Uint8Array): Uint8Array {
    this.check(database);
    checkSelection(database.rows, selection);
    const shards = this.database.shards;
    for (const shard of shards) loadSelection(shard, selection);
    this.run(0, (k) => runShard(this.local.exportsFor(shards[k].memory), shards[k]));
    const out = new Uint8Array(database.rowBytes);
    for (const shard of shards) collectShard(shard, out);
    return out;
  }

  /** The batched scan on every thread: each shard is read once per pass of up to its batch capacity. */
  scanBatch(database: ScanDatabase, selections: readonly Uint8Array[]): Uint8Array[] {
    this.check(database);
    checkSelections(database.rows, selections);
    const shards = this.database.shards;
    const outs = selections.map(() => new Uint8Array(database.rowBytes));
    const step = batchCapacity(shards);
    for (let start = 0; start < selections.length; start += step) {
      const part = selections.slice(start, start + step);
      for (const shard of shards) loadSelections(shard, part);
      this.run(part.length, (k) => runShardBatch(this.local.exportsFor(shards[k].memory), shards[k], part.length));
      for (const shard of shards) collectShardBatch(shard, outs.slice(start, start + step));
    }
    return outs;
  }

  private check(database: ScanDatabase): void {
    if (this.closed) throw new ScanError('worker-failed', 'the parallel kernel is closed');
    if (database !== this.database) throw new ScanError('foreign-database', 'this kernel scans only the database it was created for');
  }

  /** Starts a scan generation (batch 0: single) and takes shards in this thread too until all are done. */
  private run(batch: number, scanShard: (k: number) => void): void {
    const c = this.control;
    const count = this.database.shards.length;
    Atomics.store(c, CONTROL.batch, batch);
    Atomics.store(c, CONTROL.done, 0);
    Atomics.store(c, CONTROL.next, 0);
    Atomics.add(c, CONTROL.generation, 1);
    Atomics.notify(c, CONTROL.generation);
    for (let k = Atomics.add(c, CONTROL.next, 1); k < count; k = Atomics.add(c, CONTROL.next, 1)) {
      scanShard(k);
      Atomics.add(c, CONTROL.done, 1);
    }
    this.await(CONTROL.done, count, 'scan');
  }

  /** Stops the workers. The kernel cannot scan afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.control, CONTROL.stop, 1);
    Atomics.add(this.control, CONTROL.generation, 1);
    Atomics.notify(this.control, CONTROL.generation);
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }

  /** Blocks until control[slot] reaches target; raises ScanError on a worker failure or time-out. */
  private await(slot: number, target: number, what: string): void {
    const c = this.control;
    for (let value = Atomics.load(c, slot); value < target; value = Atomics.load(c, slot)) {
      if (Atomics.load(c, CONTROL.error) !== 0) throw new ScanError('worker-failed', `a scan worker failed during ${what}`);
      if (Atomics.wait(c, slot, value, this.timeoutMs) === 'timed-out') {
        throw new ScanError('worker-failed', `the scan workers did not ${what} within ${this.timeoutMs} ms (a worker that fails to load reports why only once the caller returns to the event loop)`);
      }
    }
    if (Atomics.load(c, CONTROL.error) !== 0) throw new ScanError('worker-failed', `a scan worker failed during ${what}`);
  }
}
