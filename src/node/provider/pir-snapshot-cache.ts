import type { ScanDatabase, ScanKernel } from '../../codec/pir-scan/types.js';
import { WasmScanKernel, WasmShardedDatabase } from '../../codec/pir-scan/wasm-kernel.js';
import type { Crypto } from '../../crypto/types.js';
import { hexOf } from '../../codec/bytes.js';
import type { EpochTiming } from '../../pki/index.js';
import { buildSnapshot, fullestBucket, MIN_PIR_BUCKETS, slotBytesFor, type Snapshot } from '../../pir/snapshot.js';
import type { MailboxStore } from '../../store/mailbox.js';
import type { Clock } from '../../net/clock.js';
import type { NodeMetrics } from '../runtime/metrics.js';
import type { StoreFailureHooks } from './store-failures.js';
import { epochAt } from '../../pki/index.js';
import type { RetrievalErrorName } from '../../wire/index.js';
import type { NodeLog } from '../log.js';

/** A snapshot held, its rows loaded for the scan kernel. */
export interface HeldSnapshot {
  /** The snapshot ID, hex. */
  readonly key: string;
  /** Built here (else received from the provider whose partner this is). */
  readonly own: boolean;
  readonly snapshot: Omit<Snapshot, 'data'>;
  readonly database: ScanDatabase;
  /** Own snapshots: the store's fingerprint, and when it was last compared (node clock). */
  readonly fingerprint: string;
  checkedAt: number;
}

export interface PirSnapshotCacheDeps extends StoreFailureHooks {
  readonly crypto: Crypto;
  readonly clock: Clock;
  readonly timing: EpochTiming;
  readonly nodeId: Uint8Array;
  readonly store: MailboxStore;
  /** Largest stored ciphertext (a slot's capacity). */
  readonly capacity: number;
  readonly metrics: NodeMetrics;
  readonly log: NodeLog;
}

export interface PirSnapshotCacheSettings {
  readonly kernel: ScanKernel;
  /** Least time between two snapshots of an epoch (node clock). */
  readonly refreshMs: number;
  /** Snapshots kept per (origin, epoch), at least. */
  readonly keep: number;
  /**
   * How long a snapshot stays held after a newer one of its (origin, epoch) came, and an epoch's
   * snapshots after the epoch fell out of the two served: a client's poll reads the snapshot
   * pir-info named for all its queries, however many rebuilds happen meanwhile.
   */
  readonly graceMs: number;
  /** The row size for an epoch's snapshots (the consensus's pir.rowBytes), or undefined without a consensus. */
  readonly rowBytes: (epoch: number) => number | undefined;
  /** Largest snapshot built. */
  readonly maxSnapshotBytes: number;
  /** Bytes of rows per shard of a database in WebAssembly memories; default 64 MiB. */
  readonly shardBytes?: number;
  /** Called when a snapshot is no longer held (its scan threads can stop). */
  readonly onDrop?: (held: HeldSnapshot) => void;
  /** Test hook (PirServiceOptions.rowSizing): the row size from the consensus's and the fullest bucket's item count. */
  readonly rowSizing?: RowSizing;
}

/** The row size of a snapshot, given the consensus's, the fullest bucket's item count and the slot size. */
export type RowSizing = (consensusRowBytes: number, fullestBucket: number, slotBytes: number) => number;

/** The store could not be read for a snapshot (counted and logged by the provider already). */
export class StoreReadError extends Error {
  constructor(readonly reply: RetrievalErrorName) {
    super(`mailbox store: ${reply}`);
  }
}

/**
 * The PIR snapshots a provider holds (docs/pir.md, "Mailbox retrieval"): its own, built from the
 * store per epoch, and its partner's, received by replication. An epoch's own snapshot is rebuilt
 * when it is at least `refreshMs` old and the store's content for the epoch changed (or a bucket
 * overflowed: the next snapshot shows the next window); builds are single-flight per epoch.
 * Kept per (origin, epoch): the newest `keep`, and older ones until `graceMs` after a newer one came,
 * for the current and previous epoch (and `graceMs` beyond).
 */
