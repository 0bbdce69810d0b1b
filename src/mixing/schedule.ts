import { siftDown, siftUp, type HeapSlots } from './heap.js';

/**
 * A mix's hold-and-release schedule (continuous-time mixing, Loopix): every packet waits the delay
 * its sender chose, capped at the network's maximum, and leaves when its time comes, whatever else
 * arrived. Pure: the caller passes the time in and asks what is due; the node shell owns the timer.
 * Bounded: when full, a new packet is refused and counted (the oldest are never displaced, so an
 * attacker cannot flush the pool to trace a target packet).
 */
export interface Held<T> {
  readonly releaseAt: number;
  readonly item: T;
}

export class MixSchedule<T> {
  private readonly heap: Held<T>[] = [];
  private sequence = 0;
  private readonly order: number[] = [];
  dropped = 0;

  constructor(readonly capacity: number, readonly maxDelayMs: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`schedule: capacity ${capacity}`);
    if (!(maxDelayMs >= 0)) throw new RangeError(`schedule: max delay ${maxDelayMs}`);
  }

  get size(): number {
    return this.heap.length;
  }

  /** Holds `item` for `delayMs` (capped at the maximum) from `nowMs`; false when the pool is full. */
  hold(nowMs: number, delayMs: number, item: T): boolean {
    if (this.heap.length >= this.capacity) {
      this.dropped++;
      return false;
    }
    const delay = Number.isFinite(delayMs) && delayMs > 0 ? Math.min(delayMs, this.maxDelayMs) : 0;
    this.heap.push({ releaseAt: nowMs + delay, item });
    this.order.push(this.sequence++);
    this.up(this.heap.length - 1);
    return true;
  }

  /** When the next packet is due, or undefined when nothing is held. */
  nextRelease(): number | undefined {
    return this.heap[0]?.releaseAt;
  }

  /** Removes and returns every item due at `nowMs`, earliest first (ties in arrival order). */
  due(nowMs: number): T[] {
    const out: T[] = [];
    while (this.heap.length > 0 && this.heap[0].releaseAt <= nowMs) out.push(this.pop());
    return out;
  }

  private pop(): T {
    const top = this.heap[0];
    const last = this.heap.pop() as Held<T>;
    const lastOrder = this.order.pop() as number;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.order[0] = lastOrder;
      this.down(0);
    }
    return top.item;
  }

  private readonly slots: HeapSlots = { less: (a, b) => this.less(a, b), swap: (a, b) => this.swap(a, b) };

  private less(a: number, b: number): boolean {
    const x = this.heap[a].releaseAt;
    const y = this.heap[b].releaseAt;
    return x < y || (x === y && this.order[a] < this.order[b]);
  }

  private swap(a: number, b: number): void {
    [this.heap[a], this.heap[b]] = [this.heap[b], this.heap[a]];
    [this.order[a], this.order[b]] = [this.order[b], this.order[a]];
  }

  private up(i: number): void {
    siftUp(this.slots, i);
  }

  private down(i: number): void {
    siftDown(this.slots, i, this.heap.length);
  }
}
