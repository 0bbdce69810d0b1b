import { hexOf } from '../../codec/bytes.js';
import type { Crypto } from '../../crypto/types.js';
import { decodeLoopReport, PkiError, reliabilityScores, type LoopReport } from '../../pki/index.js';
import { HttpError } from './http-error.js';

/**
 * The mixes' loop reports an authority holds (docs/network.md, "Reliability"): per epoch, the
 * latest report (largest serial) of each admitted node, for the current and the previous epoch.
 * The vote for epoch e scores every node from the reports of epochs e − 2 and e − 1 (the vote is
 * cast during e − 1, so that one is partial). Held in memory: after a restart an authority scores
 * from the reports that arrive again (mixes re-send theirs every quarter epoch).
 */
const STATUS: Record<string, number> = { malformed: 400, 'bad-signature': 403 };

export class LoopReportBook {
  private readonly byEpoch = new Map<number, Map<string, LoopReport>>();

  constructor(
    private readonly crypto: Crypto,
    /** Whether a node may report (the authority's admission list). */
    private readonly admitted: (nodeId: Uint8Array) => boolean,
  ) {}

  /** Takes a report for the current or the previous epoch, or refuses it with an HttpError. */
  receive(bytes: Uint8Array, current: number): 'new' | 'unchanged' {
    let report: LoopReport;
    try {
      report = decodeLoopReport(this.crypto, bytes);
    } catch (error) {
      if (error instanceof PkiError) throw new HttpError(STATUS[error.code] ?? 400, error.code, error.message);
      throw error;
    }
    if (!this.admitted(report.reporter)) throw new HttpError(403, 'unknown-node', "the reporter is not on this authority's list");
    if (report.epoch !== current && report.epoch !== current - 1) {
      throw new HttpError(422, 'wrong-epoch', `a report for epoch ${report.epoch}; this authority takes ${current - 1} and ${current}`);
    }
    let reports = this.byEpoch.get(report.epoch);
    if (reports === undefined) {
      reports = new Map();
      this.byEpoch.set(report.epoch, reports);
    }
    const key = hexOf(report.reporter);
    const earlier = reports.get(key);
    if (earlier !== undefined && earlier.serial >= report.serial) return 'unchanged';
    reports.set(key, report);
    return 'new';
  }

  /** The per-mille scores this authority votes for `epoch`, by node ID (hex). */
  scoresFor(epoch: number): Map<string, number> {
    const reports = [epoch - 2, epoch - 1].flatMap((e) => [...(this.byEpoch.get(e)?.values() ?? [])]);
    return reliabilityScores(reports);
  }

  /** Reports held per epoch. */
  held(): Record<string, number> {
    return Object.fromEntries([...this.byEpoch].map(([epoch, reports]) => [String(epoch), reports.size]));
  }

  /** Forgets epochs no vote from `current` on reads. */
  prune(current: number): void {
    for (const epoch of [...this.byEpoch.keys()]) if (epoch < current - 1) this.byEpoch.delete(epoch);
  }
}
