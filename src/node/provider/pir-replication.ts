import type { ScanDatabase } from '../../codec/pir-scan/types.js';
import type { Crypto } from '../../crypto/types.js';
import { hexOf, sameBytes } from '../../codec/bytes.js';
import { type ConsensusDocument, type EpochTiming, type NodeDescriptor } from '../../pki/index.js';
import { shapeProblem, snapshotRoot } from '../../pir/snapshot.js';
import type { Clock } from '../../net/clock.js';
import type { NodeMetrics } from '../runtime/metrics.js';
import { epochAt } from '../../pki/index.js';
import { RequestChannel } from '../../net/request-channel.js';
import {
  encodePirAck,
  encodePirChunk,
  encodePirOffer,
  pirOfferSignedBytes,
  pirPartner,
  PIR_ANSWER_HEADER_BYTES,
  PIR_CHUNK_BYTES,
  type PirOffer,
  type PirResponse,
  decodePirResponse,
} from '../../wire/index.js';
import type { HeldSnapshot, PirSnapshotCache } from './pir-snapshot-cache.js';
import { RetrievalRequestError } from '../../wire/index.js';
import type { NodeLog } from '../log.js';

/**
 * Replication of PIR snapshots between the two providers of a pair (docs/pir.md, "Mailbox
 * retrieval"). A snapshot is pushed to the partner before it is announced to a client: pir-offer
 * (signed by the origin's identity key), then pir-chunk in order, once per snapshot and partner.
 * The partner takes an offer only from the provider whose partner it is in a consensus document
 * it holds, and holds the data only once it hashes to the offered id (snapshotRoot).
 *
 * A transfer belongs to the connection whose verified offer started it: only that connection's
 * chunks feed it, and only a new offer on that connection starts it over. The same offer replayed
 * on another connection changes nothing (refused 'busy' while under way, acknowledged complete
 * once held), a chunk from another connection is refused 'unknown-snapshot', and a transfer whose
 * connection closes is dropped.
 */

/** The connection a replication request came on: compared by identity only. */
export type ReplicationConnection = object;

export interface PirConsensus {
  held(nowMs?: number): ConsensusDocument[];
  active(nowMs?: number): ConsensusDocument | undefined;
}

export interface PirReplicationSenderDeps {
  readonly crypto: Crypto;
  readonly clock: Clock;
  readonly nodeId: Uint8Array;
  readonly identitySeed: Uint8Array;
  readonly consensus: PirConsensus;
  readonly metrics: NodeMetrics;
  readonly log: NodeLog;
  /** Real-time limit of one request to the partner. */
  readonly requestTimeoutMs: number;
  /**
   * How long the partner's word that it holds a snapshot counts: it drops a snapshot nobody used for
   * its grace period (a past epoch), so the origin offers it again (one round trip, which also keeps
   * it there) before naming it after this long. Less than the partner's grace.
   */
  readonly reconfirmMs: number;
}

/** The origin side: pushes own snapshots to the partner named by the current consensus. */
export class PirReplicationSender {
  /** Snapshots pushed so far. */
  replicated = 0;
  /**
   * Per snapshot: the partners known to hold it, each as node ID hex and the link's connection
   * number (a partner that restarted holds nothing: every new connection offers the snapshot again,
   * one round trip when the partner still holds it) with when it said so, and the push under way.
   */
  private readonly progress = new WeakMap<HeldSnapshot, { readonly replicatedTo: Map<string, number>; replicating: Promise<void> | undefined }>();
  private partnerLink: { key: string; link: RequestChannel<PirResponse> } | undefined;
  private lastProblem = '';

  constructor(private readonly deps: PirReplicationSenderDeps) {}

