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
