import { siftDown, siftUp, type HeapSlots } from '../mixing/heap.js';

/**
 * The simulator's agenda, a binary heap (src/mixing/heap.ts) over parallel typed arrays, keyed by
 * simulated time. Two kinds of entry: actors (clients, nodes, the mail source: ids below
 * `actorCount`) have one current schedule each; an actor rescheduled earlier is pushed again and
 * the stale entry is skipped when it comes up (lazy deletion). One-shot entries (ids from
 * `actorCount` up, such as a packet's release from a mix) are pushed and popped once. Ties leave in
 * push order, so runs repeat exactly. Nothing is allocated per event.
 */
export class EventQueue implements HeapSlots {
  private times = new Float64Array(1024);
  private seqs = new Float64Array(1024);
  private ids = new Int32Array(1024);
  private length = 0;
  private seq = 0;
  private readonly scheduled: Float64Array;
  /** The time of the entry `pop` last returned. */
  at = 0;

  constructor(private readonly actorCount: number) {
    this.scheduled = new Float64Array(actorCount).fill(Infinity);
  }

  get size(): number {
    return this.length;
  }

  /** Schedules actor `actor` at `at` (replacing its earlier schedule); Infinity unschedules it. */
  schedule(actor: number, at: number): void {
    this.scheduled[actor] = at;
    if (at !== Infinity) this.insert(actor, at);
  }

  scheduledAt(actor: number): number {
    return this.scheduled[actor];
  }

  /** A one-shot entry: `id` ≥ the actor count. */
  push(id: number, at: number): void {
    this.insert(id, at);
  }

  /** The next id due (its time in `at`), or −1 when nothing is scheduled. */
  pop(): number {
    while (this.length > 0) {
      const at = this.times[0];
      const id = this.ids[0];
      this.removeTop();
      if (id >= this.actorCount) {
        this.at = at;
        return id;
      }
      if (this.scheduled[id] === at) {
        this.scheduled[id] = Infinity;
        this.at = at;
        return id;
      }
    }
    return -1;
  }

  less(a: number, b: number): boolean {
    const x = this.times[a];
    const y = this.times[b];
    return x < y || (x === y && this.seqs[a] < this.seqs[b]);
  }

  swap(a: number, b: number): void {
    const time = this.times[a];
    this.times[a] = this.times[b];
    this.times[b] = time;
    const seq = this.seqs[a];
    this.seqs[a] = this.seqs[b];
    this.seqs[b] = seq;
    const id = this.ids[a];
    this.ids[a] = this.ids[b];
    this.ids[b] = id;
  }

  private insert(id: number, at: number): void {
    if (this.length === this.times.length) this.grow();
    const i = this.length++;
    this.times[i] = at;
    this.seqs[i] = this.seq++;
    this.ids[i] = id;
    siftUp(this, i);
  }

  private removeTop(): void {
    const last = --this.length;
    if (last > 0) {
      this.times[0] = this.times[last];
      this.seqs[0] = this.seqs[last];
      this.ids[0] = this.ids[last];
      siftDown(this, 0, this.length);
    }
  }

  private grow(): void {
    const n = this.times.length * 2;
    const times = new Float64Array(n);
    times.set(this.times);
    this.times = times;
    const seqs = new Float64Array(n);
    seqs.set(this.seqs);
    this.seqs = seqs;
    const ids = new Int32Array(n);
    ids.set(this.ids);
    this.ids = ids;
  }
}