  /** Makes sure the partner of the current consensus holds the snapshot (pushing it once). */
  async replicate(held: HeldSnapshot, requestId: number): Promise<void> {
    let progress = this.progress.get(held);
    if (progress === undefined) {
      progress = { replicatedTo: new Map(), replicating: undefined };
      this.progress.set(held, progress);
    }
    const state = progress;
    for (let attempt = 0; attempt < 2; attempt++) {
      const now = this.deps.clock.now();
      const doc = this.deps.consensus.active(now);
      if (doc === undefined) throw unavailable(requestId, 'no consensus document yet: the PIR partner is unknown');
      const partner = pirPartner(doc, this.deps.nodeId);
      if (partner === undefined) throw unavailable(requestId, 'the consensus names no partner provider for PIR (it needs two providers)');
      if (this.holds(state.replicatedTo, partner)) return;
      state.replicating ??= this.push(held, state.replicatedTo, partner).finally(() => {
        state.replicating = undefined;
      });
      try {
        await state.replicating;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        this.deps.metrics.registry.inc('node_pir_replications_total', '', { result: 'failed' });
        if (this.lastProblem !== message) {
          this.lastProblem = message;
          this.deps.log(`provider: PIR snapshot replication to ${partner.name} failed: ${message}`, 'error');
        }
        throw unavailable(requestId, `the snapshot could not be replicated to the partner provider ${partner.name}; retry later`);
      }
    }
    throw unavailable(requestId, 'the partner provider changed during replication; retry');
  }

  /** Whether the partner of the current consensus holds `held`, as far as this side knows now (see `holds`). */
  partnerHolds(held: HeldSnapshot): boolean {
    const replicatedTo = this.progress.get(held)?.replicatedTo;
    const doc = this.deps.consensus.active(this.deps.clock.now());
    const partner = doc === undefined ? undefined : pirPartner(doc, this.deps.nodeId);
    return replicatedTo !== undefined && partner !== undefined && this.holds(replicatedTo, partner);
  }

  /** Whether `partner` holds the snapshot replicatedTo is of: told so lately, over the link's current connection. */
  private holds(replicatedTo: Map<string, number>, partner: NodeDescriptor): boolean {
    const link = this.linkTo(partner);
    const toldAt = replicatedTo.get(`${hexOf(partner.nodeId)}#${link.connections}`);
    return link.connected && toldAt !== undefined && this.deps.clock.now() - toldAt < this.deps.reconfirmMs;
  }

  close(): void {
    this.partnerLink?.link.close();
    this.partnerLink = undefined;
  }

  private linkTo(partner: NodeDescriptor): RequestChannel<PirResponse> {
    const key = `${hexOf(partner.nodeId)}@${partner.addresses.ws}#${hexOf(partner.linkPublicKey)}`;
    if (this.partnerLink?.key === key) return this.partnerLink.link;
    this.partnerLink?.link.close();
    const link = new RequestChannel({
      // TLS 1.3 pinned to the link key the partner's descriptor publishes.
      target: { url: `wss://${partner.addresses.ws}`, linkKey: partner.linkPublicKey },
      name: `partner provider ${partner.name}`,
      timeoutMs: this.deps.requestTimeoutMs,
      maxMessageBytes: 64 * 1024,
      decode: decodePirResponse,
    });
    this.partnerLink = { key, link };
    return link;
  }

  private async push(held: HeldSnapshot, replicatedTo: Map<string, number>, partner: NodeDescriptor): Promise<void> {
    const link = this.linkTo(partner);
    const { epoch, snapshotId, rows, buckets, slots, slotBytes, rowBytes } = held.snapshot;
    const unsigned = { epoch, snapshotId, rows, buckets, slots, slotBytes, rowBytes, origin: this.deps.nodeId };
    const signature = this.deps.crypto.ed25519Sign(this.deps.identitySeed, pirOfferSignedBytes(unsigned, partner.nodeId));
    const offered = await link.request((id) => encodePirOffer(id, { ...unsigned, signature }));
    if (offered.type !== 'pir-ack') throw new Error('the partner answered the offer with something else');
    if (!offered.complete) {
      const total = rows * rowBytes;
      const sends: Promise<boolean>[] = [];
      for (let offset = 0; offset < total; offset += PIR_CHUNK_BYTES) {
        const chunk = readRange(held.database, offset, Math.min(PIR_CHUNK_BYTES, total - offset));
        const last = offset + chunk.length === total;
        // Up to four in flight (the request channel queues the rest); the partner takes them in order.
        sends.push(
          link.request((id) => encodePirChunk(id, snapshotId, offset, chunk)).then((response) => {
            if (response.type !== 'pir-ack' || response.complete !== last) throw new Error('the partner acknowledged a chunk out of step');
            return response.complete;
          }),
        );
      }
      const results = await Promise.all(sends);
      if (results[results.length - 1] !== true) throw new Error('the partner did not confirm the snapshot');
    }
    replicatedTo.set(`${hexOf(partner.nodeId)}#${link.connections}`, this.deps.clock.now());
    this.replicated++;
    this.deps.metrics.registry.inc('node_pir_replications_total', '', { result: 'ok' });
    if (this.lastProblem !== '') {
      this.lastProblem = '';
      this.deps.log(`provider: PIR snapshot replication to ${partner.name} works again`);
    }
  }
}

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
  readonly rowBytes: number;
  readonly buffer: Uint8Array;
  received: number;
  readonly timer: ReturnType<typeof setTimeout>;
}

