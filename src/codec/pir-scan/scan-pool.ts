import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { POOL, POOL_MAX_SHARDS, type PoolMessage, type PoolWorkerData } from './scan-worker-protocol.js';
import { checkSelections, ScanError, type ScanDatabase, type ScanKernel } from './types.js';
import { batchCapacity, collectShardBatch, loadScanModule, loadSelections, WasmScanKernel, type WasmShardedDatabase } from './wasm-kernel.js';

/**
 * One set of scan threads shared by every database a process scans (docs/pir.md, "Sharding and
 * threads"). `threads` workers start at the first database added and run until close(); a database
 * is handed to them once (add: its shards' shared memories, posted on each worker's port, so nothing
 * is copied) and dropped with release(). Passes over any of the databases run one after the other
 * on every worker, exactly like ParallelScanKernel with offThread: the caller copies the selections
 * in, publishes the pass in a shared Int32Array (scan-worker-protocol.ts, POOL), awaits the done
 * count with Atomics.waitAsync and collects the results, so its event loop keeps turning. Floor 1.
 */
export interface ScanThreadPoolOptions {
  /** Worker threads (at least 1). */
  readonly threads: number;
  readonly module?: WebAssembly.Module;
  /** How long to wait for the workers to start, and for a pass to finish, in ms (default 30000). */
  readonly timeoutMs?: number;
}

type WaitAsyncResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
/** Atomics.waitAsync (Node 20; not in the ES2022 typings this project compiles against). */
const waitAsync = (Atomics as unknown as { waitAsync: (array: Int32Array, index: number, value: number, timeout: number) => WaitAsyncResult }).waitAsync;

interface PoolWorker {
  readonly worker: Worker;
  readonly port: MessagePort;
}

export class ScanThreadPool {
  readonly threads: number;
  readonly module: WebAssembly.Module;
  private readonly timeoutMs: number;
  private readonly control = new Int32Array(new SharedArrayBuffer(POOL.length * 4));
  private readonly workers: PoolWorker[] = [];
  private readonly ids = new Map<WasmShardedDatabase, number>();
  private readonly kernels = new Map<WasmShardedDatabase, PooledScanKernel>();
  private nextId = 1;
  private pass = 0;
  private closed = false;
  private exited = 0;
  /** The passes, one after the other (a pass owns the control slots and its database's batch areas). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: ScanThreadPoolOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 1) throw new ScanError('worker-failed', 'a scan thread pool needs at least one thread');
    this.threads = options.threads;
    this.module = options.module ?? loadScanModule();
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Worker threads started so far (never more than `threads`). */
  get started(): number {
    return this.workers.length;
  }

  /** Worker threads started and not yet exited. */
  get running(): number {
    return this.workers.length - this.exited;
  }

  /** Databases handed to the workers and not yet released. */
  get databases(): number {
    return this.ids.size;
  }

  /** A worker failed or did not start: the pool can no longer scan. */
  get failed(): boolean {
    return Atomics.load(this.control, POOL.error) !== 0;
  }

  /** The kernel scanning `database` on the pool; hands the database to the workers the first time. */
  kernelFor(database: WasmShardedDatabase): PooledScanKernel {
    if (this.closed) throw new ScanError('worker-failed', 'the scan thread pool is closed');
    const known = this.kernels.get(database);
    if (known !== undefined) return known;
    if (database.shards.length >= POOL_MAX_SHARDS) throw new ScanError('invalid-database', `a pooled database has fewer than ${POOL_MAX_SHARDS} shards`);
    this.startWorkers();
    const id = this.nextId++;
    const message: PoolMessage = { type: 'add', id, shards: database.shards.map((shard) => shard.layout()) };
    for (const { port } of this.workers) port.postMessage(message);
    const kernel = new PooledScanKernel(this, database, `wasm-simd-pool${this.threads}`);
    this.ids.set(database, id);
    this.kernels.set(database, kernel);
    return kernel;
  }

  /** Drops a database: the workers let go of its memories when they next wake (at once when idle). */
  release(database: WasmShardedDatabase): void {
    const id = this.ids.get(database);
    if (id === undefined) return;
    this.ids.delete(database);
    this.kernels.delete(database);
    const message: PoolMessage = { type: 'drop', id };
    for (const { port } of this.workers) port.postMessage(message);
    if (!this.closed) this.wake();
  }

