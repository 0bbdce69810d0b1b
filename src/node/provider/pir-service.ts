/**
 * The provider's PIR service (docs/pir.md, "Mailbox retrieval"; docs/network.md, "Client
 * protocols"): per epoch, a snapshot of the stored ciphertexts laid out as a PIR database
 * (src/pir/snapshot.ts), replicated to the partner provider before it is announced, and answers to DPF
 * queries over any snapshot held, its own or its partner's.
 *
 * - pir-info(epoch): the newest snapshot of the epoch. A snapshot is rebuilt when it is at least
 *   `refreshMs` old and the store's content for the epoch changed (or a bucket overflowed: the next
 *   snapshot shows the next window). Builds are single-flight per epoch. Before answering, the
 *   snapshot is pushed to the partner (pir-offer, then pir-chunk in order), once per snapshot.
 * - pir-query(id, key): the XOR of the rows the key selects, one row long.
 * - pir-offer / pir-chunk: the partner side of replication. An offer must come from the provider
 *   whose partner this node is in a consensus document held, signed by its identity key; the data
 *   must hash to the offered id (snapshotRoot) before any query is answered over it.
 *
 * Snapshots are kept per (origin, epoch): the newest `keep`, for the current and previous epoch.
 */
import type { ScanDatabase, ScanKernel } from '../../codec/pir-scan/types.js';
import { jsScanKernel } from '../../codec/pir-scan/js-kernel.js';
import { loadWasmScanKernel, WasmScanKernel, WasmShardedDatabase } from '../../codec/pir-scan/wasm-kernel.js';
import type { Crypto } from '../../crypto/types.js';
import { PirError, pirAnswer } from '../../pir/index.js';
import { hexOf, sameBytes, type ConsensusDocument, type EpochTiming, type NodeDescriptor } from '../../pki/index.js';
import type { MailboxStore } from '../../store/mailbox.js';
import type { NodeClock } from '../runtime/clock.js';
import type { NodeMetrics } from '../runtime/metrics.js';
import { currentEpoch } from '../runtime/time.js';
import { RequestChannel } from '../../net/request-channel.js';
import {
  decodePirResponse,
  encodePirAck,
  encodePirAnswer,
  encodePirChunk,
  encodePirInfoResponse,
  encodePirOffer,
  pirOfferSignedBytes,
  PIR_ANSWER_HEADER_BYTES,
  PIR_CHUNK_BYTES,
  type PirOffer,
  type PirRequest,
  type PirResponse,
} from '../../wire/pir-messages.js';
import { pirPartner } from '../../wire/pir-partner.js';
import { buildSnapshot, rowBytesOf, shapeProblem, snapshotRoot, slotBytesFor, ROW_HEADER_BYTES, HASH_BYTES, MAX_PIR_ROWS, type Snapshot } from '../../pir/snapshot.js';
import { RetrievalRequestError, type RetrievalErrorName } from '../../wire/retrieval-errors.js';

export interface PirServiceOptions {
  /** Least time between two snapshots of an epoch (node clock); default epochMs / 32, within 100 ms … 30 s. */
  readonly refreshMs?: number;
  /** The scan kernel; default the WebAssembly kernel when scan.wasm loads, else the JavaScript one. */
  readonly kernel?: ScanKernel;
  /** Snapshots kept per (origin, epoch); default 3 (a client's query may follow its info by a rebuild or two). */
  readonly keep?: number;
  /** Largest snapshot built or accepted; default 256 MiB. */
  readonly maxSnapshotBytes?: number;
  /** Most slots per row; default what fits in the largest response. */
  readonly maxSlots?: number;
  /** Real-time limit of one replication request to the partner; default 10 s. */
  readonly requestTimeoutMs?: number;
}

export interface PirServiceDeps {
  readonly crypto: Crypto;
  readonly clock: NodeClock;
  readonly timing: EpochTiming;
  readonly nodeId: Uint8Array;
  readonly identitySeed: Uint8Array;
  readonly store: MailboxStore;
  /** Largest stored ciphertext (a slot's capacity). */
  readonly capacity: number;
  readonly maxResponseBytes: number;
  readonly consensus: { held(nowMs?: number): ConsensusDocument[]; active(nowMs?: number): ConsensusDocument | undefined };
  readonly metrics: NodeMetrics;
  readonly log: (line: string) => void;
  /** Throws RetrievalRequestError('epoch-not-held') for an epoch the provider does not serve. */
  readonly checkEpoch: (epoch: number, requestId: number) => void;
  /** Counts and logs a store failure; returns the error to answer with. */
  readonly storeFailed: (error: unknown) => RetrievalErrorName;
  readonly storeRecovered: () => void;
}

