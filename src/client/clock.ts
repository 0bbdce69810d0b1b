/**
 * The agent's time source: the wall clock and Node timers in production, a fake in tests (so a
 * Poisson event, a poll or an epoch boundary is a function call, not a wait). The same shape as the
 * authority's clock, so one fake drives both.
 */
export interface ClientClock {
  /** Unix milliseconds. */
  now(): number;
  /** Calls `callback` once after `delayMs`; returns a handle for clearTimer. */
  setTimer(callback: () => void, delayMs: number): unknown;
  clearTimer(handle: unknown): void;
}

/** Node's setTimeout caps delays at 2^31 − 1 ms. */
const MAX_TIMER_MS = 0x7fffffff;

/**
 * Wall clock and referenced timers: a running agent keeps its process alive until close() (the
 * authority's clock unrefs its timers; an agent's schedule is the reason its process exists).
 */
export const systemClientClock: ClientClock = {
  now: () => Date.now(),
  setTimer(callback, delayMs) {
    return setTimeout(callback, Math.min(Math.max(0, delayMs), MAX_TIMER_MS));
  },
  clearTimer(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};
