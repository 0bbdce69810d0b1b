import { hexOf } from '../../codec/bytes.js';
import type { Crypto } from '../../crypto/types.js';
import { decodeLoopReport, PkiError, reliabilityScores, type LoopReport } from '../../pki/index.js';
import { HttpError } from './http-error.js';

/**
 * The mixes' loop reports an authority holds (docs/network.md, "Reliability"): per epoch, the
 * latest report (largest serial) of each admitted node, for the current and the previous epoch.
 * The vote for epoch e scores every node from the reports of epochs e − 2 and e − 1 (the vote is
 * cast during e − 1, so that one is partial). Each report taken is on disk (the store's
 * loop-reports/<epoch>/<reporter>.bin) before `receive` returns, and `restore` reads them back at
 * start, checked as on arrival: a restarted authority scores from the same reports.
 */
const STATUS: Record<string, number> = { malformed: 400, 'bad-signature': 403 };

/** Where the book keeps its reports (the authority's store; store.ts). */
export interface LoopReportStore {
  writeLoopReport(epoch: number, reporterHex: string, bytes: Uint8Array): void;
  readLoopReports(): Map<number, Map<string, Uint8Array>>;
}

export class LoopReportBook {
  private readonly byEpoch = new Map<number, Map<string, LoopReport>>();

  constructor(
    private readonly crypto: Crypto,
    /** Whether a node may report (the authority's admission list). */
    private readonly admitted: (nodeId: Uint8Array) => boolean,
    /** Without one, reports are held in memory only. */
    private readonly store?: LoopReportStore,
  ) {}

  /**
   * Reads back the stored reports of epochs `current` − 1 and `current`; returns the problems of
   * files skipped (not a report, a bad signature, a reporter no longer admitted, a misnamed file).
   */
  restore(current: number): string[] {
    const problems: string[] = [];
    for (const [epoch, byReporter] of this.store?.readLoopReports() ?? []) {
      if (epoch !== current && epoch !== current - 1) continue;
      for (const [reporterHex, bytes] of byReporter) {
        try {
          const report = decodeLoopReport(this.crypto, bytes);
          if (report.epoch !== epoch || hexOf(report.reporter) !== reporterHex) throw new Error('the file name is not its epoch and reporter');
          if (!this.admitted(report.reporter)) throw new Error('the reporter is not admitted');
          this.hold(report);
        } catch (error) {
          problems.push(`${epoch}/${reporterHex}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    }
    return problems;
  }

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
    const earlier = this.byEpoch.get(report.epoch)?.get(hexOf(report.reporter));
    if (earlier !== undefined && earlier.serial >= report.serial) return 'unchanged';
    this.store?.writeLoopReport(report.epoch, hexOf(report.reporter), bytes.slice()); // on disk first
    this.hold(report);
    return 'new';
  }

  private hold(report: LoopReport): void {
    let reports = this.byEpoch.get(report.epoch);
    if (reports === undefined) {
      reports = new Map();
      this.byEpoch.set(report.epoch, reports);
    }
    reports.set(hexOf(report.reporter), report);
  }

  /** The reports held for `epoch`, by reporter ID hex. */
  reportsOf(epoch: number): ReadonlyMap<string, LoopReport> {
    return this.byEpoch.get(epoch) ?? new Map();
  }

  /** The reports the vote for `epoch` reads: those of epochs e − 2 and e − 1. */
  reportsFor(epoch: number): LoopReport[] {
    return [epoch - 2, epoch - 1].flatMap((e) => [...(this.byEpoch.get(e)?.values() ?? [])]);
  }

  /** The per-mille scores from the reports alone for `epoch`, by node ID (hex); the state adds its probes. */
  scoresFor(epoch: number): Map<string, number> {
    return reliabilityScores(this.reportsFor(epoch));
  }

  /** Reports held per epoch. */
  held(): Record<string, number> {
    return Object.fromEntries([...this.byEpoch].map(([epoch, reports]) => [String(epoch), reports.size]));
  }

  /** Forgets epochs no vote from `current` on reads (the store is pruned by the state). */
  prune(current: number): void {
    for (const epoch of [...this.byEpoch.keys()]) if (epoch < current - 1) this.byEpoch.delete(epoch);
  }
}
