import type { Crypto } from '../../crypto/types.js';
import { hexOf, sameBytes } from '../../codec/bytes.js';
import { epochAt, type EpochTiming } from '../../pki/index.js';
import { shapeProblem, snapshotRoot } from '../../pir/snapshot.js';
import { rebuildFromDelta, SnapshotDeltaError } from '../../pir/snapshot-delta.js';
import type { Clock } from '../../net/clock.js';
import type { NodeMetrics } from '../runtime/metrics.js';
import { encodePirAck, pirOfferSignedBytes, pirPartner, PIR_ANSWER_HEADER_BYTES, RetrievalRequestError, type PirOffer } from '../../wire/index.js';
import type { HeldSnapshot, PirSnapshotCache } from './pir-snapshot-cache.js';
import { maxDeltaBytes, rowBytesOfEpoch, type PirConsensus, type ReplicationConnection } from './pir-replication-shared.js';
import { databaseRows } from './snapshot-rows.js';

/**
 * The partner's side of PIR snapshot replication (pir-replication.ts; docs/pir.md, "Snapshot
 * lifecycle (provider)"): takes pir-offer or pir-delta, then pir-chunk, and holds the snapshot once
 * its rows hash to the offered id. Whole: the rows arrive with their paths and are checked by
 * snapshotRoot. Delta: the delta arrives, is applied to the base held here (an earlier snapshot of
 * the same origin, epoch and row size), and the tree is recomputed (rebuildFromDelta).
 *
 * A transfer belongs to the connection whose verified offer started it: only that connection's
 * chunks feed it, and only a new offer on that connection starts it over. The same offer replayed
 * on another connection changes nothing (refused 'busy' while under way, acknowledged complete
 * once held), a chunk from another connection is refused 'unknown-snapshot', and a transfer whose
 * connection closes is dropped.
 */
export interface PirReplicationReceiverDeps {
  readonly crypto: Crypto;
  readonly clock: Clock;
  readonly timing: EpochTiming;
  readonly nodeId: Uint8Array;
  readonly consensus: PirConsensus;
  readonly metrics: NodeMetrics;
  readonly maxResponseBytes: number;
  /** Largest snapshot accepted. */
  readonly maxSnapshotBytes: number;
  /** Where a complete, verified snapshot goes. */
  readonly cache: PirSnapshotCache;
  /** Takes rows of any size (PirServiceOptions.rowSizing, a test hook); else only the consensus's. */
  readonly anyRowBytes?: boolean;
  /** Throws for an epoch this provider does not serve (past its retention, or not begun). */
  readonly checkEpoch: (epoch: number, requestId: number) => void;
}

interface PendingTransfer {
  readonly offer: PirOffer;
  readonly connection: ReplicationConnection;
  /** The base snapshot's id when the chunks carry a delta; undefined when they carry the rows. */
  readonly baseId: Uint8Array | undefined;
  /** The rows (whole) or the delta, as offered. */
  readonly buffer: Uint8Array;
  received: number;
  readonly timer: ReturnType<typeof setTimeout>;
}

const MAX_PENDING = 4;
const PENDING_TIMEOUT_MS = 30_000;
const BYTES_HELP = 'Provider: bytes of PIR snapshots (whole) and of snapshot deltas received from the partner provider in pir-chunks.';

/** The partner side: takes pir-offer, pir-delta and pir-chunk, and holds the snapshot once verified. */
export class PirReplicationReceiver {
  /** Snapshots received and held so far. */
  received = 0;
  private readonly pending = new Map<string, PendingTransfer>();

  constructor(private readonly deps: PirReplicationReceiverDeps) {}

  /** A snapshot offered whole: its rows follow in pir-chunks. */
  offer(requestId: number, offer: PirOffer, connection: ReplicationConnection): Uint8Array {
    if (this.checkOffer(requestId, offer)) return encodePirAck(requestId, true);
    return this.start(requestId, offer, connection, undefined, offer.rows * offer.rowBytes);
  }

