import { epochAt, type EpochTiming } from '../../pki/index.js';

/** The epoch `nowMs` falls in, or -1 before genesis (epochAt throws there). */
export function currentEpoch(nowMs: number, timing: EpochTiming): number {
  return nowMs < timing.genesisMs ? -1 : epochAt(nowMs, timing);
}
