import { Worker } from 'node:worker_threads';
import type { UnwrapOutcome } from '../runtime/hop.js';
import type { EpochKey } from '../runtime/keyring.js';
import type { NodeLog } from '../log.js';
import { decodeOutcomes } from './unwrap-codec.js';
import type { UnwrapAnswer, UnwrapBatch, UnwrapWorkerData } from './unwrap-protocol.js';

/**
 * A mix's unwrap workers (docs/nodes.md, "Unwrap workers"): packets wait in batches of at most
 * BATCH_PACKETS (a new one when the candidate keys change), and once a turn of the event loop (or
 * as soon as a batch is full) waiting batches go, oldest first, to the worker with the fewest
 * packets in hand that holds fewer than IN_FLIGHT batches; so a worker always has its next batch
 * while the main thread reads the last one's answer, and while the workers are busy, the packets
 * of later turns fill the waiting batches up instead of making small ones. Each
 * outcome comes back to `onOutcome` with the keys it was tried under, on the main thread, where
 * the replay check is made. A batch's packets are copied into a buffer only when it leaves for a
 * worker; its outcomes come back as records in a second buffer (src/node/mix/unwrap-codec.ts)
 * with each result's bytes moved as they are; both buffers go round again, so the pool
 * allocates none per batch. At most `capacity` packets are
 * queued or in a worker: `submit` refuses more, and `onPressure` says when to stop and resume
 * reading links. A worker that dies loses its packets (counted) and is replaced a few times.
 */
export const BATCH_PACKETS = 32;
/** Batches a worker holds at once: the one it unwraps and the next. */
export const IN_FLIGHT = 2;
const MAX_RESTARTS = 5;
/** Room for one outcome's record (head, tag, commands or error code); a worker makes a larger buffer when needed. */
const OUTCOME_ROOM = 512;

export interface UnwrapPoolOptions {
  readonly workers: number;
  readonly workerData: UnwrapWorkerData;
  readonly packetLength: number;
  /** Packets queued or in workers at most. */
  readonly capacity: number;
  /** Each outcome, with the keys and the `tag` its packet was submitted with. */
  readonly onOutcome: (keys: readonly EpochKey[], outcome: UnwrapOutcome, tag: string | undefined) => void;
  /** Packets lost: in a worker that died ('internal'), or queued at shutdown ('shutdown'). */
  readonly onLost: (reason: 'internal' | 'shutdown', count: number) => void;
  /** true: the pool is nearly full (stop reading links); false: it has room again. */
  readonly onPressure: (full: boolean) => void;
  readonly log: NodeLog;
}

interface Slot {
  worker: Worker;
  inHand: number;
  batches: number;
}

/** Packets waiting for a worker: the caller's arrays, not copied yet (a link's frames are its own). */
interface Waiting {
  readonly keys: readonly EpochKey[];
  readonly tags: (string | undefined)[];
  readonly packets: Uint8Array[];
}

interface Pending {
  readonly keys: readonly EpochKey[];
  readonly tags: readonly (string | undefined)[];
  readonly count: number;
  readonly slot: Slot;
}

export class UnwrapPool {
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, Pending>();
  /** Batches waiting for a worker, oldest first; only the last one may still grow. */
  private readonly waiting: Waiting[] = [];
  /** Buffers back from the workers: for packets, and for outcomes. */
  private readonly sparePackets: ArrayBuffer[] = [];
  private readonly spareAnswers: ArrayBuffer[] = [];
  private nextBatch = 0;
  private queued = 0;
  private pressured = false;
  private dispatchScheduled = false;
  private restarts = 0;
  private closed = false;

  constructor(private readonly options: UnwrapPoolOptions) {
    for (let i = 0; i < options.workers; i++) this.slots.push(this.spawn());
  }

