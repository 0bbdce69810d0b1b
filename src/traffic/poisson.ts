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

/** What one due check yields: the events to send now, in time order, and the slots dropped. */
export interface DueEvents {
  readonly events: readonly TrafficEvent[];
  /** Slots that fell due but were not taken in time (a stalled shell): dropped, never sent. */
  readonly skipped: number;
}

/** The longest grace a due check takes (it bounds the events of one check). */
export const MAX_GRACE_MS = 1000;

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
   * The events due at `now`, for a shell that checks when its timer fires. Per stream: the earliest
   * due slot, sent now; then every further overdue slot that fell due within the last `graceMs`
   * (a timer a few milliseconds late, as on a busy machine: sent late, not lost, so the rate does
   * not dip with the machine's load); every slot older than that is dropped and the stream restarts
   * from `now - graceMs` (memoryless, so what follows is again exactly Poisson). A shell that
   * stalled thus never sends the missed slots back to back: a stall shows at most as one packet per
   * stream plus the few that the last `graceMs` hold, never a burst that marks what the user did.
   * With `graceMs` 0, a check yields at most one event per stream.
   */
  takeDue(now: number, graceMs = 0): DueEvents {
    if (!(graceMs >= 0 && graceMs <= MAX_GRACE_MS)) throw new RangeError(`traffic: graceMs = ${graceMs}`);
    const events: TrafficEvent[] = [];
    const send = this.dueOf('send', this.nextSend, now, graceMs, this.rates.sendPerSecond, events);
    this.nextSend = send.next;
    const loop = this.dueOf('loop', this.nextLoop, now, graceMs, this.rates.loopPerSecond, events);
    this.nextLoop = loop.next;
    events.sort((a, b) => a.at - b.at);
    return { events, skipped: send.skipped + loop.skipped };
  }

  /** One stream's due events (pushed to `events`), the slots it dropped and its next slot. */
  private dueOf(kind: StreamKind, first: number, now: number, graceMs: number, perSecond: number, events: TrafficEvent[]): { next: number; skipped: number } {
    if (first > now) return { next: first, skipped: 0 };
    events.push({ at: first, kind });
    let next = this.after(first, perSecond);
    let skipped = 0;
    const keepFrom = now - graceMs;
    if (next <= keepFrom) {
      skipped = this.countDue(next, keepFrom, perSecond);
      next = this.after(keepFrom, perSecond);
    }
    while (next <= now) {
      events.push({ at: next, kind });
      next = this.after(next, perSecond);
    }
    return { next, skipped };
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
