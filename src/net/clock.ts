/**
 * The time source of every shell (authority, node, client agent): Unix milliseconds and one-shot
 * timers. The wall clock and Node timers in production; tests pass a fake (so an epoch boundary, a
 * Poisson event or a poll is a function call, not a wait), and one fake drives them all.
 */
export interface Clock {
  /** Unix milliseconds. */
  now(): number;
  /** Calls `callback` once after `delayMs`; returns a handle for clearTimer. */
  setTimer(callback: () => void, delayMs: number): unknown;
  clearTimer(handle: unknown): void;
}

/** Node's setTimeout caps delays at 2^31 − 1 ms; longer waits are cut to this and re-armed. */
export const MAX_TIMER_MS = 0x7fffffff;

function systemTimers(keepProcessAlive: boolean): Clock {
  return {
    now: () => Date.now(),
    setTimer(callback, delayMs) {
      const timer = setTimeout(callback, Math.min(Math.max(0, delayMs), MAX_TIMER_MS));
      if (!keepProcessAlive) timer.unref();
      return timer;
    },
    clearTimer(handle) {
      clearTimeout(handle as ReturnType<typeof setTimeout>);
    },
  };
}

/**
 * Wall clock and unreferenced timers, for servers (authority, nodes): their listening sockets keep
 * the process alive, their timers do not.
 */
export const systemClock: Clock = systemTimers(false);

/**
 * Wall clock and referenced timers, for the client agent: a running agent keeps its process alive
 * until close(), since its schedule is the reason the process exists.
 */
export const keepAliveSystemClock: Clock = systemTimers(true);
