import { MixSchedule } from '../mixing/schedule.js';

/**
 * How a simulated node holds and releases packets. `exponential` is the real node's core
 * (src/mixing/schedule.ts: each packet waits the delay its sender chose). The batch strategies are
 * the classical mixes the simulator compares against: a threshold mix (flush when N are held), a
 * pool mix (flush N of N + f when N new arrived, keep f), and the seed's timed pool (every
 * interval, flush up to `batch` of those held, keeping `pool`). A batch shuffles what it releases
 * unless `keepsOrder` (the planted bug: a mix that leaks its order).
 */
export type MixStrategy =
  | { readonly kind: 'exponential'; readonly capacity?: number }
  | { readonly kind: 'threshold'; readonly batch: number; readonly keepsOrder?: boolean }
  | { readonly kind: 'pool'; readonly batch: number; readonly pool: number }
  | { readonly kind: 'timed-pool'; readonly batch: number; readonly pool: number; readonly intervalMs: number };

export interface Mixer<T> {
  /** Packets held. */
  readonly size: number;
  hold(nowMs: number, delayMs: number, item: T): void;
  /** When something may next be released (Infinity when nothing is due by itself). */
  nextRelease(): number;
  /** Releases what is due at `nowMs`, in the order it leaves. */
  due(nowMs: number): T[];
}

/** The released packets in a uniformly random order (Fisher–Yates with `uniform`). */
function shuffled<T>(items: T[], uniform: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(uniform() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

class ExponentialMixer<T> implements Mixer<T> {
  private readonly schedule: MixSchedule<T>;
  constructor(capacity: number, maxDelayMs: number) {
    this.schedule = new MixSchedule<T>(capacity, maxDelayMs);
  }
  get size(): number {
    return this.schedule.size;
  }
  hold(nowMs: number, delayMs: number, item: T): void {
    this.schedule.hold(nowMs, delayMs, item);
  }
  nextRelease(): number {
    return this.schedule.nextRelease() ?? Infinity;
  }
  due(nowMs: number): T[] {
    return this.schedule.due(nowMs);
  }
}

/** Threshold and pool mixes: released as soon as `batch` new packets arrived. */
class BatchMixer<T> implements Mixer<T> {
  private held: T[] = [];
  private fresh = 0;
  private pending = false;
  constructor(private readonly batch: number, private readonly pool: number, private readonly keepsOrder: boolean, private readonly uniform: () => number) {}
  get size(): number {
    return this.held.length;
  }
  hold(_nowMs: number, _delayMs: number, item: T): void {
    this.held.push(item);
    if (++this.fresh >= this.batch) this.pending = true;
  }
  nextRelease(): number {
    return this.pending ? -Infinity : Infinity;
  }
  due(): T[] {
    if (!this.pending) return [];
    this.pending = false;
    this.fresh = 0;
    const all = this.keepsOrder ? this.held : shuffled(this.held, this.uniform);
    const out = all.slice(0, all.length - this.pool);
    this.held = all.slice(all.length - this.pool);
    return out;
  }
}

/** The seed's timed pool: every interval, up to `batch` of the held packets leave, `pool` stay. */
class TimedPoolMixer<T> implements Mixer<T> {
  private held: T[] = [];
  private next: number | undefined;
  constructor(private readonly batch: number, private readonly pool: number, private readonly intervalMs: number, private readonly uniform: () => number) {}
  get size(): number {
    return this.held.length;
  }
  hold(nowMs: number, _delayMs: number, item: T): void {
    this.held.push(item);
    if (this.next === undefined) this.next = Math.ceil(nowMs / this.intervalMs) * this.intervalMs + this.intervalMs;
  }
  nextRelease(): number {
    return this.held.length > this.pool && this.next !== undefined ? this.next : Infinity;
  }
  due(nowMs: number): T[] {
    if (this.next === undefined || nowMs < this.next) return [];
    while (this.next <= nowMs) this.next += this.intervalMs;
    const all = shuffled(this.held, this.uniform);
    const leave = Math.min(this.batch, Math.max(0, all.length - this.pool));
    this.held = all.slice(leave);
    return all.slice(0, leave);
  }
}

export function makeMixer<T>(strategy: MixStrategy, maxDelayMs: number, uniform: () => number): Mixer<T> {
  switch (strategy.kind) {
    case 'exponential':
      return new ExponentialMixer<T>(strategy.capacity ?? 1_000_000, maxDelayMs);
    case 'threshold':
      return new BatchMixer<T>(strategy.batch, 0, strategy.keepsOrder === true, uniform);
    case 'pool':
      return new BatchMixer<T>(strategy.batch, strategy.pool, false, uniform);
    case 'timed-pool':
      return new TimedPoolMixer<T>(strategy.batch, strategy.pool, strategy.intervalMs, uniform);
  }
}