  /** Packets queued or in a worker. */
  get depth(): number {
    return this.queued;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Workers running. */
  get running(): number {
    return this.slots.length;
  }

  /**
   * Queues a packet to be unwrapped under `keys` (tried in order); false when full or closed.
   * The packet is read when its batch leaves for a worker: it must not change until then.
   * `tag` comes back with its outcome (the packet recorder's hash, test networks only).
   */
  submit(packet: Uint8Array, keys: readonly EpochKey[], tag?: string): boolean {
    const { packetLength, capacity } = this.options;
    if (this.closed || this.slots.length === 0 || this.queued >= capacity || packet.length !== packetLength) return false;
    let last = this.waiting[this.waiting.length - 1];
    if (last === undefined || last.packets.length === BATCH_PACKETS || !sameKeys(last.keys, keys)) {
      last = { keys, tags: [], packets: [] };
      this.waiting.push(last);
    }
    last.packets.push(packet);
    last.tags.push(tag);
    this.queued++;
    if (last.packets.length === BATCH_PACKETS) this.dispatch();
    else if (!this.dispatchScheduled) {
      this.dispatchScheduled = true;
      setImmediate(() => {
        this.dispatchScheduled = false;
        this.dispatch();
      });
    }
    this.updatePressure();
    return true;
  }

  /** Stops the workers; packets queued or in hand are lost (counted as 'shutdown'). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const lost = this.queued;
    this.waiting.length = 0;
    this.pending.clear();
    this.sparePackets.length = 0;
    this.spareAnswers.length = 0;
    this.queued = 0;
    if (lost > 0) this.options.onLost('shutdown', lost);
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  /** Sends waiting batches, oldest first, while a worker holds fewer than IN_FLIGHT. */
  private dispatch(): void {
    while (this.waiting.length > 0 && !this.closed) {
      let slot: Slot | undefined;
      for (const candidate of this.slots) {
        if (candidate.batches < IN_FLIGHT && (slot === undefined || candidate.inHand < slot.inHand)) slot = candidate;
      }
      if (slot === undefined) return;
      this.send(slot, this.waiting.shift() as Waiting);
    }
  }

  private send(slot: Slot, batch: Waiting): void {
    const { packetLength } = this.options;
    const count = batch.packets.length;
    const packets = new Uint8Array(this.sparePackets.pop() ?? new ArrayBuffer(BATCH_PACKETS * packetLength));
    for (let i = 0; i < count; i++) packets.set(batch.packets[i], i * packetLength);
    const answer = this.spareAnswers.pop() ?? new ArrayBuffer(BATCH_PACKETS * OUTCOME_ROOM);
    // The worker's copies of the secrets are moved, and zeroed there once the batch is done.
    const secrets = batch.keys.map((key) => key.secret.slice());
    const id = this.nextBatch++;
    const message: UnwrapBatch = { batch: id, secrets, packets: packets.subarray(0, count * packetLength), count, answer };
    this.pending.set(id, { keys: batch.keys, tags: batch.tags, count, slot });
    slot.inHand += count;
    slot.batches++;
    slot.worker.postMessage(message, [packets.buffer as ArrayBuffer, answer, ...secrets.map((secret) => secret.buffer as ArrayBuffer)]);
  }

  private onAnswer(answer: UnwrapAnswer): void {
    const pending = this.pending.get(answer.batch);
    if (pending === undefined || this.closed) return;
    this.pending.delete(answer.batch);
    pending.slot.inHand -= pending.count;
    pending.slot.batches--;
    this.queued -= pending.count;
    let outcomes: UnwrapOutcome[] | undefined;
    try {
      outcomes = decodeOutcomes(new Uint8Array(answer.outcomes, 0, answer.length), pending.count, answer.bytes);
    } catch (error) {
      this.options.log(`mix: an unwrap worker's answer did not decode (${(error as Error).message})`, 'error');
      this.options.onLost('internal', pending.count);
    }
    this.recycle(answer);
    this.dispatch();
    this.updatePressure();
    if (outcomes === undefined) return;
    for (let i = 0; i < outcomes.length; i++) this.options.onOutcome(pending.keys, outcomes[i], pending.tags[i]);
  }

  /** Keeps an answer's buffers for later batches, as many as can be in flight at once. */
  private recycle(answer: UnwrapAnswer): void {
    const { packetLength } = this.options;
    const keep = IN_FLIGHT * this.slots.length;
    if (this.sparePackets.length < keep && answer.packets.byteLength === BATCH_PACKETS * packetLength) this.sparePackets.push(answer.packets);
    if (this.spareAnswers.length < keep && answer.outcomes.byteLength >= BATCH_PACKETS * OUTCOME_ROOM) this.spareAnswers.push(answer.outcomes);
  }

  private spawn(): Slot {
    const worker = new Worker(new URL('./unwrap-worker.js', import.meta.url), { workerData: this.options.workerData, execArgv: [] });
    const slot: Slot = { worker, inHand: 0, batches: 0 };
    worker.on('message', (answer: UnwrapAnswer) => this.onAnswer(answer));
    worker.on('error', (error) => this.options.log(`mix: an unwrap worker failed (${error.message})`, 'error'));
    worker.on('exit', () => this.onExit(slot));
    return slot;
  }

  /**
   * A worker that stopped on its own: its packets are lost; it is replaced up to MAX_RESTARTS
   * times. When none is left, what waited for one is lost too.
   */
  private onExit(slot: Slot): void {
    if (this.closed) return;
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    this.slots.splice(index, 1);
    let lost = 0;
    for (const [id, pending] of this.pending) {
      if (pending.slot !== slot) continue;
      this.pending.delete(id);
      lost += pending.count;
    }
    if (this.restarts < MAX_RESTARTS) {
      this.restarts++;
      this.slots.push(this.spawn());
    } else {
      this.options.log('mix: unwrap workers keep failing; unwrapping on the main thread', 'error');
    }
    if (this.slots.length === 0) {
      for (const batch of this.waiting) lost += batch.packets.length;
      this.waiting.length = 0;
    }
    this.queued -= lost;
    if (lost > 0) this.options.onLost('internal', lost);
    this.dispatch();
    this.updatePressure();
  }

  private updatePressure(): void {
    const { capacity } = this.options;
    const full = this.queued >= capacity - BATCH_PACKETS;
    const roomy = this.queued <= capacity / 2;
    if (full && !this.pressured) {
      this.pressured = true;
      this.options.onPressure(true);
    } else if (roomy && this.pressured) {
      this.pressured = false;
      this.options.onPressure(false);
    }
  }
}

function sameKeys(a: readonly EpochKey[], b: readonly EpochKey[]): boolean {
  return a.length === b.length && a.every((key, i) => key === b[i]);
}
