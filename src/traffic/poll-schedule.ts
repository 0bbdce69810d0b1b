import { epochStart, type EpochTiming } from '../pki/epoch.js';

/**
 * When the client polls its mailbox and what one poll fetches (docs/client.md, "Timers"). Pure: the
 * time and the epoch are parameters, so the agent and a simulator run the same schedule.
 *
 * Polls sit at (i + ½)·epochMs/k into every epoch, for k polls per epoch: the same offsets for
 * every client and every epoch, whatever the user does.
 */
export function nextPollAt(nowMs: number, epoch: number, timing: EpochTiming, pollsPerEpoch: number): number {
  const step = timing.epochMs / pollsPerEpoch;
  const base = epochStart(epoch, timing);
  if (nowMs < base) return Math.ceil(base + step / 2);
  let at = base + Math.floor((nowMs - base) / step) * step + step / 2;
  if (at <= nowMs) at += step;
  return Math.ceil(at);
}

/** The epochs one poll reads: the current and the previous one (only epoch 0 at the start). */
export function pollEpochs(epoch: number): number[] {
  return epoch > 0 ? [epoch, epoch - 1] : [epoch];
}

/**
 * The (epoch, address) pairs of one poll: every polled epoch × every polled epoch's address. Always
 * the same count, even when two pairs name the same bucket, so no poll stands out.
 */
export function pollFetches<A>(epochs: readonly number[], addressOf: (epoch: number) => A): [number, A][] {
  const addresses = epochs.map(addressOf);
  const fetches: [number, A][] = [];
  for (const epoch of epochs) for (const address of addresses) fetches.push([epoch, address]);
  return fetches;
}
