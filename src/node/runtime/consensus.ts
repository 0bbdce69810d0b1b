import type { Crypto } from '../../crypto/types.js';
import { epochAt, epochStart, PkiError, type ConsensusDocument, type EpochTiming } from '../../pki/index.js';
import type { GeometryOptions, SuiteName } from '../../sphinx/index.js';
import { AuthorityRequestError, fetchConsensus } from '../../net/authority-client.js';
import type { Clock } from '../../net/clock.js';
import type { NodeMetrics } from './metrics.js';
import type { NodeLog } from '../log.js';

/**
 * Keeps the consensus documents a node needs (docs/nodes.md, "Consensus"): the current epoch's and,
 * once published, the next one's; the previous one until the epoch after. Each is fetched from the
 * first authority URL that has it and verified with the configured authority keys (and, beyond
 * verifyConsensus, checked to carry this node's timing, suite and geometry). A document that does
 * not verify is refused and counted by reason; the documents held are kept, so a forged, expired
 * or unreachable document never leaves a node without one it had.
 *
 * Polls run on the node's clock: every `pollMs` while the current document is held, and with a
 * backoff from 100 ms up to `pollMs` while it is missing; an epoch boundary polls at once.
 */
export interface ConsensusTrackerOptions {
  readonly crypto: Crypto;
  readonly clock: Clock;
  readonly timing: EpochTiming;
  readonly suite: SuiteName;
  readonly geometry: GeometryOptions;
  readonly authorityUrls: readonly string[];
  readonly authorities: readonly Uint8Array[];
  readonly pollMs: number;
  readonly metrics: NodeMetrics;
  readonly log: NodeLog;
  /** Called after a new document is accepted (the new one first in `held()`). */
  readonly onChange: (doc: ConsensusDocument) => void;
}

const FIRST_RETRY_MS = 100;
const FETCH_TIMEOUT_MS = 10_000;

/** A fixed label for a failed request (never text from the server). */
function failureReason(error: AuthorityRequestError): string {
  if (error.status === 0) return 'unreachable';
  if (error.code === 'too-large') return 'too-large';
  return error.status >= 500 ? 'http-5xx' : 'http-4xx';
}

export class ConsensusTracker {
  private readonly docs = new Map<number, ConsensusDocument>();
  private polling: Promise<void> | undefined;
  private timer: unknown;
  private failures = 0;
  private closed = false;
  private lastProblem = '';

  constructor(private readonly options: ConsensusTrackerOptions) {}

  /** The documents held, most relevant first: the current epoch's, the next one's, then older ones, newest first. */
  held(nowMs = this.options.clock.now()): ConsensusDocument[] {
    const current = epochAt(nowMs, this.options.timing);
    const rank = (epoch: number): number => (epoch === current ? 0 : epoch === current + 1 ? 1 : 2);
    return [...this.docs.values()].sort((a, b) => rank(a.epoch) - rank(b.epoch) || b.epoch - a.epoch);
  }

  /** The document whose parameters apply now: the current epoch's, else the newest older one, else the next one. */
  active(nowMs = this.options.clock.now()): ConsensusDocument | undefined {
    const current = epochAt(nowMs, this.options.timing);
    const exact = this.docs.get(current);
    if (exact !== undefined) return exact;
    let best: ConsensusDocument | undefined;
    for (const doc of this.docs.values()) if (doc.epoch < current && (best === undefined || doc.epoch > best.epoch)) best = doc;
    return best ?? this.docs.get(current + 1);
  }

  get(epoch: number): ConsensusDocument | undefined {
    return this.docs.get(epoch);
  }

  epochs(): number[] {
    return [...this.docs.keys()].sort((a, b) => a - b);
  }

  start(): void {
    void this.poll();
  }

  /** At an epoch boundary: forget documents older than the previous epoch (keeping at least one) and poll. */
  onEpoch(nowMs: number): void {
    const current = epochAt(nowMs, this.options.timing);
    const newest = Math.max(...this.docs.keys());
    for (const epoch of [...this.docs.keys()]) if (epoch < current - 1 && epoch !== newest) this.docs.delete(epoch);
    void this.poll();
  }

