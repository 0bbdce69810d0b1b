/**
 * The provider's PIR service (docs/pir.md, "Mailbox retrieval"; docs/network.md, "Client
 * protocols"). It composes three parts:
 * - the snapshot cache (pir-snapshot-cache.ts): per epoch, a snapshot of the stored ciphertexts
 *   laid out as a PIR database (src/pir/snapshot.ts), and the partner's snapshots;
 * - replication (pir-replication.ts, pir-replication-receiver.ts): own snapshots pushed to the
 *   partner provider before they are announced (pir-offer or pir-delta, pir-chunk), and the
 *   partner's taken in;
 * - the answers to clients (pir-answers.ts): pir-info and pir-query.
 */
import { totalmem } from 'node:os';
import type { ScanKernel } from '../../codec/pir-scan/types.js';
import { jsScanKernel } from '../../codec/pir-scan/js-kernel.js';
import { loadWasmScanKernel } from '../../codec/pir-scan/wasm-kernel.js';
import type { Crypto } from '../../crypto/types.js';
import type { EpochTiming } from '../../pki/index.js';
import type { MailboxStore } from '../../store/mailbox.js';
import type { Clock } from '../../net/clock.js';
import type { NodeMetrics } from '../runtime/metrics.js';
import type { StoreFailureHooks } from './store-failures.js';
import { PirAnswers } from './pir-answers.js';
import { PirQueryBatcher } from './pir-query-batch.js';
import { defaultScanThreads, SnapshotScanKernels } from './pir-scan-threads.js';
import { PirReplicationSender } from './pir-replication.js';
import { PirReplicationReceiver } from './pir-replication-receiver.js';
import { rowBytesOfEpoch, type PirConsensus, type ReplicationConnection } from './pir-replication-shared.js';
import { PirSnapshotCache, type RowSizing } from './pir-snapshot-cache.js';
import { RetrievalRequestError, type PirRequest } from '../../wire/index.js';
import type { NodeLog } from '../log.js';
import type { WebSocketConnector } from '../../net/request-channel.js';

export interface PirServiceOptions {
  /**
   * Least time between two snapshots of an epoch (node clock); default epochMs / 32, within
   * 500 ms … 30 s. The current and the previous epoch are refreshed on this period whether or not
   * clients ask, so what pir-info names is at most about this old.
   */
  readonly refreshMs?: number;
  /** The scan kernel; default the WebAssembly kernel when scan.wasm loads, else the JavaScript one. */
  readonly kernel?: ScanKernel;
  /** Snapshots kept per (origin, epoch) at least; default 3. */
  readonly keep?: number;
  /** How long a superseded snapshot stays queryable (a poll's queries follow its pir-info); default 15 s. */
  readonly graceMs?: number;
  /**
   * Largest snapshot built or accepted. Default: built, from memoryBytes and keep
   * (defaultMaxSnapshotBytes); accepted from the partner, 4 GiB, so that a partner with less memory
   * never makes an epoch unavailable (docs/pir.md, "Memory").
   */
  readonly maxSnapshotBytes?: number;
  /** The machine's memory the default snapshot limit is sized for; default os.totalmem(). */
  readonly memoryBytes?: number;
  /** Size of the provider's one scan-thread pool, shared by every snapshot (0: scan on the event loop); default min(cores - 1, 2), at least 1. */
  readonly scanThreads?: number;
  /** Bytes of rows per shard (each its own WebAssembly memory, the unit a scan thread takes); default 64 MiB. */
  readonly shardBytes?: number;
  /**
   * Test hook for the planted-leak control of test/client/pir-volume.test.ts: sizes rows other than
   * by the consensus (there: to the fullest bucket, as row format 1 did). Both providers of a pair
   * must set it (a partner then takes rows of any size). Never set in a deployment.
   */
  readonly rowSizing?: RowSizing;
  /** Real-time limit of one replication request to the partner; default 10 s. */
  readonly requestTimeoutMs?: number;
  /** Test hook: how the replication link to the partner connects (default connectWebSocket). Never set in a deployment. */
  readonly partnerConnect?: WebSocketConnector;
}

