import type { Clock } from '../../../src/net/clock.js';

/** A clock that moves only when told: advance() fires the timers that fall due, in time order. */
export class FakeClock implements Clock {
  private timers: { at: number; id: number; callback: () => void }[] = [];
  private nextId = 1;

  constructor(private time: number) {}

  now(): number {
    return this.time;
  }

  setTimer(callback: () => void, delayMs: number): unknown {
    const id = this.nextId++;
    this.timers.push({ at: this.time + Math.max(0, delayMs), id, callback });
    return id;
  }

  clearTimer(handle: unknown): void {
    this.timers = this.timers.filter((timer) => timer.id !== handle);
  }

  /** Pending timers (for tests that check the schedule). */
  get pending(): number[] {
    return this.timers.map((timer) => timer.at).sort((a, b) => a - b);
  }

  advanceTo(time: number): void {
    for (;;) {
      const due = this.timers.filter((timer) => timer.at <= time).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((timer) => timer !== due);
      this.time = Math.max(this.time, due.at);
      due.callback();
    }
    this.time = time;
  }

  advance(ms: number): void {
    this.advanceTo(this.time + ms);
  }
}
