/**
 * Resend bookkeeping of one outgoing message (docs/client.md, "Acknowledgements and resends"): which
 * shards still have to leave, when the ACK is overdue, when the next whole copy goes (a backoff that
 * doubles up to a cap), when the recipient's server is waited for, and when the message fails: only
 * once the delivery window (the network's retention) is over. Pure: the shell persists the state and
 * queues the shards these functions name.
 */
export interface ResendState {
  /** Shards of the current attempt still to be sent. */
  readonly pending: Set<number>;
  /** Whole-message resends after a timeout. */
  resends: number;
  /** Resends that NACKs asked for. */
  nackResends: number;
  /** When the ACK is overdue and the next copy is due: set once every shard of an attempt has left. */
  deadlineMs: number | undefined;
  /** True once the first shard left. */
  started: boolean;
  /** When the delivery window opened (the send, or a user's resend of a failed mail). */
  readonly windowStartMs: number;
  /** Since when the recipient's server has been missing from the consensus; undefined while it is there. */
  waitingSinceMs: number | undefined;
}

export interface ResendPolicy {
  /** Whole-message resends after a timeout before the message fails; undefined: no limit but the window. */
  readonly maxResends?: number;
  /** How long after its last shard left an attempt waits for its ACK. */
  readonly ackTimeoutMs: number;
  /**
   * When no ACK through the SURBs of a shard sent at `sentMs` can still arrive (a reply leaves only
   * in its SURB's epoch: src/traffic/reply-window.ts). The ACK is overdue at the earlier of this and
   * ackTimeoutMs, so an attempt whose reply could not be sent in time is resent with fresh SURBs.
   */
  readonly replyWindowEndMs?: (sentMs: number, resends: number) => number;
  /** How long a mail may take to arrive: the network's retention (servers keep a copy that long). */
  readonly windowMs: number;
  /** The longest wait between two copies (the cap of the backoff). */
  readonly maxIntervalMs: number;
  /** Moves a deadline to when a resend has the best chance (reply-window.ts, resendMomentMs). */
  readonly resendMomentMs?: (dueMs: number) => number;
}

/** The longest wait between two copies, from the consensus timing: 8 epochs, at most a 16th of the window, at least the ACK timeout. */
export function maxCopyIntervalMs(epochMs: number, windowMs: number, ackTimeoutMs: number): number {
  return Math.max(ackTimeoutMs, Math.min(8 * epochMs, Math.floor(windowMs / 16)));
}

/** A shard left in a packet at `nowMs`; true when it is the message's very first one. */
export function shardSent(state: ResendState, shard: number, nowMs: number, policy: ResendPolicy): boolean {
  state.pending.delete(shard);
  const first = !state.started;
  state.started = true;
  if (state.pending.size === 0) state.deadlineMs = copyDeadline(state, nowMs, policy);
  return first;
}

/** When the ACK of copy `resends + 1`, whose last shard left at `sentMs`, is overdue. */
export function ackDeadline(sentMs: number, policy: Pick<ResendPolicy, 'ackTimeoutMs' | 'replyWindowEndMs' | 'resendMomentMs'>, resends = 0): number {
  const timeout = sentMs + policy.ackTimeoutMs;
  const due = policy.replyWindowEndMs === undefined ? timeout : Math.min(timeout, policy.replyWindowEndMs(sentMs, resends));
  return policy.resendMomentMs === undefined ? due : policy.resendMomentMs(due);
}

/** When the end of the delivery window is: the message fails at its first deadline from then on. */
export function windowEndMs(state: Pick<ResendState, 'windowStartMs'>, policy: Pick<ResendPolicy, 'windowMs'>): number {
  return state.windowStartMs + policy.windowMs;
}

/**
 * The wait after the last shard of copy `resends + 1` left before the next copy: the ACK deadline
 * for the first copy, then the ACK timeout doubled per copy, capped at maxIntervalMs.
 */
export function backoffMs(resends: number, policy: Pick<ResendPolicy, 'ackTimeoutMs' | 'maxIntervalMs'>): number {
  if (resends === 0) return 0;
  return Math.min(policy.maxIntervalMs, policy.ackTimeoutMs * 2 ** Math.min(resends, 40));
}