export interface PirServiceDeps extends StoreFailureHooks {
  readonly crypto: Crypto;
  readonly clock: Clock;
  readonly timing: EpochTiming;
  readonly nodeId: Uint8Array;
  readonly identitySeed: Uint8Array;
  readonly store: MailboxStore;
  /** Largest stored ciphertext (a slot's capacity). */
  readonly capacity: number;
  readonly maxResponseBytes: number;
  readonly consensus: PirConsensus;
  readonly metrics: NodeMetrics;
  readonly log: NodeLog;
  /** Throws RetrievalRequestError('epoch-not-held') for an epoch the provider does not serve. */
  readonly checkEpoch: (epoch: number, requestId: number) => void;
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
  /** pir-query answers computed, and the batched passes over a database that computed them. */
  readonly answered: number;
  readonly passes: number;
  /** Size of the scan-thread pool, and the snapshots handed to it. */
  readonly scanThreads: number;
  readonly threadedSnapshots: number;
}

/** The smallest default snapshot limit, and the largest any snapshot may have (4 GiB: 2^20 rows of 4 KiB). */
const MIN_DEFAULT_SNAPSHOT_BYTES = 256 * 2 ** 20;
const MAX_SNAPSHOT_BYTES = 2 ** 32;

/**
 * The default snapshot limit (docs/pir.md, "Memory"): three quarters of the memory shared by every
 * snapshot held at once at worst, 2 origins (own, partner's) × 3 epochs (current, previous, and the
 * older one clients catch up on) × `keep`, plus one being built or received (its flat rows and its
 * shards: 2). At least 256 MiB, at most 4 GiB.
 */
export function defaultMaxSnapshotBytes(memoryBytes: number, keep: number): number {
  const share = Math.floor((0.75 * memoryBytes) / (6 * keep + 2));
  return Math.min(MAX_SNAPSHOT_BYTES, Math.max(MIN_DEFAULT_SNAPSHOT_BYTES, share));
}

export class PirService {
  readonly kernel: ScanKernel;
  private readonly cache: PirSnapshotCache;
  private readonly sender: PirReplicationSender;
  private readonly receiver: PirReplicationReceiver;
  private readonly answers: PirAnswers;
  private readonly batcher: PirQueryBatcher;
  private readonly scanKernels: SnapshotScanKernels;
  /** Largest snapshot built or accepted here. */
  readonly maxSnapshotBytes: number;
  private closed = false;
  private refreshTimer: unknown;

  constructor(private readonly deps: PirServiceDeps, options: PirServiceOptions = {}) {
    const kernel = options.kernel ?? defaultKernel(deps.log);
    this.kernel = kernel;
    const keep = Math.max(1, options.keep ?? 3);
    const maxSnapshotBytes = Math.min(MAX_SNAPSHOT_BYTES, options.maxSnapshotBytes ?? defaultMaxSnapshotBytes(options.memoryBytes ?? totalmem(), keep));
    this.maxSnapshotBytes = maxSnapshotBytes;
    this.scanKernels = new SnapshotScanKernels(kernel, Math.max(0, Math.floor(options.scanThreads ?? defaultScanThreads())), deps.log);
    const graceMs = Math.max(0, options.graceMs ?? 15_000);
    const refreshMs = options.refreshMs ?? Math.min(30_000, Math.max(500, Math.floor(deps.timing.epochMs / 32)));
    this.cache = new PirSnapshotCache(deps, {
      kernel,
      refreshMs,
      keep,
      onDrop: (held) => this.scanKernels.release(held.database),
      graceMs,
      rowBytes: (epoch) => rowBytesOfEpoch(deps.consensus, epoch, deps.clock.now()),
      maxSnapshotBytes,
      ...(options.rowSizing === undefined ? {} : { rowSizing: options.rowSizing }),
      ...(options.shardBytes === undefined ? {} : { shardBytes: options.shardBytes }),
    });
    this.sender = new PirReplicationSender({ ...deps, requestTimeoutMs: options.requestTimeoutMs ?? 10_000, reconfirmMs: Math.floor(graceMs / 3), snapshot: (id) => this.cache.get(id), ...(options.partnerConnect === undefined ? {} : { connect: options.partnerConnect }) });
    const acceptBytes = Math.min(MAX_SNAPSHOT_BYTES, options.maxSnapshotBytes ?? MAX_SNAPSHOT_BYTES);
    this.receiver = new PirReplicationReceiver({ ...deps, maxSnapshotBytes: acceptBytes, cache: this.cache, anyRowBytes: options.rowSizing !== undefined });
    this.batcher = new PirQueryBatcher(deps.crypto, (database) => this.scanKernels.kernelFor(database), deps.metrics.registry);
    this.answers = new PirAnswers({ batcher: this.batcher, cache: this.cache, sender: this.sender, checkEpoch: deps.checkEpoch, now: () => deps.clock.now(), timing: deps.timing });
    const registry = deps.metrics.registry;
    deps.metrics.gauge('node_pir_queries_waiting', 'Provider: pir-query requests waiting for their batched pass.', () => this.batcher.waiting);
    deps.metrics.gauge('node_pir_snapshots', 'Provider: PIR snapshots held (own and the partner provider\'s).', () => this.cache.size);
    registry.inc('node_pir_snapshots_built_total', 'Provider: PIR snapshots built.', {}, 0);
    registry.inc('node_pir_replications_total', 'Provider: PIR snapshots pushed to the partner provider, by result.', { result: 'ok' }, 0);
    registry.inc('node_pir_received_total', 'Provider: PIR snapshots received from the partner provider, by result.', { result: 'ok' }, 0);
    for (const kind of ['whole', 'delta'] as const) {
      registry.inc('node_pir_replicated_bytes_total', 'Provider: bytes of PIR snapshots (whole) and of snapshot deltas sent to the partner provider in pir-chunks.', { kind }, 0);
      registry.inc('node_pir_received_bytes_total', 'Provider: bytes of PIR snapshots (whole) and of snapshot deltas received from the partner provider in pir-chunks.', { kind }, 0);
    }
    this.scheduleRefresh(refreshMs);
  }

