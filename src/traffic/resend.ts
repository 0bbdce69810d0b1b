/**
 * Resend bookkeeping of one outgoing message (docs/client.md, "Acknowledgements and resends"): which
 * shards still have to leave, when the ACK is overdue, and what a timeout or a NACK changes. Pure:
 * the shell persists the state and queues the shards these functions name.
 */
export interface ResendState {
  /** Shards of the current attempt still to be sent. */
  readonly pending: Set<number>;
  /** Whole-message resends after a timeout. */
  resends: number;
  /** Resends that NACKs asked for. */
  nackResends: number;
  /** When the ACK is overdue: set once every shard of an attempt has left. */
  deadlineMs: number | undefined;
  /** True once the first shard left. */
  started: boolean;
}

export interface ResendPolicy {
  /** Whole-message resends after a timeout before the message fails. */
  readonly maxResends: number;
  /** How long after its last shard left an attempt waits for its ACK. */
  readonly ackTimeoutMs: number;
  /**
   * When no ACK through the SURBs of a shard sent at `sentMs` can still arrive (a reply leaves only
   * in its SURB's epoch: src/traffic/reply-window.ts). The deadline is the earlier of this and
   * ackTimeoutMs, so an attempt whose reply could not be sent in time is resent with fresh SURBs.
   */
  readonly replyWindowEndMs?: (sentMs: number) => number;
  /** Moves a deadline to when a resend has the best chance (reply-window.ts, resendMomentMs). */
  readonly resendMomentMs?: (dueMs: number) => number;
}

/** A shard left in a packet at `nowMs`; true when it is the message's very first one. */
export function shardSent(state: ResendState, shard: number, nowMs: number, policy: ResendPolicy): boolean {
  state.pending.delete(shard);
  const first = !state.started;
  state.started = true;
  if (state.pending.size === 0) state.deadlineMs = ackDeadline(nowMs, policy);
  return first;
}

/** When the ACK of an attempt whose last shard left at `sentMs` is overdue. */
export function ackDeadline(sentMs: number, policy: ResendPolicy): number {
  const timeout = sentMs + policy.ackTimeoutMs;
  const due = policy.replyWindowEndMs === undefined ? timeout : Math.min(timeout, policy.replyWindowEndMs(sentMs));
  return policy.resendMomentMs === undefined ? due : policy.resendMomentMs(due);
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

export type DeadlineDecision =
  | { readonly kind: 'wait' }
  /** No ACK after every allowed copy. */
  | { readonly kind: 'fail'; readonly attempts: number }
  /** Send the whole message again: these shards are to be queued. */
  | { readonly kind: 'resend'; readonly shards: number[] };

/** What an outgoing message does at `nowMs`: wait, be sent again whole, or fail. */
export function onDeadline(state: ResendState, nowMs: number, totalShards: number, policy: ResendPolicy): DeadlineDecision {
  if (state.deadlineMs === undefined || nowMs < state.deadlineMs) return { kind: 'wait' };
  if (state.resends >= policy.maxResends) return { kind: 'fail', attempts: state.resends + 1 };
  state.resends++;
  return { kind: 'resend', shards: requeueShards(state, Array.from({ length: totalShards }, (_, i) => i)) };
}

/**
 * A NACK named `missing` shards: the data shards to send again, or undefined when the NACK is to be
 * ignored (nothing usable named, or the message used up its NACK resends: 2 × (maxResends + 1)).
 */
export function onNack(state: ResendState, missing: readonly number[], dataShards: number, policy: ResendPolicy): number[] | undefined {
  const shards = missing.filter((shard) => shard < dataShards);
  if (state.nackResends >= 2 * (policy.maxResends + 1) || shards.length === 0) return undefined;
  state.nackResends++;
  return requeueShards(state, shards);
}