const MAX_PENDING = 4;
const PENDING_TIMEOUT_MS = 30_000;

/** The partner side: takes pir-offer and pir-chunk, and holds the snapshot once verified. */
export class PirReplicationReceiver {
  /** Snapshots received and held so far. */
  received = 0;
  private readonly pending = new Map<string, PendingTransfer>();

  constructor(private readonly deps: PirReplicationReceiverDeps) {}

  offer(requestId: number, offer: PirOffer, connection: ReplicationConnection): Uint8Array {
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
    if (held !== undefined) {
      deps.cache.markUsed(held); // its origin still names it: kept while clients may read it
      return encodePirAck(requestId, true);
    }
    const key = hexOf(offer.snapshotId);
    const previous = this.pending.get(key);
    if (previous !== undefined && previous.connection !== connection) {
      deps.metrics.registry.inc('node_pir_received_total', '', { result: 'other-connection' });
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
    this.pending.set(key, { offer, connection, rowBytes, buffer: new Uint8Array(offer.rows * rowBytes), received: 0, timer });
    return encodePirAck(requestId, false);
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
      throw this.badSnapshot(requestId, 'out-of-order', 'chunks must arrive in order and within the snapshot');
    }
    pending.buffer.set(data, offset);
    pending.received += data.length;
    if (pending.received < pending.buffer.length) return encodePirAck(requestId, false);
    clearTimeout(pending.timer);
    this.pending.delete(key);
    const { offer } = pending;
    const root = snapshotRoot(deps.crypto, offer.origin, offer, pending.buffer);
    if (root === undefined || !sameBytes(root, offer.snapshotId)) throw this.badSnapshot(requestId, 'bad-data', 'the snapshot data does not hash to the offered id');
    deps.cache.hold({ ...offer, data: pending.buffer, placed: 0, omitted: 0, oversized: 0 }, false, '', deps.clock.now());
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

  private badSnapshot(requestId: number, result: string, message: string): RetrievalRequestError {
    this.deps.metrics.registry.inc('node_pir_received_total', '', { result });
    return new RetrievalRequestError('bad-snapshot', requestId, message);
  }
}

/** The consensus's pir.rowBytes for `epoch` (that epoch's document, else the active one), or undefined without one. */
export function rowBytesOfEpoch(consensus: PirConsensus, epoch: number, nowMs: number): number | undefined {
  const doc = consensus.held(nowMs).find((held) => held.epoch === epoch) ?? consensus.active(nowMs);
  return doc?.pir.rowBytes;
}

function unavailable(requestId: number, message: string): RetrievalRequestError {
  return new RetrievalRequestError('pir-unavailable', requestId, message);
}

/** Bytes [offset, offset + length) of the database's rows, copied. */
function readRange(database: ScanDatabase, offset: number, length: number): Uint8Array {
  if ('data' in database) return database.data.slice(offset, offset + length);
  const out = new Uint8Array(length);
  const end = offset + length;
  for (const shard of database.shards) {
    const start = shard.firstRow * database.rowBytes;
    const stop = start + shard.data.length;
    if (stop <= offset || start >= end) continue;
    const from = Math.max(offset, start);
    const to = Math.min(end, stop);
    out.set(shard.data.subarray(from - start, to - start), from - offset);
  }
  return out;
}
