import { Worker } from 'node:worker_threads';
import type { UnwrapOutcome } from '../runtime/hop.js';
import type { EpochKey } from '../runtime/keyring.js';
import type { NodeLog } from '../log.js';
import type { UnwrapAnswer, UnwrapBatch, UnwrapWorkerData } from './unwrap-protocol.js';

/**
 * A mix's unwrap workers (docs/nodes.md, "Unwrap workers"): packets are gathered into batches
 * (one per turn of the event loop, at most BATCH_PACKETS each), a batch goes to the worker with
 * the fewest packets in hand, and each outcome comes back to `onOutcome` with the keys it was
 * tried under, on the main thread, where the replay check is made. At most `capacity` packets are
 * queued or in a worker: `submit` refuses more, and `onPressure` says when to stop and resume
 * reading links. A worker that dies loses its packets (counted) and is replaced a few times.
 */
export const BATCH_PACKETS = 32;
const MAX_RESTARTS = 5;

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
  private open: { keys: readonly EpochKey[]; tags: (string | undefined)[]; packets: Uint8Array; count: number } | undefined;
  private nextBatch = 0;
  private queued = 0;
  private pressured = false;
  private flushScheduled = false;
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
   * `tag` comes back with its outcome (the packet recorder's hash, test networks only).
   */
  submit(packet: Uint8Array, keys: readonly EpochKey[], tag?: string): boolean {
    const { packetLength, capacity } = this.options;
    if (this.closed || this.slots.length === 0 || this.queued >= capacity || packet.length !== packetLength) return false;
    if (this.open !== undefined && !sameKeys(this.open.keys, keys)) this.flush();
    this.open ??= { keys, tags: [], packets: new Uint8Array(BATCH_PACKETS * packetLength), count: 0 };
    this.open.packets.set(packet, this.open.count * packetLength);
    this.open.tags.push(tag);
    this.open.count++;
    this.queued++;
    if (this.open.count === BATCH_PACKETS) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
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
    this.open = undefined;
    this.pending.clear();
    this.queued = 0;
    if (lost > 0) this.options.onLost('shutdown', lost);
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  private flush(): void {
    const batch = this.open;
    this.open = undefined;
    if (batch === undefined || batch.count === 0 || this.closed) return;
    let slot = this.slots[0];
    for (const candidate of this.slots) if (candidate.inHand < slot.inHand) slot = candidate;
    const id = this.nextBatch++;
    const packets = batch.packets.subarray(0, batch.count * this.options.packetLength);
    const message: UnwrapBatch = { batch: id, secrets: batch.keys.map((key) => key.secret), packets, count: batch.count };
    this.pending.set(id, { keys: batch.keys, tags: batch.tags, count: batch.count, slot });
    slot.inHand += batch.count;
    slot.worker.postMessage(message, [batch.packets.buffer as ArrayBuffer]);
  }

  private onAnswer(answer: UnwrapAnswer): void {
    const pending = this.pending.get(answer.batch);
    if (pending === undefined || this.closed) return;
    this.pending.delete(answer.batch);
    pending.slot.inHand -= pending.count;
    this.queued -= pending.count;
    this.updatePressure();
    answer.outcomes.forEach((outcome, i) => this.options.onOutcome(pending.keys, outcome, pending.tags[i]));
  }

  private spawn(): Slot {
    const worker = new Worker(new URL('./unwrap-worker.js', import.meta.url), { workerData: this.options.workerData, execArgv: [] });
    const slot: Slot = { worker, inHand: 0 };
    worker.on('message', (answer: UnwrapAnswer) => this.onAnswer(answer));
    worker.on('error', (error) => this.options.log(`mix: an unwrap worker failed (${error.message})`, 'error'));
    worker.on('exit', () => this.onExit(slot));
    return slot;
  }

  /** A worker that stopped on its own: its packets are lost; it is replaced up to MAX_RESTARTS times. */
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
    this.queued -= lost;
    if (lost > 0) this.options.onLost('internal', lost);
    if (this.restarts < MAX_RESTARTS) {
      this.restarts++;
      this.slots.push(this.spawn());
    } else {
      this.options.log('mix: unwrap workers keep failing; unwrapping on the main thread', 'error');
    }
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
