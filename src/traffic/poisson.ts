import type { RandomSource } from '../crypto/seeded-random.js';
import { exponential } from '../mixing/exponential.js';

/**
 * The client's traffic (Loopix): independent Poisson streams. At each event of the send stream a
 * packet leaves: a real one if one is queued, else drop cover; the loop stream sends packets that
 * come back to the client. What leaves is the same whether the user writes or not. Pure: the shell
 * asks when the next event is and what it is.
 */
export type StreamKind = 'send' | 'loop';

export interface TrafficRates {
  /** Send-stream events per second (real or drop cover). */
  readonly sendPerSecond: number;
  /** Loop packets per second. */
  readonly loopPerSecond: number;
}

export interface TrafficEvent {
  readonly at: number;
  readonly kind: StreamKind;
}

/** What one due check yields: at most one event per stream, in time order, and the slots dropped. */
export interface DueEvents {
  readonly events: readonly TrafficEvent[];
  /** Slots that fell due but were not taken in time (a stalled shell): dropped, never sent. */
  readonly skipped: number;
}

export class PoissonStreams {
  private nextSend: number;
  private nextLoop: number;

  constructor(private readonly random: RandomSource, private readonly rates: TrafficRates, startMs: number) {
    for (const [name, rate] of Object.entries(rates)) {
      if (!(rate >= 0) || !Number.isFinite(rate)) throw new RangeError(`traffic: ${name} = ${rate}`);
    }
    this.nextSend = this.after(startMs, rates.sendPerSecond);
    this.nextLoop = this.after(startMs, rates.loopPerSecond);
  }

  /** The next event (earliest of the streams); Infinity when both rates are zero. */
  peek(): TrafficEvent {
    return this.nextSend <= this.nextLoop ? { at: this.nextSend, kind: 'send' } : { at: this.nextLoop, kind: 'loop' };
  }

  /** Consumes and returns the next event, scheduling that stream's following one. */
  take(): TrafficEvent {
    const event = this.peek();
    if (event.kind === 'send') this.nextSend = this.after(event.at, this.rates.sendPerSecond);
    else this.nextLoop = this.after(event.at, this.rates.loopPerSecond);
    return event;
  }

  /**
   * The events due at `now`, for a shell that checks when its timer fires: at most one per stream
   * (the earliest due slot, sent now), and every further slot of that stream that is also overdue
   * is dropped. The stream then restarts from `now` (memoryless, so what follows is again exactly
   * Poisson). A shell that stalled thus never sends the missed slots back to back: a stall shows at
   * most one packet per stream, never a burst that marks what the user did.
   */
  takeDue(now: number): DueEvents {
    const events: TrafficEvent[] = [];
    let skipped = 0;
    if (this.nextSend <= now) {
      events.push({ at: this.nextSend, kind: 'send' });
      this.nextSend = this.after(this.nextSend, this.rates.sendPerSecond);
      if (this.nextSend <= now) {
        skipped += this.countDue(this.nextSend, now, this.rates.sendPerSecond);
        this.nextSend = this.after(now, this.rates.sendPerSecond);
      }
    }
    if (this.nextLoop <= now) {
      events.push({ at: this.nextLoop, kind: 'loop' });
      this.nextLoop = this.after(this.nextLoop, this.rates.loopPerSecond);
      if (this.nextLoop <= now) {
        skipped += this.countDue(this.nextLoop, now, this.rates.loopPerSecond);
        this.nextLoop = this.after(now, this.rates.loopPerSecond);
      }
    }
    events.sort((a, b) => a.at - b.at);
    return { events, skipped };
  }

  /** Slots of a stream from `firstMs` (due) up to `now`, counted without drawing each (bounded). */
  private countDue(firstMs: number, now: number, perSecond: number): number {
    // The expected count; drawing every skipped slot of a long sleep would cost time for nothing.
    return 1 + Math.floor(((now - firstMs) * perSecond) / 1000);
  }

  private after(fromMs: number, perSecond: number): number {
    return perSecond > 0 ? fromMs + exponential(this.random, 1000 / perSecond) : Infinity;
  }
}

/**
 * The packets a send slot carries: the oldest queued real packet, else drop cover. Keeping the
 * choice in one function keeps the rule in one place: real traffic only replaces cover.
 */
export function fillSlot<T>(queue: T[], makeCover: () => T): { packet: T; real: boolean } {
  const real = queue.shift();
  return real !== undefined ? { packet: real, real: true } : { packet: makeCover(), real: false };
}