  /**
   * A snapshot offered as a delta from `baseId`: the delta (deltaBytes) follows in pir-chunks.
   * Refused 'unknown-snapshot' when the base is not held here (the origin then offers it whole),
   * 'bad-snapshot' when the base is not of the same origin, epoch and row size, or the delta would
   * be more than half the snapshot (maxDeltaBytes), on top of every check of a whole offer.
   */
  delta(requestId: number, offer: PirOffer, baseId: Uint8Array, deltaBytes: number, connection: ReplicationConnection): Uint8Array {
    if (this.checkOffer(requestId, offer)) return encodePirAck(requestId, true);
    if (deltaBytes > maxDeltaBytes(offer)) throw this.badSnapshot(requestId, 'too-large', 'a delta is at most half the snapshot it gives: send it whole');
    this.baseOf(requestId, offer, baseId);
    return this.start(requestId, offer, connection, baseId, deltaBytes);
  }

  chunk(requestId: number, snapshotId: Uint8Array, offset: number, data: Uint8Array, connection: ReplicationConnection): Uint8Array {
    const { deps } = this;
    const key = hexOf(snapshotId);
    const pending = this.pending.get(key);
    if (pending === undefined) {
      if (deps.cache.get(snapshotId) !== undefined) return encodePirAck(requestId, true);
      throw new RetrievalRequestError('unknown-snapshot', requestId, 'no transfer of that snapshot was offered');
    }
    if (pending.connection !== connection) {
      deps.metrics.registry.inc('node_pir_received_total', '', { result: 'other-connection' });
      throw new RetrievalRequestError('unknown-snapshot', requestId, 'no transfer of that snapshot was offered on this connection');
    }
    if (offset !== pending.received || offset + data.length > pending.buffer.length) {
      clearTimeout(pending.timer);
      this.pending.delete(key);
      throw this.badSnapshot(requestId, 'out-of-order', 'chunks must arrive in order and within the snapshot (or its delta)');
    }
    pending.buffer.set(data, offset);
    pending.received += data.length;
    deps.metrics.registry.inc('node_pir_received_bytes_total', BYTES_HELP, { kind: pending.baseId === undefined ? 'whole' : 'delta' }, data.length);
    if (pending.received < pending.buffer.length) return encodePirAck(requestId, false);
    clearTimeout(pending.timer);
    this.pending.delete(key);
    const { offer } = pending;
    const rows = pending.baseId === undefined ? this.verifiedWhole(requestId, offer, pending.buffer) : this.rebuilt(requestId, offer, pending.baseId, pending.buffer);
    deps.cache.hold({ ...offer, data: rows, placed: 0, omitted: 0, oversized: 0 }, false, '', deps.clock.now());
    this.received++;
    deps.metrics.registry.inc('node_pir_received_total', '', { result: 'ok' });
    return encodePirAck(requestId, true);
  }

  /** Drops the transfers a closed connection was making. */
  connectionClosed(connection: ReplicationConnection): void {
    for (const [key, pending] of this.pending) {
      if (pending.connection !== connection) continue;
      clearTimeout(pending.timer);
      this.pending.delete(key);
    }
  }

  /** Abandons the transfers under way. */
  close(): void {
    for (const pending of this.pending.values()) clearTimeout(pending.timer);
    this.pending.clear();
  }

  /**
   * Every check of an offer, whole or delta: shape, row size, limits, epoch, the sender being the
   * provider whose partner this is, the signature. True when the snapshot is held already.
   */
  private checkOffer(requestId: number, offer: PirOffer): boolean {
    const { deps } = this;
    const now = deps.clock.now();
    const problem = shapeProblem(offer);
    if (problem !== undefined) throw this.badSnapshot(requestId, 'bad-shape', `the offered shape is invalid: ${problem}`);
    // Rows are the size the consensus fixes, never what the content would like.
    const fixed = rowBytesOfEpoch(deps.consensus, offer.epoch, now);
    if (fixed !== undefined && offer.rowBytes !== fixed && deps.anyRowBytes !== true) throw this.badSnapshot(requestId, 'bad-shape', `rows must be ${fixed} bytes (the consensus's pir.rowBytes), not ${offer.rowBytes}`);
    const { rowBytes } = offer;
    if (rowBytes + PIR_ANSWER_HEADER_BYTES > deps.maxResponseBytes || offer.rows * rowBytes > deps.maxSnapshotBytes || offer.rows * rowBytes > 2 ** 32) {
      throw this.badSnapshot(requestId, 'too-large', 'the offered snapshot exceeds this provider\'s limits');
    }
    const current = epochAt(now, deps.timing);
    // The current epochs, and older ones within retention: clients catching up read those (docs/client.md, "Catch-up").
    let served = offer.epoch <= current + 1;
    if (served && offer.epoch < current - 2) {
      try {
        deps.checkEpoch(offer.epoch, requestId);
      } catch {
        served = false;
      }
    }
    if (!served) throw this.badSnapshot(requestId, 'wrong-epoch', 'the offered epoch is neither a current one nor within retention');
    const authorised = deps.consensus.held(now).some((doc) => {
      const partner = pirPartner(doc, offer.origin);
      return partner !== undefined && sameBytes(partner.nodeId, deps.nodeId);
    });
    if (!authorised) throw this.badSnapshot(requestId, 'not-partner', 'this provider is not the PIR partner of the offering node in any consensus it holds');
    if (!deps.crypto.ed25519Verify(offer.origin, pirOfferSignedBytes(offer, deps.nodeId), offer.signature)) {
      throw this.badSnapshot(requestId, 'bad-signature', 'the offer signature does not verify');
    }
    const held = deps.cache.get(offer.snapshotId);
    if (held === undefined) return false;
    deps.cache.markUsed(held); // its origin still names it: kept while clients may read it
    return true;
  }

