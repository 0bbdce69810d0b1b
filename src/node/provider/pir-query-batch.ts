import { MAX_BATCH, scanMany, ScanError, type ScanDatabase, type ScanKernel } from '../../codec/pir-scan/types.js';
import type { Crypto } from '../../crypto/types.js';
import { dpfEvalAll, PirError } from '../../pir/index.js';
import type { Metrics } from '../metrics.js';

/** Upper bounds (seconds) of the PIR answer-time histogram: from arrival to answer, queueing included. */
export const PIR_ANSWER_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Upper bounds of the batch-size histogram (queries answered by one pass). */
export const PIR_BATCH_BUCKETS: readonly number[] = [1, 2, 4, 8, 16, 32, 64, 128];

interface Waiting {
  readonly key: Uint8Array;
  readonly arrived: number;
  readonly resolve: (answer: Uint8Array) => void;
  readonly reject: (error: unknown) => void;
}

/** A kernel that scans off the calling thread (ParallelScanKernel with offThread). */
export interface AsyncScanKernel extends ScanKernel {
  scanBatchAsync(database: ScanDatabase, selections: readonly Uint8Array[]): Promise<Uint8Array[]>;
}

function scansAsync(kernel: ScanKernel): kernel is AsyncScanKernel {
  return typeof (kernel as Partial<AsyncScanKernel>).scanBatchAsync === 'function';
}

/** Resolves at the next event-loop turn (after pending I/O). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * The provider's pir-query queue (docs/pir.md, "Batched answers"): queries against the same
 * snapshot that arrive in the same event-loop turn, or while a pass over it is running, are
 * answered by one batched pass over the database. With a kernel that scans off the thread
 * (scanBatchAsync), the event loop stays free during a pass: it evaluates one DPF key per turn and
 * awaits the scan workers. Each answer is byte for byte what pirAnswer gives for its key alone: batching
 * changes only when an answer is sent. A bad key fails alone; the others of its batch are answered.
 * Nothing is dropped under load: the queue grows and answers come later, which shows in
 * `node_pir_answer_seconds` (arrival to answer) and `node_pir_batch_size`.
 */
export class PirQueryBatcher {
  /** Passes run, and answers computed by them. */
  passes = 0;
  answered = 0;
  private readonly queues = new Map<ScanDatabase, Waiting[]>();
  /** Databases with a pass running: their new queries wait for it to end, then share the next pass. */
  private readonly busy = new Set<ScanDatabase>();
  private scheduled = false;

  constructor(
    private readonly crypto: Crypto,
    /** The kernel that scans a database (the scan-thread pool's kernel for a held snapshot, or the base kernel). */
    private readonly kernelFor: (database: ScanDatabase) => ScanKernel,
    private readonly metrics: Metrics,
  ) {
    metrics.inc('node_pir_passes_total', 'Provider: passes over a PIR database (each answers a batch of queries).', {}, 0);
    metrics.inc('node_pir_answers_total', 'Provider: pir-query answers computed.', {}, 0);
  }

  /** Queries waiting for their pass. */
  get waiting(): number {
    let count = 0;
    for (const queue of this.queues.values()) count += queue.length;
    return count;
  }

  /** The answer to `key` over `database`; rejects with PirError for a key that does not fit it. */
  answer(database: ScanDatabase, key: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(database) ?? [];
      queue.push({ key, arrived: performance.now(), resolve, reject });
      this.queues.set(database, queue);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Starts a batched pass (in passes of MAX_BATCH) for every database with queries and no pass running. */
  private flush(): void {
    this.scheduled = false;
    for (const [database, queue] of [...this.queues]) {
      if (this.busy.has(database)) continue;
      this.queues.delete(database);
      this.busy.add(database);
      void this.pass(database, queue).finally(() => {
        this.busy.delete(database);
        if (this.queues.has(database)) this.schedule();
      });
    }
  }

  private async pass(database: ScanDatabase, queue: readonly Waiting[]): Promise<void> {
    const offThread = scansAsync(this.kernelFor(database));
    const ready: { waiting: Waiting; selection: Uint8Array }[] = [];
    for (const waiting of queue) {
      if (offThread && ready.length > 0) await nextTurn();
      try {
        ready.push({ waiting, selection: dpfEvalAll(this.crypto, waiting.key, database.rows) });
      } catch (error) {
        waiting.reject(error);
      }
    }
    if (ready.length === 0) return;
    let answers: Uint8Array[];
    try {
      const selections = ready.map((item) => item.selection);
      const kernel = this.kernelFor(database); // again: a snapshot dropped meanwhile is scanned by the base kernel
      if (scansAsync(kernel)) {
        answers = [];
        for (let start = 0; start < selections.length; start += MAX_BATCH) answers.push(...await kernel.scanBatchAsync(database, selections.slice(start, start + MAX_BATCH)));
      } else {
        answers = scanMany(kernel, database, selections);
      }
    } catch (error) {
      const failure = error instanceof ScanError ? new PirError('scan-failed', error.message, { cause: error }) : error;
      for (const item of ready) item.waiting.reject(failure);
      return;
    }
    const done = performance.now();
    this.passes++;
    this.answered += answers.length;
    this.metrics.inc('node_pir_passes_total', '', {}, 1);
    this.metrics.inc('node_pir_answers_total', '', {}, answers.length);
    this.metrics.observe('node_pir_batch_size', 'Provider: pir-query answers computed by one batched pass.', PIR_BATCH_BUCKETS, answers.length);
    ready.forEach((item, q) => {
      this.metrics.observe('node_pir_answer_seconds', 'Provider: time from a pir-query\'s arrival to its answer (queueing and the pass), seconds.', PIR_ANSWER_BUCKETS, (done - item.waiting.arrived) / 1000);
      item.waiting.resolve(answers[q]);
    });
  }
}
