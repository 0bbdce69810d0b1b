import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { claimShard, claimTag, CONTROL, type WorkerData } from './scan-worker-protocol.js';
import { checkSelection, checkSelections, ScanError, type ScanDatabase, type ScanKernel } from './types.js';
import { batchCapacity, collectShard, collectShardBatch, loadScanModule, loadSelection, loadSelections, runShard, runShardBatch, WasmScanKernel, type WasmShardedDatabase } from './wasm-kernel.js';

/**
 * The WASM kernel spread over threads: the calling thread and `threads - 1` worker threads take the
 * shards of one WasmShardedDatabase from a shared counter and scan them in place (every shard's
 * memory is shared with every worker). Control runs through a small SharedArrayBuffer with
 * Atomics.wait/notify, not messages, so a scan costs no event-loop turn and stays synchronous:
 * the ScanKernel interface holds. With `offThread`, `threads` workers scan and scanBatchAsync
 * leaves the calling thread free: it starts a pass and awaits it (Atomics.waitAsync), so an event
 * loop keeps running while the workers read the database. Floor 1 (threads are I/O-ish).
 */
export interface ParallelScanOptions {
  /** Threads scanning, the caller's included (default: the machine's available parallelism). */
  readonly threads?: number;
  /** How long to wait for the workers to start, and for a scan to finish, in ms (default 30000). */
  readonly timeoutMs?: number;
  readonly module?: WebAssembly.Module;
  /** Workers only: `threads` workers, none of them the caller's; the constructor does not wait for them (scanBatchAsync does). */
  readonly offThread?: boolean;
}

type WaitAsyncResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
/** Atomics.waitAsync (Node 20; not in the ES2022 typings this project compiles against). */
const waitAsync = (Atomics as unknown as { waitAsync: (array: Int32Array, index: number, value: number, timeout: number) => WaitAsyncResult }).waitAsync;

