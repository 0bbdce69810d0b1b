import type { ShardLayout } from './wasm-kernel.js';
import type { MessagePort } from 'node:worker_threads';

/** Slots of the Int32Array that ParallelScanKernel and its workers share (parallel.ts). */
export const CONTROL = {
  generation: 0, // bumped by the caller to start a scan (or to stop, with stop = 1)
  next: 1, // the next shard to take, tagged with its scan (claimTag): threads take shards with compareExchange until none is left
  done: 2, // shards finished in this scan; workers notify on it
  ready: 3, // workers that have instantiated the kernel over every shard
  stop: 4, // 1: workers exit
  error: 5, // 1: a worker failed
  batch: 6, // 0: this scan is a single scan; n >= 1: a batched scan of n selections
  length: 7,
} as const;

/**
 * A claim on CONTROL.next: the scan's tag (its generation, 15 bits) above the shard index (16 bits).
 * A thread late from an earlier scan finds another tag and takes nothing: with a bare counter, one
 * that added to it just after the caller reset it took shard 0 of the new scan with the old scan's
 * batch size, and that scan's answers were wrong.
 */
export function claimTag(generation: number): number {
  return (generation & 0x7fff) << 16;
}

/** The next shard of the scan tagged `tag`, claimed; undefined when none is left (or the scan is over). */
export function claimShard(control: Int32Array, tag: number, count: number): number | undefined {
  for (;;) {
    const claim = Atomics.load(control, CONTROL.next);
    if ((claim & ~0xffff) !== tag || (claim & 0xffff) >= count) return undefined;
    if (Atomics.compareExchange(control, CONTROL.next, claim, claim + 1) === claim) return claim & 0xffff;
  }
}

/** What each worker is given at start (structured-cloned; the memories are shared, not copied). */
export interface WorkerData {
  readonly module: WebAssembly.Module;
  readonly control: Int32Array;
  readonly shards: readonly ShardLayout[];
}

/**
 * Slots of the Int32Array a ScanThreadPool and its workers share (scan-pool.ts). A pass is published
 * in this order: pass, then database / batch / count / done, then claim = pass << 16 (shard 0), then
 * generation + 1. A worker claims shard k with Atomics.add(claim, 1), reads the descriptor, and keeps
 * the claim only if the pass slot still names the claim's pass and k < count: a worker that woke late
 * can never scan a shard of one pass with the descriptor of another.
 */
export const POOL = {
  generation: 0, // bumped to start a pass, to make the workers read their port, or to stop
  claim: 1, // (pass << 16) | the next shard to take
  done: 2, // shards finished in this pass; workers notify on it
  ready: 3, // workers started
  stop: 4, // 1: workers exit
  error: 5, // 1: a worker failed
  pass: 6, // the current pass's number (15 bits)
  database: 7, // the id of the database this pass scans
  batch: 8, // selections in this pass (>= 1)
  count: 9, // shards of that database
  length: 10,
} as const;

/** Shard indexes take the low 16 bits of the claim slot: a pooled database has fewer shards than this. */
export const POOL_MAX_SHARDS = 2 ** 15;

/** What each pool worker is given at start: the databases arrive later, on its port. */
export interface PoolWorkerData {
  readonly module: WebAssembly.Module;
  readonly control: Int32Array;
  readonly port: MessagePort;
}

/** Messages on a pool worker's port (read with receiveMessageOnPort when the worker wakes). */
export type PoolMessage =
  | { readonly type: 'add'; readonly id: number; readonly shards: readonly ShardLayout[] }
  | { readonly type: 'drop'; readonly id: number };
