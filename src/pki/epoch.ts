import { PkiError } from './errors.js';

/**
 * Epoch arithmetic (docs/pki.md, "Epochs"): epoch(now) = floor((now − genesisMs) / epochMs).
 * Epoch e covers [epochStart(e), epochEnd(e)); epochEnd(e) = epochStart(e + 1). Pure: the time is
 * always a parameter. Epochs are non-negative integers; all the time before genesis is
 * BEFORE_GENESIS (−1), whose next epoch is 0.
 */
export interface EpochTiming {
  /** Unix milliseconds at which epoch 0 starts. */
  readonly genesisMs: number;
  /** Length of every epoch in milliseconds. */
  readonly epochMs: number;
}

/** What epochAt answers for every time before genesis: not an epoch, but the one before epoch 0. */
export const BEFORE_GENESIS = -1;

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

/**
 * The epoch `nowMs` falls in, or BEFORE_GENESIS (−1) for any time before genesis (so the next
 * epoch is always epochAt + 1). A time that is not finite is 'invalid'.
 */
export function epochAt(nowMs: number, timing: EpochTiming): number {
  checkTiming(timing);
  if (!Number.isFinite(nowMs)) throw new PkiError('invalid', 'the time is not a finite number');
  if (nowMs < timing.genesisMs) return BEFORE_GENESIS;
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