/** What a status page or a test can read. */
export interface PirStatus {
  readonly kernel: string;
  /** Snapshots held: built here, and received from the provider whose partner this is. */
  readonly own: number;
  readonly partner: number;
  readonly built: number;
  readonly replicated: number;
  readonly received: number;
}

interface Held {
  readonly key: string;
  readonly own: boolean;
  readonly snapshot: Omit<Snapshot, 'data'>;
  readonly database: ScanDatabase;
  /** Own snapshots: the store's fingerprint, and when it was last compared (node clock). */
  readonly fingerprint: string;
  checkedAt: number;
  /** Partners (node ID hex) known to hold it. */
  readonly replicatedTo: Set<string>;
  replicating: Promise<void> | undefined;
}

interface Pending {
  readonly offer: PirOffer;
  readonly rowBytes: number;
  readonly buffer: Uint8Array;
  received: number;
  readonly timer: ReturnType<typeof setTimeout>;
}

const MAX_PENDING = 4;
const PENDING_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_SNAPSHOT_BYTES = 256 * 2 ** 20;

function hex(bytes: Uint8Array): string {
  return hexOf(bytes);
}

/** Row bytes besides the slots at the deepest tree: what the slot cap must leave room for. */
const ROW_OVERHEAD = ROW_HEADER_BYTES + 20 * HASH_BYTES;

export class PirService {
  readonly kernel: ScanKernel;
  private readonly refreshMs: number;
  private readonly keep: number;
  private readonly maxSnapshotBytes: number;
  private readonly maxSlots: number;
  private readonly requestTimeoutMs: number;
  private readonly slotBytes: number;
  private readonly held = new Map<string, Held>();
  /** Keys of the snapshots of (origin hex, epoch), oldest first. */
  private readonly lists = new Map<string, string[]>();
  private readonly epochs = new Map<number, { sequence: number; latest?: Held; building?: Promise<Held> }>();
  private readonly pending = new Map<string, Pending>();
  private partnerLink: { key: string; link: RequestChannel<PirResponse> } | undefined;
  private readonly counts = { built: 0, replicated: 0, received: 0 };
  private lastReplicationProblem = '';
  private closed = false;

  constructor(
    private readonly deps: PirServiceDeps,
    options: PirServiceOptions = {},
  ) {
    this.kernel = options.kernel ?? defaultKernel(deps.log);
    this.refreshMs = options.refreshMs ?? Math.min(30_000, Math.max(100, Math.floor(deps.timing.epochMs / 32)));
    this.keep = Math.max(1, options.keep ?? 3);
    this.maxSnapshotBytes = options.maxSnapshotBytes ?? DEFAULT_MAX_SNAPSHOT_BYTES;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.slotBytes = slotBytesFor(deps.capacity);
    const fitAnswer = Math.floor((deps.maxResponseBytes - PIR_ANSWER_HEADER_BYTES - ROW_OVERHEAD) / this.slotBytes);
    const fitSnapshot = Math.floor(this.maxSnapshotBytes / (16 * (ROW_OVERHEAD + this.slotBytes)));
    this.maxSlots = Math.max(1, Math.min(options.maxSlots ?? Infinity, fitAnswer, fitSnapshot));
    const registry = deps.metrics.registry;
    deps.metrics.gauge('node_pir_snapshots', 'Provider: PIR snapshots held (own and the partner provider\'s).', () => this.held.size);
    registry.inc('node_pir_snapshots_built_total', 'Provider: PIR snapshots built.', {}, 0);
    registry.inc('node_pir_replications_total', 'Provider: PIR snapshots pushed to the partner provider, by result.', { result: 'ok' }, 0);
    registry.inc('node_pir_received_total', 'Provider: PIR snapshots received from the partner provider, by result.', { result: 'ok' }, 0);
  }

  status(): PirStatus {
    let own = 0;
    for (const held of this.held.values()) if (held.own) own++;
    return { kernel: this.kernel.name, own, partner: this.held.size - own, ...this.counts };
  }

  /** Answers one PIR request; RetrievalRequestError for every refusal. */
  async serve(request: PirRequest): Promise<Uint8Array> {
    if (this.closed) throw new RetrievalRequestError('unavailable', request.requestId, 'the provider is closing');
    switch (request.type) {
      case 'pir-info':
        return this.info(request.requestId, request.epoch);
      case 'pir-query':
        return this.query(request.requestId, request.snapshotId, request.key);
      case 'pir-offer':
        return this.offer(request.requestId, request.offer);
      case 'pir-chunk':
        return this.chunk(request.requestId, request.snapshotId, request.offset, request.data);
    }
  }

