import { siftDown, siftUp, type HeapSlots } from '../mixing/heap.js';

/**
 * The simulator's agenda: actors (clients, nodes, the mail source) keyed by the simulated time of
 * their next event. An actor rescheduled earlier is pushed again; the stale entry is skipped when
 * it comes up (lazy deletion). Ties leave in push order, so runs repeat exactly.
 */
export class EventQueue {
  private times: number[] = [];
  private seqs: number[] = [];
  private actors: number[] = [];
  private seq = 0;
  private readonly scheduled: Float64Array;

  constructor(actorCount: number) {
    this.scheduled = new Float64Array(actorCount).fill(Infinity);
  }

  /** Schedules `actor` at `at` (replacing its earlier schedule); Infinity unschedules it. */
  schedule(actor: number, at: number): void {
    this.scheduled[actor] = at;
    if (at === Infinity) return;
    this.times.push(at);
    this.seqs.push(this.seq++);
    this.actors.push(actor);
    this.up(this.times.length - 1);
  }

  scheduledAt(actor: number): number {
    return this.scheduled[actor];
  }

  /** The next actor due and its time, or undefined when nothing is scheduled. */
  pop(): { actor: number; at: number } | undefined {
    while (this.times.length > 0) {
      const at = this.times[0];
      const actor = this.actors[0];
      this.removeTop();
      if (this.scheduled[actor] === at) {
        this.scheduled[actor] = Infinity;
        return { actor, at };
      }
    }
    return undefined;
  }

  private removeTop(): void {
    const last = this.times.length - 1;
    this.swap(0, last);
    this.times.pop();
    this.seqs.pop();
    this.actors.pop();
    this.down(0);
  }

  private readonly slots: HeapSlots = { less: (a, b) => this.less(a, b), swap: (a, b) => this.swap(a, b) };

  private less(a: number, b: number): boolean {
    return this.times[a] < this.times[b] || (this.times[a] === this.times[b] && this.seqs[a] < this.seqs[b]);
  }

  private swap(a: number, b: number): void {
    const time = this.times[a];
    this.times[a] = this.times[b];
    this.times[b] = time;
    const seq = this.seqs[a];
    this.seqs[a] = this.seqs[b];
    this.seqs[b] = seq;
    const actor = this.actors[a];
    this.actors[a] = this.actors[b];
    this.actors[b] = actor;
  }

  private up(i: number): void {
    siftUp(this.slots, i);
  }

  private down(i: number): void {
    siftDown(this.slots, i, this.times.length);
  }
}
