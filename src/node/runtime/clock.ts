import { systemClock, type AuthorityClock } from '../authority/clock.js';

/**
 * The time source of a node: Unix milliseconds and one-shot timers. The wall clock and Node
 * timers by default; tests pass a fake one (the authority's FakeClock fits), so an epoch boundary
 * is a function call. Every protocol time of a node goes through it: epochs, key rotation and
 * grace, descriptor uploads and consensus polls (and their retries), the mixing schedule, the
 * gateway's token buckets and the provider's retention. Link keepalives and reconnects use real
 * timers (src/net).
 */
export type NodeClock = AuthorityClock;

export const realClock: NodeClock = systemClock;
