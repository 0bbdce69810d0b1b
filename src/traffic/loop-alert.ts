import { DEFAULT_ATTRIBUTION, EpochLossTally, suspectsOf, type AttributionOptions, type LoopFate, type Suspect } from './loop-attribution.js';
import type { TrafficParameters } from '../pki/params.js';

/**
 * High alert (docs/network.md, "Alerts"): a party records its loops' fates per epoch; after each
 * batch of verdicts (a client: after each poll) it judges the epochs touched (src/traffic/
 * loop-attribution.ts). An epoch with a suspect count puts the party on high alert for that epoch
 * and the next one; while on alert it raises its cover rates (alertRates) and leaves the suspect
 * nodes out of its paths (avoided). Pure: the caller passes the epochs.
 */
export interface Alert {
  /** The epoch whose loops were lost (the alert holds for it and the next one). */
  readonly epoch: number;
  /** The suspects that were not suspect at the previous judgement of the epoch. */
  readonly suspects: readonly Suspect[];
}

/** Epochs of tallies kept behind the newest one judged. */
const KEPT_EPOCHS = 3;

export class LoopAlerts {
  private readonly tallies = new Map<number, EpochLossTally>();
  /** The suspects found so far per epoch, by key ('paths' or the node's key). */
  private readonly found = new Map<number, Map<string, Suspect>>();
  private readonly touched = new Set<number>();

  constructor(readonly options: AttributionOptions = DEFAULT_ATTRIBUTION) {}

  /** A loop that left in `epoch` came back or was given up. */
  record(epoch: number, fate: LoopFate): void {
    let tally = this.tallies.get(epoch);
    if (tally === undefined) this.tallies.set(epoch, (tally = new EpochLossTally()));
    tally.add(fate);
    this.touched.add(epoch);
  }

  /** Judges the epochs recorded into since the last judgement; the new alerts, oldest epoch first. */
  judge(): Alert[] {
    const alerts: Alert[] = [];
    for (const epoch of [...this.touched].sort((a, b) => a - b)) {
      const tally = this.tallies.get(epoch);
      if (tally === undefined) continue;
      const known = this.found.get(epoch) ?? new Map<string, Suspect>();
      const fresh = suspectsOf(tally.all, this.options).filter((s) => !known.has(keyOf(s)));
      if (fresh.length === 0) continue;
      for (const s of fresh) known.set(keyOf(s), s);
      this.found.set(epoch, known);
      alerts.push({ epoch, suspects: fresh });
    }
    this.touched.clear();
    const newest = Math.max(...this.tallies.keys());
    for (const epoch of [...this.tallies.keys()]) if (epoch < newest - KEPT_EPOCHS) this.tallies.delete(epoch);
    for (const epoch of [...this.found.keys()]) if (epoch < newest - KEPT_EPOCHS) this.found.delete(epoch);
    return alerts;
  }

  /** Whether `epoch` is on high alert: an alarm about its own loops or the previous epoch's. */
  high(epoch: number): boolean {
    return (this.found.get(epoch)?.size ?? 0) > 0 || (this.found.get(epoch - 1)?.size ?? 0) > 0;
  }

  /** The suspects that hold in `epoch` (found in it or the previous one), nodes and paths. */
  suspects(epoch: number): Suspect[] {
    return [...(this.found.get(epoch - 1)?.values() ?? []), ...(this.found.get(epoch)?.values() ?? [])];
  }

  /** The node keys to leave out of paths in `epoch`. */
  avoided(epoch: number): Set<string> {
    return new Set(this.suspects(epoch).flatMap((s) => (s.node === undefined ? [] : [s.node])));
  }
}

function keyOf(suspect: Suspect): string {
  return suspect.node ?? 'paths';
}

/** How much high alert multiplies the loop and drop rates at most. */
export const ALERT_RATE_FACTOR = 2;

/**
 * The loop and drop rates on high alert: each multiplied by `factor` (default ALERT_RATE_FACTOR),
 * but the client's total (send + loop + drop) never above the consensus's per-client gateway
 * rate (a gateway drops the excess, which would lose loops itself): the extra is scaled down to fit,
 * in proportion, and is 0 when the consensus rates already fill the gateway's budget.
 */
export function alertRates(traffic: TrafficParameters, factor = ALERT_RATE_FACTOR): { loopRate: number; dropRate: number } {
  if (!(factor >= 1)) throw new RangeError(`factor must be at least 1: ${factor}`);
  const { clientSendRate, loopRate, dropRate, gatewayClientRate } = traffic;
  const wanted = (factor - 1) * (loopRate + dropRate);
  const room = Math.max(0, gatewayClientRate - clientSendRate - loopRate - dropRate);
  const scale = wanted === 0 ? 0 : Math.min(wanted, room) / wanted;
  return { loopRate: loopRate * (1 + (factor - 1) * scale), dropRate: dropRate * (1 + (factor - 1) * scale) };
}