  /**
   * Rebuilds (when due) and replicates the current and the previous epoch's snapshots every
   * `refreshMs`, on the node's clock alone: the snapshot pir-info names is never older than about
   * one period, and when it is rebuilt says nothing about which client asked what.
   */
  private scheduleRefresh(refreshMs: number): void {
    this.refreshTimer = this.deps.clock.setTimer(() => {
      if (this.closed) return;
      this.answers.refreshServed();
      this.scheduleRefresh(refreshMs);
    }, refreshMs);
  }

  status(): PirStatus {
    const own = this.cache.ownCount();
    return {
      kernel: this.kernel.name,
      own,
      partner: this.cache.size - own,
      built: this.cache.built,
      replicated: this.sender.replicated,
      received: this.receiver.received,
      answered: this.batcher.answered,
      passes: this.batcher.passes,
      scanThreads: this.scanKernels.threads,
      threadedSnapshots: this.scanKernels.running,
    };
  }

  /** Answers one PIR request that came on `connection`; RetrievalRequestError for every refusal. */
  async serve(request: PirRequest, connection: ReplicationConnection): Promise<Uint8Array> {
    if (this.closed) throw new RetrievalRequestError('unavailable', request.requestId, 'the provider is closing');
    switch (request.type) {
      case 'pir-info':
        return this.answers.info(request.requestId, request.epoch);
      case 'pir-query':
        return this.answers.query(request.requestId, request.snapshotId, request.key);
      case 'pir-offer':
        return this.receiver.offer(request.requestId, request.offer, connection);
      case 'pir-delta':
        return this.receiver.delta(request.requestId, request.offer, request.baseId, request.deltaBytes, connection);
      case 'pir-chunk':
        return this.receiver.chunk(request.requestId, request.snapshotId, request.offset, request.data, connection);
    }
  }

  /** Forgets what a closed connection was doing (its replication transfers). */
  connectionClosed(connection: ReplicationConnection): void {
    this.receiver.connectionClosed(connection);
  }

  close(): void {
    this.closed = true;
    if (this.refreshTimer !== undefined) this.deps.clock.clearTimer(this.refreshTimer);
    this.receiver.close();
    this.sender.close();
    this.cache.clear();
    void this.scanKernels.close(); // the threads stop once the passes queued are done
  }
}

function defaultKernel(log: NodeLog): ScanKernel {
  try {
    return loadWasmScanKernel();
  } catch (error) {
    log(`provider: the WebAssembly PIR kernel is unavailable (${error instanceof Error ? error.message : String(error)}); using the JavaScript scan`, 'warn');
    return jsScanKernel;
  }
}