export class PirSnapshotCache {
  /** Own snapshots built so far. */
  built = 0;
  private readonly held = new Map<string, HeldSnapshot>();
  /** The snapshots of (origin hex, epoch), oldest first, each with when a newer one came (node clock). */
  private readonly lists = new Map<string, { key: string; supersededAt?: number }[]>();
  /** When each (origin hex, epoch) list was last added to or asked for (node clock). */
  private readonly usedAt = new Map<string, number>();
  private readonly epochs = new Map<number, { sequence: number; latest?: HeldSnapshot; building?: Promise<HeldSnapshot> }>();

  constructor(
    private readonly deps: PirSnapshotCacheDeps,
    private readonly settings: PirSnapshotCacheSettings,
  ) {}

  /** Snapshots held, own and the partner's. */
  get size(): number {
    return this.held.size;
  }

  /** Own snapshots held. */
  ownCount(): number {
    let own = 0;
    for (const held of this.held.values()) if (held.own) own++;
    return own;
  }

  get(snapshotId: Uint8Array): HeldSnapshot | undefined {
    return this.held.get(hexOf(snapshotId));
  }

  /**
   * A client read `held` (or its origin said it still names it): its (origin, epoch) list is kept
   * `graceMs` from now, so a past epoch read for catch-up is not dropped while clients read it.
   */
  markUsed(held: HeldSnapshot): void {
    const listKey = `${hexOf(held.snapshot.origin)}:${held.snapshot.epoch}`;
    if (this.lists.has(listKey)) this.usedAt.set(listKey, this.deps.clock.now());
  }

  /** The epoch's newest own snapshot, rebuilt first when it is due (single flight per epoch). */
  ownSnapshot(epoch: number): Promise<HeldSnapshot> {
    this.usedAt.set(`${hexOf(this.deps.nodeId)}:${epoch}`, this.deps.clock.now());
    let state = this.epochs.get(epoch);
    if (state === undefined) {
      state = { sequence: 0 };
      this.epochs.set(epoch, state);
    }
    if (state.building !== undefined) return state.building;
    const now = this.deps.clock.now();
    const latest = state.latest;
    if (latest !== undefined && this.held.has(latest.key)) {
      if (now - latest.checkedAt < this.settings.refreshMs) return Promise.resolve(latest);
      // A past epoch receives nothing more: once checked after its end, only an overflow rebuilds it.
      const sealed = epoch < epochAt(now, this.deps.timing) && latest.checkedAt >= epochEndOf(epoch, this.deps.timing);
      if (sealed && latest.snapshot.omitted === 0) return Promise.resolve(latest);
    }
    const current = state;
    const build = this.build(epoch, current, latest).finally(() => {
      current.building = undefined;
    });
    current.building = build;
    return build;
  }

  /** Holds `snapshot` (or the one already held with its ID), dropping what is past keeping. */
  hold(snapshot: Snapshot, own: boolean, fingerprint: string, checkedAt: number): HeldSnapshot {
    const key = hexOf(snapshot.snapshotId);
    const existing = this.held.get(key);
    if (existing !== undefined) return existing; // the same bytes (a rotation back, or a re-send)
    const { data, ...meta } = snapshot;
    const held: HeldSnapshot = {
      key,
      own,
      snapshot: meta,
      database: toDatabase(this.settings.kernel, data, snapshot.rows, snapshot.rowBytes, this.settings.shardBytes),
      fingerprint,
      checkedAt,
    };
    this.held.set(key, held);
    const listKey = `${hexOf(snapshot.origin)}:${snapshot.epoch}`;
    const list = this.lists.get(listKey) ?? [];
    const now = this.deps.clock.now();
    const newest = list[list.length - 1];
    if (newest !== undefined) newest.supersededAt = now;
    list.push({ key });
    // Beyond `keep`, the oldest go once their grace is over; never more than MAX_HELD_PER_LIST.
    while (list.length > MAX_HELD_PER_LIST || (list.length > this.settings.keep && now - (list[0].supersededAt ?? now) >= this.settings.graceMs)) {
      this.drop(list.shift()!.key);
    }
    this.lists.set(listKey, list);
    this.usedAt.set(listKey, now);
    this.prune(listKey);
    return held;
  }

  clear(): void {
    for (const key of [...this.held.keys()]) this.drop(key);
    this.lists.clear();
    this.usedAt.clear();
  }

  private drop(key: string): void {
    const held = this.held.get(key);
    if (held === undefined) return;
    this.held.delete(key);
    this.settings.onDrop?.(held);
  }