  // --- pir-info: build, replicate, announce ---------------------------------------------------------

  private async info(requestId: number, epoch: number): Promise<Uint8Array> {
    this.deps.checkEpoch(epoch, requestId);
    let held: Held;
    try {
      held = await this.ownSnapshot(epoch);
    } catch (error) {
      // The build is shared by concurrent requests: each answers with its own request id.
      if (!(error instanceof StoreReadError)) throw error;
      throw new RetrievalRequestError(error.reply, requestId, error.reply === 'unavailable' ? 'the provider is closing' : 'the mailbox store cannot be read now; retry later');
    }
    await this.replicate(held, requestId);
    const { snapshotId, rows, slots, slotBytes, rowBytes } = held.snapshot;
    return encodePirInfoResponse(requestId, { epoch, snapshotId, rows, slots, slotBytes, rowBytes });
  }

  /** The epoch's newest snapshot, rebuilt first when it is due (single flight per epoch). */
  private ownSnapshot(epoch: number): Promise<Held> {
    let state = this.epochs.get(epoch);
    if (state === undefined) {
      state = { sequence: 0 };
      this.epochs.set(epoch, state);
    }
    if (state.building !== undefined) return state.building;
    const now = this.deps.clock.now();
    const latest = state.latest;
    if (latest !== undefined && this.held.has(latest.key)) {
      if (now - latest.checkedAt < this.refreshMs) return Promise.resolve(latest);
      // A past epoch receives nothing more: once checked after its end, only an overflow rebuilds it.
      const sealed = epoch < currentEpoch(now, this.deps.timing) && latest.checkedAt >= epochEndOf(epoch, this.deps.timing);
      if (sealed && latest.snapshot.omitted === 0) return Promise.resolve(latest);
    }
    const current = state;
    const build = (async (): Promise<Held> => {
      let messages;
      try {
        messages = await this.deps.store.fetchEpoch(epoch);
        this.deps.storeRecovered();
      } catch (error) {
        throw new StoreReadError(this.deps.storeFailed(error));
      }
      const fingerprint = messages.length === 0 ? '0' : `${messages.length}:${messages[0].id}:${messages[messages.length - 1].id}`;
      const checkedAt = this.deps.clock.now();
      if (latest !== undefined && this.held.has(latest.key) && latest.fingerprint === fingerprint && latest.snapshot.omitted === 0) {
        latest.checkedAt = checkedAt;
        return latest;
      }
      const snapshot = buildSnapshot({
        crypto: this.deps.crypto,
        origin: this.deps.nodeId,
        epoch,
        items: messages,
        capacity: this.deps.capacity,
        sequence: current.sequence++,
        maxSlots: this.maxSlots,
      });
      if (snapshot.oversized > 0) this.deps.log(`provider: ${snapshot.oversized} stored ciphertexts of epoch ${epoch} exceed a PIR slot and are not served by PIR`);
      const held = this.hold(snapshot, true, fingerprint, checkedAt);
      current.latest = held;
      this.counts.built++;
      this.deps.metrics.registry.inc('node_pir_snapshots_built_total', 'Provider: PIR snapshots built.', {});
      return held;
    })().finally(() => {
      current.building = undefined;
    });
    current.building = build;
    return build;
  }

  private hold(snapshot: Snapshot, own: boolean, fingerprint: string, checkedAt: number): Held {
    const key = hex(snapshot.snapshotId);
    const existing = this.held.get(key);
    if (existing !== undefined) return existing; // the same bytes (a rotation back, or a re-send)
    const { data, ...meta } = snapshot;
    const held: Held = {
      key,
      own,
      snapshot: meta,
      database: toDatabase(this.kernel, data, snapshot.rows, snapshot.rowBytes),
      fingerprint,
      checkedAt,
      replicatedTo: new Set(),
      replicating: undefined,
    };
    this.held.set(key, held);
    const listKey = `${hex(snapshot.origin)}:${snapshot.epoch}`;
    const list = this.lists.get(listKey) ?? [];
    list.push(key);
    while (list.length > this.keep) this.held.delete(list.shift()!);
    this.lists.set(listKey, list);
    this.prune(listKey);
    return held;
  }

