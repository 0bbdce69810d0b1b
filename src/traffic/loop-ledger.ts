/**
 * A mix's own loops and their fates (docs/network.md, "Mix loops"), per epoch of sending: a loop
 * is returned when it comes back before its deadline, else lost. Fates are counted only once the
 * deadline has passed, returned or not, so counts taken mid-epoch are not biased toward the loops
 * that came back early. Each fate counts for the loop's epoch, in total and for every node the loop
 * crossed (its path without the sender). Pure: times are passed in; keys are opaque strings.
 */
export interface FateCounts {
  sent: number;
  lost: number;
}

export interface EpochFates {
  readonly total: FateCounts;
  /** By node ID (hex). */
  readonly nodes: Map<string, FateCounts>;
}

interface Outstanding {
  readonly epoch: number;
  readonly nodes: readonly string[];
  readonly deadlineMs: number;
  back: boolean;
}

/** Most loops outstanding: older ones are given up (lost) first. */
export const MAX_OUTSTANDING_LOOPS = 65_536;

export class LoopLedger {
  private readonly outstanding = new Map<string, Outstanding>();
  private readonly fates = new Map<number, EpochFates>();

  /** `onFate` is told of each loop's fate as it is counted (the epoch it left in, the nodes it crossed, whether it was lost). */
  constructor(private readonly onFate?: (epoch: number, nodes: readonly string[], lost: boolean) => void) {}

  /** A loop left in `epoch` through `nodes`; it is lost unless it returns by `deadlineMs`. */
  left(loopId: string, epoch: number, nodes: readonly string[], deadlineMs: number): void {
    if (this.outstanding.size >= MAX_OUTSTANDING_LOOPS) {
      const oldest = this.outstanding.keys().next().value as string;
      this.settle(oldest);
    }
    this.outstanding.set(loopId, { epoch, nodes: [...nodes], deadlineMs, back: false });
  }

  /** A packet came back for `loopId`: true when it was an outstanding loop not back before. */
  returned(loopId: string): boolean {
    const loop = this.outstanding.get(loopId);
    if (loop === undefined || loop.back) return false;
    loop.back = true;
    return true;
  }

  /** Counts the fate of every loop whose deadline is before `nowMs`; returns how many were lost. */
  expire(nowMs: number): number {
    let lost = 0;
    for (const [loopId, loop] of [...this.outstanding]) {
      if (loop.deadlineMs < nowMs && this.settle(loopId)) lost++;
    }
    return lost;
  }

  /** The fates counted for `epoch` (undefined when none is known yet). */
  fatesOf(epoch: number): EpochFates | undefined {
    return this.fates.get(epoch);
  }

  /** Loops neither back nor past their deadline. */
  get outstandingCount(): number {
    let count = 0;
    for (const loop of this.outstanding.values()) if (!loop.back) count++;
    return count;
  }

  /** Forgets the fates of epochs before `oldestKept`. */
  prune(oldestKept: number): void {
    for (const epoch of [...this.fates.keys()]) if (epoch < oldestKept) this.fates.delete(epoch);
  }

  /** Counts a loop's fate; true when it was lost. */
  private settle(loopId: string): boolean {
    const loop = this.outstanding.get(loopId);
    if (loop === undefined) return false;
    this.outstanding.delete(loopId);
    const lost = !loop.back;
    let fates = this.fates.get(loop.epoch);
    if (fates === undefined) {
      fates = { total: { sent: 0, lost: 0 }, nodes: new Map() };
      this.fates.set(loop.epoch, fates);
    }
    fates.total.sent++;
    if (lost) fates.total.lost++;
    for (const node of loop.nodes) {
      const counts = fates.nodes.get(node) ?? { sent: 0, lost: 0 };
      counts.sent++;
      if (lost) counts.lost++;
      fates.nodes.set(node, counts);
    }
    this.onFate?.(loop.epoch, loop.nodes, lost);
    return lost;
  }
}
