import type { ConsensusDocument } from '../../pki/index.js';

/**
 * What both sides of PIR snapshot replication use (docs/pir.md, "Incremental replication"): the
 * origin's pir-replication.ts and the partner's pir-replication-receiver.ts.
 */

/** The connection a replication request came on: compared by identity only. */
export type ReplicationConnection = object;

export interface PirConsensus {
  held(nowMs?: number): ConsensusDocument[];
  active(nowMs?: number): ConsensusDocument | undefined;
}

/**
 * The longest delta of a snapshot: half of it. A delta being received thus adds at most half a
 * snapshot to what a whole transfer holds (docs/pir.md, "Memory"); the origin sends longer ones whole.
 */
export function maxDeltaBytes(shape: { readonly rows: number; readonly rowBytes: number }): number {
  return Math.floor((shape.rows * shape.rowBytes) / 2);
}

/** The consensus's pir.rowBytes for `epoch` (that epoch's document, else the active one), or undefined without one. */
export function rowBytesOfEpoch(consensus: PirConsensus, epoch: number, nowMs: number): number | undefined {
  const doc = consensus.held(nowMs).find((held) => held.epoch === epoch) ?? consensus.active(nowMs);
  return doc?.pir.rowBytes;
}