  /** Drops the snapshots of epochs before the previous one (but never the list just added to). */
  private prune(keepList: string): void {
    const current = currentEpoch(this.deps.clock.now(), this.deps.timing);
    for (const [listKey, list] of this.lists) {
      if (listKey === keepList) continue;
      const epoch = Number(listKey.slice(listKey.indexOf(':') + 1));
      if (epoch >= current - 1) continue;
      for (const key of list) this.held.delete(key);
      this.lists.delete(listKey);
    }
    const keepEpoch = Number(keepList.slice(keepList.indexOf(':') + 1));
    for (const [epoch, state] of this.epochs) {
      if (epoch < current - 1 && epoch !== keepEpoch && state.building === undefined) this.epochs.delete(epoch);
    }
  }

  private unavailable(requestId: number, message: string): RetrievalRequestError {
    return new RetrievalRequestError('pir-unavailable', requestId, message);
  }

  /** Makes sure the partner of the current consensus holds the snapshot (pushing it once). */
  private async replicate(held: Held, requestId: number): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const now = this.deps.clock.now();
      const doc = this.deps.consensus.active(now);
      if (doc === undefined) throw this.unavailable(requestId, 'no consensus document yet: the PIR partner is unknown');
      const partner = pirPartner(doc, this.deps.nodeId);
      if (partner === undefined) throw this.unavailable(requestId, 'the consensus names no partner provider for PIR (it needs two providers)');
      const partnerKey = hex(partner.nodeId);
      if (held.replicatedTo.has(partnerKey)) return;
      held.replicating ??= this.push(held, partner).finally(() => {
        held.replicating = undefined;
      });
      try {
        await held.replicating;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        this.deps.metrics.registry.inc('node_pir_replications_total', '', { result: 'failed' });
        if (this.lastReplicationProblem !== message) {
          this.lastReplicationProblem = message;
          this.deps.log(`provider: PIR snapshot replication to ${partner.name} failed: ${message}`);
        }
        throw this.unavailable(requestId, `the snapshot could not be replicated to the partner provider ${partner.name}; retry later`);
      }
    }
    throw this.unavailable(requestId, 'the partner provider changed during replication; retry');
  }

  private linkTo(partner: NodeDescriptor): RequestChannel<PirResponse> {
    const key = `${hex(partner.nodeId)}@${partner.addresses.ws}`;
    if (this.partnerLink?.key === key) return this.partnerLink.link;
    this.partnerLink?.link.close();
    const link = new RequestChannel({
      url: `ws://${partner.addresses.ws}`,
      name: `partner provider ${partner.name}`,
      timeoutMs: this.requestTimeoutMs,
      maxMessageBytes: 64 * 1024,
      decode: decodePirResponse,
    });
    this.partnerLink = { key, link };
    return link;
  }

  private async push(held: Held, partner: NodeDescriptor): Promise<void> {
    const link = this.linkTo(partner);
    const { epoch, snapshotId, rows, slots, slotBytes, rowBytes } = held.snapshot;
    const unsigned = { epoch, snapshotId, rows, slots, slotBytes, origin: this.deps.nodeId };
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
    held.replicatedTo.add(hex(partner.nodeId));
    this.counts.replicated++;
    this.deps.metrics.registry.inc('node_pir_replications_total', '', { result: 'ok' });
    if (this.lastReplicationProblem !== '') {
      this.lastReplicationProblem = '';
      this.deps.log(`provider: PIR snapshot replication to ${partner.name} works again`);
    }
  }

  // --- pir-query ----------------------------------------------------------------------------------------

  private query(requestId: number, snapshotId: Uint8Array, key: Uint8Array): Uint8Array {
    const held = this.held.get(hex(snapshotId));
    if (held === undefined) throw new RetrievalRequestError('unknown-snapshot', requestId, 'no snapshot with that id is held here (expired, or never built)');
    let answer: Uint8Array;
    try {
      answer = pirAnswer(this.deps.crypto, key, held.database, this.kernel);
    } catch (error) {
      if (error instanceof PirError && (error.code === 'malformed-key' || error.code === 'domain-mismatch')) {
        throw new RetrievalRequestError('bad-key', requestId, `the DPF key does not fit a snapshot of ${held.snapshot.rows} rows (${error.code})`);
      }
      throw error;
    }
    return encodePirAnswer(requestId, answer);
  }

  // --- replication, partner side --------------------------------------------------------------------

  private badSnapshot(requestId: number, result: string, message: string): RetrievalRequestError {
    this.deps.metrics.registry.inc('node_pir_received_total', '', { result });
    return new RetrievalRequestError('bad-snapshot', requestId, message);
  }

  private offer(requestId: number, offer: PirOffer): Uint8Array {
    const now = this.deps.clock.now();
    const problem = shapeProblem(offer);
    if (problem !== undefined || offer.rows > MAX_PIR_ROWS) throw this.badSnapshot(requestId, 'bad-shape', `the offered shape is invalid: ${problem ?? 'too many rows'}`);
    const rowBytes = rowBytesOf(offer);
    if (rowBytes + PIR_ANSWER_HEADER_BYTES > this.deps.maxResponseBytes || offer.rows * rowBytes > this.maxSnapshotBytes || offer.rows * rowBytes > 0xffffffff) {
      throw this.badSnapshot(requestId, 'too-large', 'the offered snapshot exceeds this provider\'s limits');
    }
    const current = currentEpoch(now, this.deps.timing);
    if (offer.epoch > current + 1 || offer.epoch < current - 2) throw this.badSnapshot(requestId, 'wrong-epoch', 'the offered epoch is not a current one');
    const authorised = this.deps.consensus.held(now).some((doc) => {
      const partner = pirPartner(doc, offer.origin);
      return partner !== undefined && sameBytes(partner.nodeId, this.deps.nodeId);
    });
    if (!authorised) throw this.badSnapshot(requestId, 'not-partner', 'this provider is not the PIR partner of the offering node in any consensus it holds');
    if (!this.deps.crypto.ed25519Verify(offer.origin, pirOfferSignedBytes(offer, this.deps.nodeId), offer.signature)) {
      throw this.badSnapshot(requestId, 'bad-signature', 'the offer signature does not verify');
    }
    const key = hex(offer.snapshotId);
    if (this.held.has(key)) return encodePirAck(requestId, true);
    const previous = this.pending.get(key);
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
    this.pending.set(key, { offer, rowBytes, buffer: new Uint8Array(offer.rows * rowBytes), received: 0, timer });
    return encodePirAck(requestId, false);
  }

  private chunk(requestId: number, snapshotId: Uint8Array, offset: number, data: Uint8Array): Uint8Array {
    const key = hex(snapshotId);
    const pending = this.pending.get(key);
    if (pending === undefined) {
      if (this.held.has(key)) return encodePirAck(requestId, true);
      throw new RetrievalRequestError('unknown-snapshot', requestId, 'no transfer of that snapshot was offered');
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
    const root = snapshotRoot(this.deps.crypto, offer.origin, offer, pending.buffer);
    if (root === undefined || !sameBytes(root, offer.snapshotId)) throw this.badSnapshot(requestId, 'bad-data', 'the snapshot data does not hash to the offered id');
    this.hold(
      { ...offer, rowBytes: pending.rowBytes, data: pending.buffer, placed: 0, omitted: 0, oversized: 0 },
      false,
      '',
      this.deps.clock.now(),
    );
    this.counts.received++;
    this.deps.metrics.registry.inc('node_pir_received_total', '', { result: 'ok' });
    return encodePirAck(requestId, true);
  }

  close(): void {
    this.closed = true;
    for (const pending of this.pending.values()) clearTimeout(pending.timer);
    this.pending.clear();
    this.partnerLink?.link.close();
    this.partnerLink = undefined;
    this.held.clear();
    this.lists.clear();
  }
}

/** The store could not be read for a snapshot (counted and logged by the provider already). */
class StoreReadError extends Error {
  constructor(readonly reply: RetrievalErrorName) {
    super(`mailbox store: ${reply}`);
  }
}

function epochEndOf(epoch: number, timing: EpochTiming): number {
  return timing.genesisMs + (epoch + 1) * timing.epochMs;
}

function defaultKernel(log: (line: string) => void): ScanKernel {
  try {
    return loadWasmScanKernel();
  } catch (error) {
    log(`provider: the WebAssembly PIR kernel is unavailable (${error instanceof Error ? error.message : String(error)}); using the JavaScript scan`);
    return jsScanKernel;
  }
}

/** The rows as the kernel scans them best: in WebAssembly memories for the WASM kernel, flat otherwise. */
function toDatabase(kernel: ScanKernel, data: Uint8Array, rows: number, rowBytes: number): ScanDatabase {
  if (kernel instanceof WasmScanKernel) {
    const database = new WasmShardedDatabase(rows, rowBytes);
    database.load(data);
    return database;
  }
  return { rows, rowBytes, data };
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