  /** Fetches what is missing now (single flight), then schedules the next poll. */
  poll(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.polling ??= this.fetchMissing()
      .catch((error: unknown) => this.options.log(`node: consensus poll failed: ${error instanceof Error ? error.message : String(error)}`, 'warn'))
      .finally(() => {
        this.polling = undefined;
        this.schedule();
      });
    return this.polling;
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.options.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.closed) return;
    const { clock, timing, pollMs } = this.options;
    const now = clock.now();
    const current = epochAt(now, timing);
    const missing = current >= 0 && !this.docs.has(current);
    let delay = pollMs;
    if (missing) {
      delay = Math.min(pollMs, FIRST_RETRY_MS * 2 ** Math.min(this.failures, 20));
      this.failures++;
    } else {
      this.failures = 0;
    }
    if (this.timer !== undefined) clock.clearTimer(this.timer);
    this.timer = clock.setTimer(() => {
      this.timer = undefined;
      void this.poll();
    }, delay);
  }

  private async fetchMissing(): Promise<void> {
    const { clock, timing } = this.options;
    const now = clock.now();
    const current = epochAt(now, timing);
    const wanted: number[] = [];
    if (current >= 0 && !this.docs.has(current)) wanted.push(current);
    const next = current + 1;
    // The next document is published some time before its epoch (a quarter epoch by default).
    if (!this.docs.has(next) && now >= epochStart(next, timing) - timing.epochMs / 2) wanted.push(next);
    for (const epoch of wanted) await this.fetchEpoch(epoch);
    if (current >= 0 && !this.docs.has(current)) this.noteMissing(current);
  }

  /** Says plainly that the current epoch has no document, and what the node runs on meanwhile. */
  private noteMissing(current: number): void {
    const newest = this.docs.size === 0 ? undefined : this.docs.get(Math.max(...this.docs.keys()));
    const now = this.options.clock.now();
    if (newest === undefined) this.note(`node: no consensus for epoch ${current} yet (too few authorities may have signed); none held`);
    else if (now <= newest.validUntilMs) this.note(`node: no consensus for epoch ${current} yet (too few authorities may have signed); keeping the one of epoch ${newest.epoch} until it expires`);
    else this.note(`node: no consensus for epoch ${current}, and the one of epoch ${newest.epoch} has expired; waiting for the authorities`);
  }

  private async fetchEpoch(epoch: number): Promise<void> {
    const { crypto, clock, authorityUrls, authorities, metrics } = this.options;
    for (const url of authorityUrls) {
      if (this.closed) return;
      try {
        const fetched = await fetchConsensus(crypto, url, epoch, { authorities, nowMs: clock.now() }, { timeoutMs: FETCH_TIMEOUT_MS });
        if (fetched === undefined) {
          metrics.count('node_consensus_fetch_failures_total', { reason: 'not-published' });
          continue;
        }
        const problem = this.mismatch(fetched.doc);
        if (problem !== undefined) {
          metrics.count('node_consensus_rejected_total', { reason: problem.reason });
          this.note(`node: refused the consensus for epoch ${epoch}: ${problem.detail}`);
          continue;
        }
        if (this.closed || this.docs.has(epoch)) return;
        this.docs.set(epoch, fetched.doc);
        metrics.count('node_consensus_fetched_total');
        this.options.log(`node: holding the consensus for epoch ${epoch} (${fetched.doc.nodes.length} nodes)`);
        this.options.onChange(fetched.doc);
        return;
      } catch (error) {
        if (error instanceof PkiError) {
          metrics.count('node_consensus_rejected_total', { reason: error.code });
          this.note(`node: refused a consensus document for epoch ${epoch} (${error.code}); keeping the documents held`);
        } else if (error instanceof AuthorityRequestError) {
          const reason = failureReason(error);
          metrics.count('node_consensus_fetch_failures_total', { reason });
          this.note(`node: could not fetch the consensus for epoch ${epoch} (${reason})`);
        } else {
          metrics.count('node_consensus_fetch_failures_total', { reason: 'error' });
          this.note(`node: could not fetch the consensus for epoch ${epoch}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    }
  }

  /** Logs a problem once until it changes (polls repeat it). */
  private note(line: string): void {
    if (line === this.lastProblem) return;
    this.lastProblem = line;
    this.options.log(line, 'warn');
  }

  private mismatch(doc: ConsensusDocument): { reason: string; detail: string } | undefined {
    const { timing, suite, geometry } = this.options;
    if (doc.genesisMs !== timing.genesisMs || doc.epochMs !== timing.epochMs) {
      return { reason: 'timing-mismatch', detail: "its genesis or epoch length differs from this node's configuration" };
    }
    const g = doc.geometry;
    if (doc.suite !== suite || g.hops !== geometry.hops || g.userForwardPayloadLength !== geometry.userForwardPayloadLength || g.withSurb !== geometry.withSurb) {
      return { reason: 'parameters-mismatch', detail: "its Sphinx suite or geometry differs from this node's configuration" };
    }
    return undefined;
  }
}
