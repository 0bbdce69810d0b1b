/**
 * The authority's time source: the wall clock and timers in production, a fake in tests (so an
 * epoch boundary is a function call, not a wait).
 */
export interface AuthorityClock {
  /** Unix milliseconds. */
  now(): number;
  /** Calls `callback` once after `delayMs`; returns a handle for clearTimer. */
  setTimer(callback: () => void, delayMs: number): unknown;
  clearTimer(handle: unknown): void;
}

/** Node's setTimeout caps delays at 2^31 − 1 ms; longer waits are cut and re-armed. */
export const MAX_TIMER_MS = 0x7fffffff;

export const systemClock: AuthorityClock = {
  now: () => Date.now(),
  setTimer(callback, delayMs) {
    const timer = setTimeout(callback, Math.min(Math.max(0, delayMs), MAX_TIMER_MS));
    timer.unref();
    return timer;
  },
  clearTimer(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};
