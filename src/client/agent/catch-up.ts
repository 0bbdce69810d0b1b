import { afterPoll, historyEpoch, retentionEpochsOf, type CatchUpState, type HistoryChoice } from '../../traffic/catch-up.js';

/** Where the record lives in the mail store's sealed agent state. */
const CATCH_UP_STATE = 'catch-up';

/** How far back catch-up reads when nothing says otherwise: the providers' default retention (7 days). */
export const DEFAULT_CATCH_UP_MS = 7 * 24 * 3600 * 1000;

interface AgentStateStore {
  getAgentState(name: string): Uint8Array | undefined;
  putAgentState(name: string, value: Uint8Array): void;
}

/**
 * The agent's side of catch-up (src/traffic/catch-up.ts; docs/client.md, "Catch-up"): which
 * history epoch each poll reads, and the record of what has been read, kept across restarts so an
 * agent that was stopped for days reads every epoch it missed.
 */
export class CatchUp {
  private state: CatchUpState | undefined;

  constructor(
    private readonly store: AgentStateStore,
    private readonly retentionMs: number = DEFAULT_CATCH_UP_MS,
  ) {
    this.state = decode(store.getAgentState(CATCH_UP_STATE));
  }

  /** The history epoch of a poll in `epoch` (undefined before epoch 2). */
  choose(epoch: number, epochMs: number): HistoryChoice | undefined {
    return historyEpoch(epoch, this.state, retentionEpochsOf(this.retentionMs, epochMs));
  }

  /** After a successful poll: `complete` when nothing of the history epoch is left for later polls. */
  record(epoch: number, history: HistoryChoice | undefined, complete: boolean): void {
    const next = afterPoll(this.state, epoch, history, complete);
    if (this.state !== undefined && next.readThrough === this.state.readThrough && next.lastPollEpoch === this.state.lastPollEpoch) return;
    this.state = next;
    this.store.putAgentState(CATCH_UP_STATE, encode(next));
  }

  /** Epochs still to read (0 when caught up), for the status. */
  behind(epoch: number, epochMs: number): number {
    const choice = this.choose(epoch, epochMs);
    return choice === undefined || !choice.catchUp ? 0 : epoch - 1 - choice.epoch + 1;
  }
}

function encode(state: CatchUpState): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setFloat64(0, state.readThrough);
  view.setFloat64(8, state.lastPollEpoch);
  return bytes;
}

function decode(bytes: Uint8Array | undefined): CatchUpState | undefined {
  if (bytes === undefined || bytes.length !== 16) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, 16);
  const readThrough = view.getFloat64(0);
  const lastPollEpoch = view.getFloat64(8);
  if (!Number.isSafeInteger(readThrough) || !Number.isSafeInteger(lastPollEpoch)) return undefined;
  return { readThrough, lastPollEpoch };
}
