import type { Crypto } from '../../crypto/types.js';
import { hexOf, sameBytes } from '../../codec/bytes.js';
import { type NodeDescriptor } from '../../pki/index.js';
import { encodeSnapshotDelta } from '../../pir/snapshot-delta.js';
import type { Clock } from '../../net/clock.js';
import type { NodeMetrics } from '../runtime/metrics.js';
import { RequestChannel, RequestRefusal, type WebSocketConnector } from '../../net/request-channel.js';
import {
  encodePirChunk,
  encodePirDelta,
  encodePirOffer,
  pirOfferSignedBytes,
  pirPartner,
  PIR_CHUNK_BYTES,
  RETRIEVAL_ERRORS,
  type PirOffer,
  type PirResponse,
  decodePirResponse,
} from '../../wire/index.js';
import type { HeldSnapshot } from './pir-snapshot-cache.js';
import { databaseRows, readRange } from './snapshot-rows.js';
import { RetrievalRequestError } from '../../wire/index.js';
import type { NodeLog } from '../log.js';

import { maxDeltaBytes, type PirConsensus } from './pir-replication-shared.js';

/**
 * Replication of PIR snapshots between the two providers of a pair (docs/pir.md, "Mailbox
 * retrieval"): the origin's side here, the partner's in pir-replication-receiver.ts. A snapshot is
 * pushed to the partner before it is announced to a client, once per snapshot and partner:
 * - whole: pir-offer (signed by the origin's identity key), then pir-chunk in order with its rows;
 * - as a delta, when the partner took an earlier snapshot of the epoch over the current
 *   connection: pir-delta (the same signature, naming that base), then pir-chunk in order with the
 *   delta (src/pir/snapshot-delta.ts). A delta larger than half the snapshot is not sent, and one
 *   the partner refuses (no base, rows that do not hash to the id, a partner that does not know
 *   pir-delta) is followed by the snapshot whole.
 * The partner takes an offer only from the provider whose partner it is in a consensus document
 * it holds, and holds the data only once it hashes to the offered id.
 */

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
  /** The snapshot held here with that id (the base of a delta), or undefined. */
  readonly snapshot: (snapshotId: Uint8Array) => HeldSnapshot | undefined;
  /** How the link to the partner connects (a test hook; default connectWebSocket). */
  readonly connect?: WebSocketConnector;
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
  /** Per epoch: the snapshot last pushed (or confirmed) and over which partner connection: the base of the next one's delta. */
  private readonly lastPushed = new Map<number, { readonly snapshotId: Uint8Array; readonly connectionKey: string }>();
  /** The partner connection that answered pir-delta unknown-command (a version before deltas): no more deltas on it. */
  private noDeltasOn: string | undefined;
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
      ...(this.deps.connect === undefined ? {} : { connect: this.deps.connect }),
    });
    this.partnerLink = { key, link };
    return link;
  }

  private async push(held: HeldSnapshot, replicatedTo: Map<string, number>, partner: NodeDescriptor): Promise<void> {
    const link = this.linkTo(partner);
    const { epoch, snapshotId, rows, buckets, slots, slotBytes, rowBytes } = held.snapshot;
    const unsigned = { epoch, snapshotId, rows, buckets, slots, slotBytes, rowBytes, origin: this.deps.nodeId };
    const offer: PirOffer = { ...unsigned, signature: this.deps.crypto.ed25519Sign(this.deps.identitySeed, pirOfferSignedBytes(unsigned, partner.nodeId)) };
    const base = this.baseFor(held, partner, link);
    const sent = (base === undefined ? undefined : await this.pushDelta(link, partner, held, offer, base)) ?? (await this.pushWhole(link, held, offer));
    const connectionKey = `${hexOf(partner.nodeId)}#${link.connections}`;
    replicatedTo.set(connectionKey, this.deps.clock.now());
    this.lastPushed.set(epoch, { snapshotId, connectionKey });
    for (const known of this.lastPushed.keys()) if (known < epoch - 3) this.lastPushed.delete(known);
    this.replicated++;
    const { registry } = this.deps.metrics;
    registry.inc('node_pir_replications_total', '', { result: 'ok' });
    registry.inc('node_pir_replications_sent_total', SENT_HELP, { kind: sent });
    if (this.lastProblem !== '') {
      this.lastProblem = '';
      this.deps.log(`provider: PIR snapshot replication to ${partner.name} works again`);
    }
  }

  /**
   * The snapshot to send `held` as a delta from: the last one of its epoch that the partner took
   * over the link's current connection (a partner that restarted holds nothing), if this provider
   * still holds it with the same row size.
   */
  private baseFor(held: HeldSnapshot, partner: NodeDescriptor, link: RequestChannel<PirResponse>): HeldSnapshot | undefined {
    const last = this.lastPushed.get(held.snapshot.epoch);
    const connectionKey = `${hexOf(partner.nodeId)}#${link.connections}`;
    if (last === undefined || last.connectionKey !== connectionKey || !link.connected || this.noDeltasOn === connectionKey) return undefined;
    if (sameBytes(last.snapshotId, held.snapshot.snapshotId)) return undefined;
    const base = this.deps.snapshot(last.snapshotId);
    return base !== undefined && base.own && base.snapshot.rowBytes === held.snapshot.rowBytes ? base : undefined;
  }

  /**
   * Offers `held` as a delta from `base`: what was sent, or undefined when the delta would be more
   * than half the snapshot or the partner refused it (no base, rows that do not hash to the id, a
   * partner without deltas): the caller then sends it whole.
   */
  private async pushDelta(link: RequestChannel<PirResponse>, partner: NodeDescriptor, held: HeldSnapshot, offer: PirOffer, base: HeldSnapshot): Promise<SentKind | undefined> {
    const { registry } = this.deps.metrics;
    const delta = encodeSnapshotDelta(databaseRows(base.snapshot.snapshotId, base.database), databaseRows(offer.snapshotId, held.database), maxDeltaBytes(offer));
    if (delta === undefined) {
      registry.inc('node_pir_delta_fallbacks_total', FALLBACK_HELP, { reason: 'larger' });
      return undefined;
    }
    try {
      const offered = await link.request((id) => encodePirDelta(id, offer, base.snapshot.snapshotId, delta.length));
      if (offered.type !== 'pir-ack') throw new Error('the partner answered the delta offer with something else');
      if (offered.complete) return 'held';
      await this.sendChunks(link, offer.snapshotId, delta.length, (offset, length) => delta.subarray(offset, offset + length), 'delta');
      return 'delta';
    } catch (error) {
      if (!(error instanceof RequestRefusal)) throw error;
      if (error.code === RETRIEVAL_ERRORS['unknown-command']) this.noDeltasOn = `${hexOf(partner.nodeId)}#${link.connections}`;
      registry.inc('node_pir_delta_fallbacks_total', FALLBACK_HELP, { reason: 'refused' });
      this.deps.log(`provider: the PIR partner refused a snapshot delta (${error.reason}: ${error.message}); sending the snapshot whole`, 'warn');
      return undefined;
    }
  }

  private async pushWhole(link: RequestChannel<PirResponse>, held: HeldSnapshot, offer: PirOffer): Promise<SentKind> {
    const offered = await link.request((id) => encodePirOffer(id, offer));
    if (offered.type !== 'pir-ack') throw new Error('the partner answered the offer with something else');
    if (offered.complete) return 'held';
    const total = held.snapshot.rows * held.snapshot.rowBytes;
    await this.sendChunks(link, offer.snapshotId, total, (offset, length) => readRange(held.database, offset, length), 'whole');
    return 'whole';
  }

  /** pir-chunks of `total` bytes in order, up to four in flight (the request channel queues the rest); the last must complete the transfer. */
  private async sendChunks(link: RequestChannel<PirResponse>, snapshotId: Uint8Array, total: number, read: (offset: number, length: number) => Uint8Array, kind: 'whole' | 'delta'): Promise<void> {
    const sends: Promise<boolean>[] = [];
    for (let offset = 0; offset < total; offset += PIR_CHUNK_BYTES) {
      const chunk = read(offset, Math.min(PIR_CHUNK_BYTES, total - offset));
      const last = offset + chunk.length === total;
      sends.push(
        link.request((id) => encodePirChunk(id, snapshotId, offset, chunk)).then((response) => {
          if (response.type !== 'pir-ack' || response.complete !== last) throw new Error('the partner acknowledged a chunk out of step');
          this.deps.metrics.registry.inc('node_pir_replicated_bytes_total', BYTES_HELP, { kind }, chunk.length);
          return response.complete;
        }),
      );
    }
    const results = await Promise.all(sends);
    if (results[results.length - 1] !== true) throw new Error('the partner did not confirm the snapshot');
  }
}

/** How a push ended: the snapshot sent whole, as a delta, or already held by the partner (the offer alone). */
type SentKind = 'whole' | 'delta' | 'held';

const SENT_HELP = 'Provider: PIR snapshots the partner provider took, by what was sent (whole, delta, or nothing: it held it).';
const BYTES_HELP = 'Provider: bytes of PIR snapshots (whole) and of snapshot deltas sent to the partner provider in pir-chunks.';
const FALLBACK_HELP = 'Provider: PIR snapshots sent whole although the partner held an earlier one of the epoch, by reason (the delta was larger than half, or refused).';

function unavailable(requestId: number, message: string): RetrievalRequestError {
  return new RetrievalRequestError('pir-unavailable', requestId, message);
}
