import { epochStart } from '../../pki/index.js';
import { MAX_TIMER_MS, type Clock } from '../../net/clock.js';
import type { AuthorityState } from './state.js';

/**
 * When the authority works: at each publish time (`publishLeadMs` before an epoch starts) it makes
 * the document that is due, and at each epoch boundary it prunes what is past retention. One timer,
 * re-armed after every run for the next of those times.
 */
export class PublishSchedule {
  private timer: unknown;
  private stopped = false;

  constructor(
    private readonly state: AuthorityState,
    private readonly clock: Clock,
    private readonly log: (line: string) => void,
  ) {}

  /** Makes every document that is due, prunes, and re-arms the timer. */
  readonly tick = (): void => {
    if (this.stopped) return;
    const { state, clock } = this;
    const now = clock.now();
    const current = state.currentEpoch(now);
    try {
      for (const epoch of [current, current + 1]) if (epoch >= 0) state.documentFor(epoch, now);
      state.prune(current);
      state.updateGauges(current);
    } catch (error) {
      this.log(`authority: scheduled work failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (this.timer !== undefined) clock.clearTimer(this.timer);
    // Wake at the next publish time or epoch boundary, whichever comes first.
    const next = Math.max(0, current + 1);
    const wake = Math.min(
      ...[state.publishTime(next), epochStart(next, state.timing), state.publishTime(next + 1)].filter((time) => time > now),
    );
    this.timer = clock.setTimer(this.tick, Math.min(MAX_TIMER_MS, wake - now));
  };

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
  }
}
