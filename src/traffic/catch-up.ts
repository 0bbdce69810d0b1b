/**
 * Catch-up after time offline (docs/client.md, "Catch-up"). Pure: epochs are parameters.
 *
 * A poll reads the current and the previous epoch. Mail that arrived in an epoch the agent never
 * polled in is read by a third, "history" group that every poll carries, read or not: one more
 * epoch, with its own and the previous epoch's addresses, within the same fixed query budget. While
 * the agent is behind, the history epoch is the oldest epoch not yet read (within retention), one
 * after the other, up to the previous epoch; when it is not, it is the epoch before the two polled (cover). So every poll has
 * the same requests, the same number of queries and the same sizes whether there is a backlog or not.
 *
 * The agent keeps `readThrough`: every epoch up to it has been read (or is past retention), and the
 * epoch of its last successful poll.
 */
export interface CatchUpState {
  /** Every epoch ≤ this has been read. */
  readonly readThrough: number;
  /** The epoch of the last successful poll. */
  readonly lastPollEpoch: number;
}

export interface HistoryChoice {
  readonly epoch: number;
  /** True when the epoch is read for mail not read yet; false when it is the cover read. */
  readonly catchUp: boolean;
}

/**
 * The history epoch of a poll in `epoch`, or undefined before epoch 2 (nothing older than the two
 * polled). `retentionEpochs`: how far back providers keep mail; older epochs are not read.
 */
export function historyEpoch(epoch: number, state: CatchUpState | undefined, retentionEpochs: number): HistoryChoice | undefined {
  if (epoch < 2) return undefined;
  const cover = { epoch: epoch - 2, catchUp: false };
  if (state === undefined) return cover;
  const oldest = Math.max(0, epoch - retentionEpochs);
  const next = Math.max(state.readThrough + 1, oldest);
  // Up to the previous epoch: its mail under the addresses of the epoch before is read only here.
  return next <= epoch - 1 ? { epoch: next, catchUp: true } : cover;
}

/**
 * The state after a successful poll in `epoch` that read `history` (a choice of historyEpoch;
 * complete: nothing of it left for later polls). The first poll ever starts the record (nothing before it is owed). A poll in the
 * same or the next epoch as the previous one continues it: those polls read the epoch before theirs
 * after it ended, so everything up to two epochs back is read once the record was whole to there.
 */
export function afterPoll(state: CatchUpState | undefined, epoch: number, history: HistoryChoice | undefined, complete: boolean): CatchUpState {
  if (state === undefined) return { readThrough: epoch - 2, lastPollEpoch: epoch };
  let readThrough = state.readThrough;
  // historyEpoch chose the oldest epoch not read that can still be read: everything before it is
  // read, before genesis, or past retention. (Requiring it to be readThrough + 1 kept an agent whose
  // first poll was in epoch 0 (readThrough −2), or that was away longer than retention, reading the
  // same history epoch for ever.)
  if (history !== undefined && history.catchUp && complete) readThrough = Math.max(readThrough, history.epoch);
  const continuous = epoch - state.lastPollEpoch <= 1;
  // Polls in lastPollEpoch read lastPollEpoch − 1 sealed: whole to there if whole to the epoch before.
  if (continuous && readThrough >= state.lastPollEpoch - 2) readThrough = Math.max(readThrough, epoch - 2);
  return { readThrough, lastPollEpoch: Math.max(epoch, state.lastPollEpoch) };
}

/** How far back catch-up reads: the providers' retention in epochs (at least 2). */
export function retentionEpochsOf(retentionMs: number, epochMs: number): number {
  return Math.max(2, Math.ceil(retentionMs / epochMs));
}