  /** Reads the epoch from the store; the snapshot held stays when nothing changed. */
  private async build(
    epoch: number,
    state: { sequence: number; latest?: HeldSnapshot },
    latest: HeldSnapshot | undefined,
  ): Promise<HeldSnapshot> {
    const { deps } = this;
    let messages;
    try {
      messages = await deps.store.fetchEpoch(epoch);
      deps.storeRecovered();
    } catch (error) {
      throw new StoreReadError(deps.storeFailed(error));
    }
    const fingerprint = messages.length === 0 ? '0' : `${messages.length}:${messages[0].id}:${messages[messages.length - 1].id}`;
    const checkedAt = deps.clock.now();
    const fixed = this.settings.rowBytes(epoch);
    if (fixed === undefined) throw new StoreReadError('pir-unavailable');
    const sizing = this.settings.rowSizing;
    const rowBytes = sizing === undefined ? fixed : sizing(fixed, fullestBucket(messages, epoch, deps.capacity, fixed), slotBytesFor(deps.capacity));
    if (latest !== undefined && this.held.has(latest.key) && latest.fingerprint === fingerprint && latest.snapshot.omitted === 0 && latest.snapshot.rowBytes === rowBytes) {
      latest.checkedAt = checkedAt;
      return latest;
    }
    const snapshot = buildSnapshot({
      crypto: deps.crypto,
      origin: deps.nodeId,
      epoch,
      items: messages,
      capacity: deps.capacity,
      rowBytes,
      sequence: state.sequence++,
      maxRows: Math.max(MIN_PIR_BUCKETS, Math.floor(this.settings.maxSnapshotBytes / rowBytes)),
    });
    if (snapshot.omitted > 0) deps.log(`provider: the PIR snapshot of epoch ${epoch} is at its row limit; ${snapshot.omitted} stored ciphertexts wait for later snapshots`, 'warn');
    if (snapshot.oversized > 0) deps.log(`provider: ${snapshot.oversized} stored ciphertexts of epoch ${epoch} exceed a PIR slot and are not served by PIR`, 'warn');
    const held = this.hold(snapshot, true, fingerprint, checkedAt);
    state.latest = held;
    this.built++;
    deps.metrics.registry.inc('node_pir_snapshots_built_total', 'Provider: PIR snapshots built.', {});
    return held;
  }

  /**
   * Drops the snapshots of an epoch before the previous one once `graceMs` passed since it stopped
   * being one of the two served and since it was last built, received or asked for (an older epoch
   * read for catch-up stays while clients read it); never the list just added to.
   */
  private prune(keepList: string): void {
    const now = this.deps.clock.now();
    // An epoch goes `graceMs` after it stopped being one of the two served (a poll may straddle the boundary).
    const current = epochAt(now - this.settings.graceMs, this.deps.timing);
    const own = hexOf(this.deps.nodeId);
    for (const [listKey, list] of this.lists) {
      if (listKey === keepList) continue;
      const epoch = Number(listKey.slice(listKey.indexOf(':') + 1));
      if (epoch >= current - 1 || now - (this.usedAt.get(listKey) ?? 0) < this.settings.graceMs) continue;
      for (const { key } of list) this.drop(key);
      this.lists.delete(listKey);
      this.usedAt.delete(listKey);
    }
    for (const [epoch, state] of this.epochs) {
      if (epoch < current - 1 && !this.lists.has(`${own}:${epoch}`) && state.building === undefined) this.epochs.delete(epoch);
    }
  }
}

/** Snapshots held per (origin, epoch) at most, whatever the grace: bounds the memory a burst of rebuilds takes. */
const MAX_HELD_PER_LIST = 16;

function epochEndOf(epoch: number, timing: EpochTiming): number {
  return timing.genesisMs + (epoch + 1) * timing.epochMs;
}

/** The rows as the kernel scans them best: in WebAssembly memories for the WASM kernel, flat otherwise. */
function toDatabase(kernel: ScanKernel, data: Uint8Array, rows: number, rowBytes: number, shardBytes?: number): ScanDatabase {
  if (kernel instanceof WasmScanKernel) {
    const database = new WasmShardedDatabase(rows, rowBytes, shardBytes === undefined ? {} : { shardBytes });
    database.load(data);
    return database;
  }
  return { rows, rowBytes, data };
}
