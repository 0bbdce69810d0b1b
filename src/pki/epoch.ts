import { PkiError } from './errors.js';

/**
 * Epoch arithmetic (docs/network.md, "Time"): epoch(now) = floor((now − genesisMs) / epochMs).
 * Epoch e covers [epochStart(e), epochEnd(e)); epochEnd(e) = epochStart(e + 1). Pure: the time is
 * always a parameter. Epochs are non-negative integers; a time before genesis has no epoch.
 */
export interface EpochTiming {
  /** Unix milliseconds at which epoch 0 starts. */
  readonly genesisMs: number;
  /** Length of every epoch in milliseconds. */
  readonly epochMs: number;
}

/** The most a timing may say (genesis and epoch ends stay safe integers well past year 275000). */
export const MAX_EPOCH_MS = 7 * 24 * 3600 * 1000;

/** What is wrong with a timing, or undefined. */
export function timingProblem(timing: EpochTiming): string | undefined {
  if (typeof timing !== 'object' || timing === null) return 'the timing is not an object';
  const { genesisMs, epochMs } = timing;
  if (!Number.isSafeInteger(genesisMs) || genesisMs < 0) return 'genesisMs must be a non-negative safe integer';
  if (!Number.isSafeInteger(epochMs) || epochMs < 1 || epochMs > MAX_EPOCH_MS) {
    return `epochMs must be an integer in 1..${MAX_EPOCH_MS}`;
  }
  return undefined;
}

function checkTiming(timing: EpochTiming): void {
  const problem = timingProblem(timing);
  if (problem !== undefined) throw new PkiError('invalid', problem);
}

function checkEpoch(epoch: number): void {
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new PkiError('invalid', 'an epoch must be a non-negative safe integer');
}

/** The epoch `nowMs` falls in. A time before genesis (or not finite) is 'invalid'. */
export function epochAt(nowMs: number, timing: EpochTiming): number {
  checkTiming(timing);
  if (!Number.isFinite(nowMs)) throw new PkiError('invalid', 'the time is not a finite number');
  if (nowMs < timing.genesisMs) throw new PkiError('invalid', 'the time is before genesis');
  return Math.floor((nowMs - timing.genesisMs) / timing.epochMs);
}

/** The first millisecond of `epoch`. */
export function epochStart(epoch: number, timing: EpochTiming): number {
  checkTiming(timing);
  checkEpoch(epoch);
  const start = timing.genesisMs + epoch * timing.epochMs;
  if (!Number.isSafeInteger(start + timing.epochMs)) throw new PkiError('invalid', 'the epoch is too far in the future');
  return start;
}

/** The first millisecond after `epoch` (exclusive end; the start of epoch + 1). */
export function epochEnd(epoch: number, timing: EpochTiming): number {
  return epochStart(epoch, timing) + timing.epochMs;
}