  /** Queues a batched pass of `selections` over a database added to this pool. */
  scanBatchAsync(database: WasmShardedDatabase, selections: readonly Uint8Array[]): Promise<Uint8Array[]> {
    const id = this.ids.get(database);
    if (this.closed || id === undefined) return Promise.reject(new ScanError('worker-failed', 'the database is not held by an open scan thread pool'));
    const pass = this.queue.then(() => this.batch(id, database, selections));
    this.queue = pass.catch(() => undefined);
    return pass;
  }

  /** Stops every worker once the passes already queued are done; resolves when all have exited. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => undefined);
    for (const database of [...this.ids.keys()]) this.release(database);
    Atomics.store(this.control, POOL.stop, 1);
    this.wake();
    await Promise.all(this.workers.map(({ worker }) => worker.terminate()));
  }

  private startWorkers(): void {
    if (this.workers.length > 0) return;
    for (let i = 0; i < this.threads; i++) {
      const { port1, port2 } = new MessageChannel();
      const data: PoolWorkerData = { module: this.module, control: this.control, port: port2 };
      // execArgv: []: the caller's flags (e.g. --input-type) may not apply to a worker loaded from a file.
      const worker = new Worker(new URL('./scan-pool-worker.js', import.meta.url), { workerData: data, transferList: [port2], execArgv: [] });
      worker.unref();
      worker.on('error', () => {
        Atomics.store(this.control, POOL.error, 1);
        Atomics.notify(this.control, POOL.ready);
        Atomics.notify(this.control, POOL.done);
      });
      worker.on('exit', () => {
        this.exited++;
      });
      this.workers.push({ worker, port: port1 });
    }
  }

  private wake(): void {
    Atomics.add(this.control, POOL.generation, 1);
    Atomics.notify(this.control, POOL.generation);
  }

  private async batch(id: number, database: WasmShardedDatabase, selections: readonly Uint8Array[]): Promise<Uint8Array[]> {
    await this.awaitAsync(POOL.ready, this.workers.length, 'start');
    const shards = database.shards;
    const outs = selections.map(() => new Uint8Array(database.rowBytes));
    const step = batchCapacity(shards);
    for (let start = 0; start < selections.length; start += step) {
      const part = selections.slice(start, start + step);
      for (const shard of shards) loadSelections(shard, part);
      this.start(id, part.length, shards.length);
      await this.awaitAsync(POOL.done, shards.length, 'scan');
      for (const shard of shards) collectShardBatch(shard, outs.slice(start, start + step));
    }
    return outs;
  }

  /** Publishes a pass (the order matters: scan-worker-protocol.ts, POOL) and wakes the workers. */
  private start(id: number, batch: number, count: number): void {
    const c = this.control;
    this.pass = (this.pass % 0x7fff) + 1;
    Atomics.store(c, POOL.pass, this.pass);
    Atomics.store(c, POOL.database, id);
    Atomics.store(c, POOL.batch, batch);
    Atomics.store(c, POOL.count, count);
    Atomics.store(c, POOL.done, 0);
    Atomics.store(c, POOL.claim, this.pass << 16);
    this.wake();
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
}

/**
 * The ScanKernel of one database on a ScanThreadPool: scanBatchAsync runs on the pool; the
 * synchronous scan and scanBatch run on the calling thread (same kernel, same bytes).
 */
export class PooledScanKernel implements ScanKernel {
  private readonly local: WasmScanKernel;

  constructor(readonly pool: ScanThreadPool, readonly database: WasmShardedDatabase, readonly name: string) {
    this.local = new WasmScanKernel(pool.module);
  }

  scan(database: ScanDatabase, selection: Uint8Array): Uint8Array {
    this.check(database);
    return this.local.scan(database, selection);
  }

  scanBatch(database: ScanDatabase, selections: readonly Uint8Array[]): Uint8Array[] {
    this.check(database);
    return this.local.scanBatch(database, selections);
  }

  scanBatchAsync(database: ScanDatabase, selections: readonly Uint8Array[]): Promise<Uint8Array[]> {
    try {
      this.check(database);
      checkSelections(database.rows, selections);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.pool.scanBatchAsync(this.database, selections);
  }

  private check(database: ScanDatabase): void {
    if (database !== this.database) throw new ScanError('foreign-database', 'this kernel scans only the database it was created for');
  }
}
