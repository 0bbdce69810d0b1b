import { epochStart } from '../../pki/index.js';
import { MAX_TIMER_MS, type Clock } from '../../net/clock.js';
import type { AuthorityState } from './state.js';
import type { NodeLog } from '../log.js';

/**
 * When the authority works: at each publish time (`publishLeadMs` before an epoch starts) it votes
 * on the document that is due, and at each epoch boundary it prunes what is past retention. While
 * several authorities vote on an epoch not yet published, it also runs every `voteTickMs` (the
 * exchange with the peers, `afterTick`). One timer, re-armed after every run for the next of those times.
 */
export class PublishSchedule {
  private timer: unknown;
  private stopped = false;

  constructor(
    private readonly state: AuthorityState,
    private readonly clock: Clock,
    private readonly log: NodeLog,
    private readonly afterTick?: () => Promise<void>,
  ) {}

  /** How often the voting runs while an epoch is being voted on: a 32nd of an epoch, 50 ms..1 s. */
  private get voteTickMs(): number {
    return Math.max(50, Math.min(1000, Math.floor(this.state.timing.epochMs / 32)));
  }

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
      this.log(`authority: scheduled work failed: ${error instanceof Error ? error.message : String(error)}`, 'error');
    }
    this.afterTick?.().then(
      () => (this.stopped ? undefined : this.catchUp()),
      (error: unknown) => this.log(`authority: exchange with the peers failed: ${error instanceof Error ? error.message : String(error)}`, 'warn'),
    );
    if (this.timer !== undefined) clock.clearTimer(this.timer);
    // Wake at the next publish time or epoch boundary, whichever comes first.
    const next = Math.max(0, current + 1);
    const times = [state.publishTime(next), epochStart(next, state.timing), state.publishTime(next + 1)];
    if (state.votingPending(now)) times.push(now + this.voteTickMs);
    const wake = Math.min(...times.filter((time) => time > now));
    this.timer = clock.setTimer(this.tick, Math.min(MAX_TIMER_MS, wake - now));
  };

  /** After an exchange: whatever arrived (votes, signatures) moves the rounds on. */
  private catchUp(): void {
    const now = this.clock.now();
    const current = this.state.currentEpoch(now);
    try {
      for (const epoch of [current, current + 1]) if (epoch >= 0) this.state.documentFor(epoch, now);
    } catch (error) {
      this.log(`authority: scheduled work failed: ${error instanceof Error ? error.message : String(error)}`, 'error');
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
  }
}