  /** Starts (or, on the connection that owns it, restarts) the transfer of a verified offer. */
  private start(requestId: number, offer: PirOffer, connection: ReplicationConnection, baseId: Uint8Array | undefined, bytes: number): Uint8Array {
    const key = hexOf(offer.snapshotId);
    const previous = this.pending.get(key);
    if (previous !== undefined && previous.connection !== connection) {
      this.deps.metrics.registry.inc('node_pir_received_total', '', { result: 'other-connection' });
      throw new RetrievalRequestError('busy', requestId, 'a transfer of that snapshot is under way on another connection');
    }
    if (previous !== undefined) {
      clearTimeout(previous.timer);
      this.pending.delete(key);
    } else if (this.pending.size >= MAX_PENDING) {
      throw new RetrievalRequestError('busy', requestId, 'too many snapshot transfers under way');
    }
    const timer = setTimeout(() => {
      if (this.pending.get(key)?.timer === timer) this.pending.delete(key);
    }, PENDING_TIMEOUT_MS);
    timer.unref?.();
    this.pending.set(key, { offer, connection, baseId, buffer: new Uint8Array(bytes), received: 0, timer });
    return encodePirAck(requestId, false);
  }

  /** The base of a delta: held here, of the offer's origin, epoch and row size. */
  private baseOf(requestId: number, offer: PirOffer, baseId: Uint8Array): HeldSnapshot {
    const base = this.deps.cache.get(baseId);
    if (base === undefined) {
      this.deps.metrics.registry.inc('node_pir_received_total', '', { result: 'no-base' });
      throw new RetrievalRequestError('unknown-snapshot', requestId, 'the base snapshot of the delta is not held here (expired, or never received): offer the snapshot whole');
    }
    const { origin, epoch, rowBytes } = base.snapshot;
    if (!sameBytes(origin, offer.origin) || epoch !== offer.epoch || rowBytes !== offer.rowBytes) {
      throw this.badSnapshot(requestId, 'bad-delta', 'the base of the delta is not a snapshot of the same origin, epoch and row size');
    }
    return base;
  }

  private verifiedWhole(requestId: number, offer: PirOffer, rows: Uint8Array): Uint8Array {
    const root = snapshotRoot(this.deps.crypto, offer.origin, offer, rows);
    if (root === undefined || !sameBytes(root, offer.snapshotId)) throw this.badSnapshot(requestId, 'bad-data', 'the snapshot data does not hash to the offered id');
    return rows;
  }

  /** The snapshot a complete delta gives, verified against the offered id. */
  private rebuilt(requestId: number, offer: PirOffer, baseId: Uint8Array, delta: Uint8Array): Uint8Array {
    const base = this.baseOf(requestId, offer, baseId); // it may have expired while the delta came
    try {
      return rebuildFromDelta(this.deps.crypto, offer.origin, offer, databaseRows(base.snapshot.snapshotId, base.database), delta);
    } catch (error) {
      if (!(error instanceof SnapshotDeltaError)) throw error;
      throw this.badSnapshot(requestId, error.code === 'bad-data' ? 'bad-data' : 'bad-delta', error.message);
    }
  }

  private badSnapshot(requestId: number, result: string, message: string): RetrievalRequestError {
    this.deps.metrics.registry.inc('node_pir_received_total', '', { result });
    return new RetrievalRequestError('bad-snapshot', requestId, message);
  }
}

