import type { ShardLayout } from './wasm-kernel.js';

/** Slots of the Int32Array that ParallelScanKernel and its workers share (parallel.ts). */
export const CONTROL = {
  generation: 0, // bumped by the caller to start a scan (or to stop, with stop = 1)
  next: 1, // the next shard to take: every thread takes shards with Atomics.add until none is left
  done: 2, // shards finished in this scan; workers notify on it
  ready: 3, // workers that have instantiated the kernel over every shard
  stop: 4, // 1: workers exit
  error: 5, // 1: a worker failed
  batch: 6, // 0: this scan is a single scan; n >= 1: a batched scan of n selections
  length: 7,
} as const;

/** What each worker is given at start (structured-cloned; the memories are shared, not copied). */
export interface WorkerData {
  readonly module: WebAssembly.Module;
  readonly control: Int32Array;
  readonly shards: readonly ShardLayout[];
}