export class ParallelScanKernel implements ScanKernel {
  readonly name: string;
  readonly threads: number;
  private readonly control: Int32Array;
  private readonly local: WasmScanKernel;
  private readonly workers: Worker[];
  private readonly timeoutMs: number;
  private closed = false;
  /** The off-thread passes, one after the other (a pass owns the shards' batch areas). */
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * Starts the workers and blocks until every one has instantiated the kernel over every shard
   * (with offThread: starts them and returns; the first scan waits for them).
   */
  constructor(readonly database: WasmShardedDatabase, options: ParallelScanOptions = {}) {
    const module = options.module ?? loadScanModule();
    this.threads = Math.max(1, Math.floor(options.threads ?? availableParallelism()));
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.name = `wasm-simd-x${this.threads}`;
    this.local = new WasmScanKernel(module);
    this.control = new Int32Array(new SharedArrayBuffer(CONTROL.length * 4));
    const data: WorkerData = { module, control: this.control, shards: database.shards.map((shard) => shard.layout()) };
    this.workers = [];
    const offThread = options.offThread === true;
    for (let i = offThread ? 0 : 1; i < this.threads; i++) {
      // execArgv: []: the caller's flags (e.g. --input-type) may not apply to a worker loaded from a file.
      const worker = new Worker(new URL('./scan-worker.js', import.meta.url), { workerData: data, execArgv: [] });
      worker.unref();
      worker.on('error', () => {
        Atomics.store(this.control, CONTROL.error, 1);
        Atomics.notify(this.control, CONTROL.ready);
        Atomics.notify(this.control, CONTROL.done);
      });
      this.workers.push(worker);
    }
    if (offThread) {
      const started = this.awaitAsync(CONTROL.ready, this.workers.length, 'start');
      started.catch(() => undefined); // reported to the first scan, which waits on it
      this.queue = started;
      return;
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

  /** A worker failed or did not start: this kernel can no longer scan. */
  get failed(): boolean {
    return Atomics.load(this.control, CONTROL.error) !== 0;
  }

  /**
   * scanBatch done by the workers alone (threads = workers with offThread): the calling thread
   * copies the selections in, starts each pass and awaits it, then collects the results. Passes
   * run one after the other. Rejects with ScanError as scanBatch raises it.
   */
  scanBatchAsync(database: ScanDatabase, selections: readonly Uint8Array[]): Promise<Uint8Array[]> {
    try {
      this.check(database);
      checkSelections(database.rows, selections);
    } catch (error) {
      return Promise.reject(error);
    }
    const pass = this.queue.then(() => this.batchOffThread(selections));
    this.queue = pass.catch(() => undefined);
    return pass;
  }

  private async batchOffThread(selections: readonly Uint8Array[]): Promise<Uint8Array[]> {
    const shards = this.database.shards;
    const outs = selections.map(() => new Uint8Array(this.database.rowBytes));
    const step = batchCapacity(shards);
    for (let start = 0; start < selections.length; start += step) {
      const part = selections.slice(start, start + step);
      for (const shard of shards) loadSelections(shard, part);
      this.start(part.length);
      await this.awaitAsync(CONTROL.done, shards.length, 'scan');
      for (const shard of shards) collectShardBatch(shard, outs.slice(start, start + step));
    }
    return outs;
  }

  /** Waits without blocking until control[slot] reaches target; rejects with ScanError on a worker failure or time-out. */
  private async awaitAsync(slot: number, target: number, what: string): Promise<void> {
    const c = this.control;
    const deadline = performance.now() + this.timeoutMs;
    for (let value = Atomics.load(c, slot); value < target; value = Atomics.load(c, slot)) {
      if (this.failed) throw new ScanError('worker-failed', `a scan worker failed during ${what}`);
      const left = deadline - performance.now();
      const wait = left > 0 ? waitAsync(c, slot, value, left) : { async: false, value: 'timed-out' } as const;
      // A pending waitAsync does not keep Node's event loop alive (the workers are unref'd): a timer does.
      const keepAlive = setTimeout(() => undefined, Math.max(0, left));
      const result = wait.async ? await wait.value.finally(() => clearTimeout(keepAlive)) : (clearTimeout(keepAlive), wait.value);
      if (result === 'timed-out') throw new ScanError('worker-failed', `the scan workers did not ${what} within ${this.timeoutMs} ms`);
    }
    if (this.failed) throw new ScanError('worker-failed', `a scan worker failed during ${what}`);
  }

  private check(database: ScanDatabase): void {
    if (this.closed) throw new ScanError('worker-failed', 'the parallel kernel is closed');
    if (database !== this.database) throw new ScanError('foreign-database', 'this kernel scans only the database it was created for');
  }

  /** Starts a scan generation (batch 0: single) and takes shards in this thread too until all are done. */
  private run(batch: number, scanShard: (k: number) => void): void {
    const c = this.control;
    const count = this.database.shards.length;
    this.await(CONTROL.ready, this.workers.length, 'start');
    const tag = this.start(batch);
    for (let k = claimShard(c, tag, count); k !== undefined; k = claimShard(c, tag, count)) {
      scanShard(k);
      Atomics.add(c, CONTROL.done, 1);
    }
    this.await(CONTROL.done, count, 'scan');
  }

  /** Starts a scan generation over every shard (batch 0: single scans); returns its claim tag. */
  private start(batch: number): number {
    const c = this.control;
    const generation = Atomics.load(c, CONTROL.generation) + 1;
    const tag = claimTag(generation);
    Atomics.store(c, CONTROL.batch, batch);
    Atomics.store(c, CONTROL.done, 0);
    Atomics.store(c, CONTROL.next, tag);
    Atomics.store(c, CONTROL.generation, generation);
    Atomics.notify(c, CONTROL.generation);
    return tag;
  }

  /** Stops the workers once the passes already started are done. The kernel cannot scan afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => undefined);
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
