import type { BackendName } from '../../crypto/types.js';
import type { GeometryOptions, SuiteName } from '../../sphinx/index.js';

/**
 * Messages between a mix's main thread and its unwrap workers (docs/nodes.md, "Unwrap workers").
 * A batch carries packets laid end to end in one moved buffer, the candidate secrets they are
 * tried under (moved copies) and a buffer for the answer; the answer carries the batch's outcomes,
 * in order, as records in that buffer (src/node/mix/unwrap-codec.ts) and each result's bytes in
 * its own moved array, and moves both buffers back to be used again. No replay filter ever
 * leaves the main thread.
 */
export interface UnwrapWorkerData {
  readonly suite: SuiteName;
  readonly geometry: GeometryOptions;
  readonly backend: BackendName;
}

export interface UnwrapBatch {
  readonly batch: number;
  readonly secrets: readonly Uint8Array[];
  /** `count` packets of the geometry's packet length, end to end (the buffer may hold more). */
  readonly packets: Uint8Array;
  readonly count: number;
  /** Where the worker should encode the outcomes (it may answer in a larger buffer of its own). */
  readonly answer: ArrayBuffer;
}

export interface UnwrapAnswer {
  readonly batch: number;
  /** `count` outcome records (encodeOutcomes) in its first `length` bytes. */
  readonly outcomes: ArrayBuffer;
  readonly length: number;
  /** Each result's bytes (a forward packet, or a payload), in the order of the results; moved. */
  readonly bytes: readonly Uint8Array[];
  /** The batch's packet buffer, moved back for the next batch. */
  readonly packets: ArrayBuffer;
}
