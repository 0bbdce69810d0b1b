import { PirError } from '../../pir/index.js';
import { encodePirAnswer, encodePirInfoResponse } from '../../wire/index.js';
import type { PirQueryBatcher } from './pir-query-batch.js';
import type { PirReplicationSender } from './pir-replication.js';
import { StoreReadError, type HeldSnapshot, type PirSnapshotCache } from './pir-snapshot-cache.js';
import { RetrievalRequestError } from '../../wire/index.js';
import { epochAt, type EpochTiming } from '../../pki/index.js';

export interface PirAnswersDeps {
  /** Answers pir-query keys in batched passes over a snapshot's database. */
  readonly batcher: PirQueryBatcher;
  readonly cache: PirSnapshotCache;
  readonly sender: PirReplicationSender;
  /** Throws RetrievalRequestError('epoch-not-held') for an epoch the provider does not serve. */
  readonly checkEpoch: (epoch: number, requestId: number) => void;
  /** The node's clock (Unix ms) and the epoch timing: the periodic refresh serves the current epochs. */
  readonly now: () => number;
  readonly timing: EpochTiming;
}

/**
 * Clients' PIR requests (docs/network.md, "Client protocols"):
 * - pir-info(epoch): the epoch's newest snapshot that the partner already holds. A request starts a
 *   refresh (rebuild when due, then replication) in the background but never waits for it, so
 *   neither the answer's timing nor its content depends on mail that just arrived; only the first
 *   request of an epoch, before any snapshot of it is replicated, waits for the first one. Epochs
 *   asked about are also refreshed periodically (refreshServed), so the snapshot named is recent
 *   even when few clients ask;
 * - pir-query(id, key): the XOR of the rows the DPF key selects, one row long, over any snapshot
 *   held, own or the partner's; queries arriving together share one pass (PirQueryBatcher).
 */
export class PirAnswers {
  /** Per epoch: the newest own snapshot replicated to the partner, and the refresh under way. */
  private readonly served = new Map<number, { ready?: HeldSnapshot; refreshing?: Promise<HeldSnapshot> }>();

  constructor(private readonly deps: PirAnswersDeps) {}

  async info(requestId: number, epoch: number): Promise<Uint8Array> {
    this.deps.checkEpoch(epoch, requestId);
    const state = this.served.get(epoch) ?? {};
    this.served.set(epoch, state);
    this.prune(epoch);
    const refresh = (state.refreshing ??= this.refresh(epoch, requestId, state).finally(() => {
      state.refreshing = undefined;
    }));
    // Served from what was replicated before: a refresh under way is never waited for.
    let held = state.ready !== undefined && this.deps.cache.get(state.ready.snapshot.snapshotId) !== undefined ? state.ready : undefined;
    if (held === undefined) {
      try {
        held = await refresh;
      } catch (error) {
        throw this.refusal(error, requestId);
      }
    } else {
      refresh.catch(() => undefined);
      // The partner's copy may be gone (not confirmed lately: a past epoch read again for catch-up,
      // or a partner that restarted): that same snapshot is offered again first, one round trip
      // when the partner holds it. Named even when that fails: only the providers' link may be down.
      if (!this.deps.sender.partnerHolds(held)) await this.deps.sender.replicate(held, requestId).catch(() => undefined);
    }
    const { snapshotId, rows, buckets, slots, slotBytes, rowBytes } = held.snapshot;
    return encodePirInfoResponse(requestId, { epoch, snapshotId, rows, buckets, slots, slotBytes, rowBytes });
  }

  /**
   * The periodic refresh (PirService): every epoch a client asked about that is still one of the
   * two served (per the node's clock) is rebuilt when due and replicated, in the background.
   */
  refreshServed(): void {
    const current = epochAt(this.deps.now(), this.deps.timing);
    for (const [epoch, state] of this.served) {
      if (epoch < current - 1 || epoch > current) continue;
      state.refreshing ??= this.refresh(epoch, 0, state).finally(() => {
        state.refreshing = undefined;
      });
      state.refreshing.catch(() => undefined);
    }
  }

  /** Rebuilds the epoch's snapshot when due and pushes it to the partner; then it may be served. */
  private async refresh(epoch: number, requestId: number, state: { ready?: HeldSnapshot }): Promise<HeldSnapshot> {
    const held = await this.deps.cache.ownSnapshot(epoch);
    await this.deps.sender.replicate(held, requestId);
    state.ready = held;
    return held;
  }

  private refusal(error: unknown, requestId: number): unknown {
    if (error instanceof RetrievalRequestError) return new RetrievalRequestError(error.code, requestId, error.message);
    // The build is shared by concurrent requests: each answers with its own request id.
    if (!(error instanceof StoreReadError)) return error;
    const reason = error.reply === 'unavailable' ? 'the provider is closing' : error.reply === 'pir-unavailable' ? 'no consensus document gives the PIR row size yet' : 'the mailbox store cannot be read now; retry later';
    return new RetrievalRequestError(error.reply, requestId, reason);
  }

  /** Forgets epochs before the previous one. */
  private prune(epoch: number): void {
    for (const known of this.served.keys()) if (known < epoch - 2) this.served.delete(known);
  }

  async query(requestId: number, snapshotId: Uint8Array, key: Uint8Array): Promise<Uint8Array> {
    const held = this.deps.cache.get(snapshotId);
    if (held === undefined) throw new RetrievalRequestError('unknown-snapshot', requestId, 'no snapshot with that id is held here (expired, or never built)');
    this.deps.cache.markUsed(held);
    let answer: Uint8Array;
    try {
      answer = await this.deps.batcher.answer(held.database, key);
    } catch (error) {
      if (error instanceof PirError && (error.code === 'malformed-key' || error.code === 'domain-mismatch')) {
        throw new RetrievalRequestError('bad-key', requestId, `the DPF key does not fit a snapshot of ${held.snapshot.rows} rows (${error.code})`);
      }
      throw error;
    }
    return encodePirAnswer(requestId, answer);
  }
}