/**
 * When the attempt whose last shard left at `sentMs` is due again: not before its ACK is overdue,
 * then after the backoff (moved, like the ACK deadline, out of an epoch's second half), but never
 * waiting past the end of the window for nothing.
 */
export function copyDeadline(state: Pick<ResendState, 'resends' | 'windowStartMs'>, sentMs: number, policy: ResendPolicy): number {
  const overdue = ackDeadline(sentMs, policy, state.resends);
  const backedOff = sentMs + backoffMs(state.resends, policy);
  const due = backedOff > overdue && policy.resendMomentMs !== undefined ? policy.resendMomentMs(backedOff) : Math.max(overdue, backedOff);
  return Math.min(due, Math.max(overdue, windowEndMs(state, policy)));
}

/** Marks shards pending again; returns those that were not pending already (to be queued). */
export function requeueShards(state: ResendState, shards: readonly number[]): number[] {
  const added: number[] = [];
  for (const shard of shards) {
    if (state.pending.has(shard)) continue;
    state.pending.add(shard);
    added.push(shard);
  }
  if (added.length > 0) state.deadlineMs = undefined;
  return added;
}

/** Why a message failed: it used up its copies, or its delivery window is over. */
export type FailCause = 'copies' | 'window';

export type DeadlineDecision =
  | { readonly kind: 'wait' }
  /** No ACK after every allowed copy, or the window is over. */
  | { readonly kind: 'fail'; readonly attempts: number; readonly cause: FailCause }
  /** Send the whole message again: these shards are to be queued. */
  | { readonly kind: 'resend'; readonly shards: number[] };

/** What an outgoing message does at `nowMs`: wait, be sent again whole, or fail. */
export function onDeadline(state: ResendState, nowMs: number, totalShards: number, policy: ResendPolicy): DeadlineDecision {
  if (state.deadlineMs === undefined || nowMs < state.deadlineMs) return { kind: 'wait' };
  if (nowMs >= windowEndMs(state, policy)) return { kind: 'fail', attempts: state.resends + 1, cause: 'window' };
  if (policy.maxResends !== undefined && state.resends >= policy.maxResends) return { kind: 'fail', attempts: state.resends + 1, cause: 'copies' };
  state.resends++;
  return { kind: 'resend', shards: requeueShards(state, Array.from({ length: totalShards }, (_, i) => i)) };
}

export type ServerDecision =
  /** Nothing changes. */
  | { readonly kind: 'none' }
  /** The recipient's server just went missing: the message's shards leave the queue, it waits. */
  | { readonly kind: 'wait' }
  /** The server is back: the pending shards go back in the queue. */
  | { readonly kind: 'resume'; readonly shards: number[] }
  /** The window ended while the server was missing. */
  | { readonly kind: 'fail'; readonly attempts: number; readonly cause: FailCause };

/**
 * Whether the recipient's server is in the consensus (`present`) at `nowMs`: a missing server is a
 * temporary state, waited for until the window ends; its return resumes the message at once.
 */
export function onRecipientServer(state: ResendState, present: boolean, nowMs: number, policy: ResendPolicy): ServerDecision {
  if (present) {
    if (state.waitingSinceMs === undefined) return { kind: 'none' };
    state.waitingSinceMs = undefined;
    return { kind: 'resume', shards: [...state.pending].sort((a, b) => a - b) };
  }
  if (nowMs >= windowEndMs(state, policy)) return { kind: 'fail', attempts: state.resends + 1, cause: 'window' };
  if (state.waitingSinceMs !== undefined) return { kind: 'none' };
  state.waitingSinceMs = nowMs;
  return { kind: 'wait' };
}

/**
 * A NACK named `missing` shards: the data shards to send again, or undefined when the NACK is to be
 * ignored (nothing usable named, or the message used up its NACK resends: 2 × (maxResends + 1),
 * 64 without a limit on resends).
 */
export function onNack(state: ResendState, missing: readonly number[], dataShards: number, policy: Pick<ResendPolicy, 'maxResends'>): number[] | undefined {
  const shards = missing.filter((shard) => shard < dataShards);
  const budget = policy.maxResends === undefined ? 64 : 2 * (policy.maxResends + 1);
  if (state.nackResends >= budget || shards.length === 0) return undefined;
  state.nackResends++;
  return requeueShards(state, shards);
}
