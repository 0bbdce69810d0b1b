import type { MailboxStore } from '../../store/mailbox.js';
import type { Clock } from '../../net/clock.js';
import type { NodeMetrics } from '../runtime/metrics.js';
import type { StoreFailures } from './store-failures.js';

export interface MailboxRetentionDeps {
  readonly store: MailboxStore;
  readonly clock: Clock;
  readonly metrics: NodeMetrics;
  readonly failures: StoreFailures;
  /** How long a stored message is kept (`store.retentionMs`). */
  readonly retentionMs: number;
  readonly epochMs: number;
}

/**
 * Expiry of stored messages: everything older than `retentionMs` is deleted, at start and then
 * every eighth of the retention time (at least every second, at most every hour or epoch).
 */
export class MailboxRetention {
  private readonly everyMs: number;
  private timer: unknown;
  private stopped = false;

  constructor(private readonly deps: MailboxRetentionDeps) {
    this.everyMs = Math.max(1000, Math.min(3_600_000, deps.epochMs, Math.floor(deps.retentionMs / 8)));
  }

  /** Deletes what is past retention now; resolves to the number of messages deleted. */
  readonly run = async (): Promise<number> => {
    const { store, clock, metrics, failures, retentionMs } = this.deps;
    try {
      const deleted = await store.deleteBefore(Math.max(0, clock.now() - retentionMs));
      // Runs, not messages: what is deleted is what was stored, and stored mail is not drop cover.
      metrics.count('node_retention_runs_total');
      failures.recovered('retention');
      return deleted;
    } catch (error) {
      failures.failed('retention', error);
      return 0;
    }
  };

  /** Runs retention on a timer from now on, until stop(). */
  start(): void {
    this.timer = this.deps.clock.setTimer(() => {
      this.timer = undefined;
      if (this.stopped) return;
      void this.run().finally(() => {
        if (!this.stopped) this.start();
      });
    }, this.everyMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.deps.clock.clearTimer(this.timer);
  }
}
