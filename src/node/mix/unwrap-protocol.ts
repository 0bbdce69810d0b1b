import type { BackendName } from '../../crypto/types.js';
import type { GeometryOptions, SuiteName } from '../../sphinx/index.js';
import type { UnwrapOutcome } from '../runtime/hop.js';

/**
 * Messages between a mix's main thread and its unwrap workers (docs/nodes.md, "Unwrap workers").
 * A batch carries packets laid end to end in one transferred buffer and the candidate secrets
 * they are tried under; the answer carries one outcome per packet, in order. No replay filter
 * ever leaves the main thread.
 */
export interface UnwrapWorkerData {
  readonly suite: SuiteName;
  readonly geometry: GeometryOptions;
  readonly backend: BackendName;
}

export interface UnwrapBatch {
  readonly batch: number;
  readonly secrets: readonly Uint8Array[];
  /** `count` packets of the geometry's packet length, end to end. */
  readonly packets: Uint8Array;
  readonly count: number;
}

export interface UnwrapAnswer {
  readonly batch: number;
  readonly outcomes: readonly UnwrapOutcome[];
}

/** The buffers an outcome owns alone (a packet's outgoing bytes), moved rather than copied. */
export function transferablesOf(outcomes: readonly UnwrapOutcome[]): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const outcome of outcomes) {
    if (!outcome.ok) continue;
    const { result } = outcome;
    const bytes = result.kind === 'forward' ? result.packet : result.payload;
    if (bytes.buffer instanceof ArrayBuffer) buffers.add(bytes.buffer);
  }
  return [...buffers];
}
