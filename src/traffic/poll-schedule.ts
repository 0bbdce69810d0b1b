import { epochStart, type EpochTiming } from '../pki/epoch.js';

/**
 * When the client polls its mailbox and what one poll fetches (docs/client.md, "Timers"). Pure: the
 * time and the epoch are parameters, so the agent and a simulator run the same schedule.
 *
 * Polls sit at (i + ½)·epochMs/k into every epoch, for k polls per epoch: the same offsets for
 * every client and every epoch, whatever the user does.
 */
export function nextPollAt(nowMs: number, epoch: number, timing: EpochTiming, pollsPerEpoch: number): number {
  const step = timing.epochMs / pollsPerEpoch;
  const base = epochStart(epoch, timing);
  if (nowMs < base) return Math.ceil(base + step / 2);
  let at = base + Math.floor((nowMs - base) / step) * step + step / 2;
  if (at <= nowMs) at += step;
  return Math.ceil(at);
}

/** The epochs one poll reads: the current and the previous one (only epoch 0 at the start). */
export function pollEpochs(epoch: number): number[] {
  return epoch > 0 ? [epoch, epoch - 1] : [epoch];
}

/**
 * The (epoch, address) pairs of one poll: every polled epoch × every polled epoch's address. Always
 * the same count, even when two pairs name the same bucket, so no poll stands out.
 */
export function pollFetches<A>(epochs: readonly number[], addressOf: (epoch: number) => A): [number, A][] {
  const addresses = epochs.map(addressOf);
  const fetches: [number, A][] = [];
  for (const epoch of epochs) for (const address of addresses) fetches.push([epoch, address]);
  return fetches;
}

/** One snapshot's part of a PIR poll: the first pages it must read and the pages it is behind on. */
export interface PirPollGroup<W> {
  /** First pages (one per bucket a pair reads): sent in the poll's first round. */
  readonly firstPages: number;
  /** Further pages still to read, in the order they should come (oldest mail first). */
  readonly backlog: readonly W[];
}

export interface PirPollPlan<W> {
  /** Per group, in the groups' order: first pages sent (of those asked), backlog pages sent, dummy queries. */
  readonly groups: readonly { readonly firstPages: number; readonly pages: readonly W[]; readonly dummies: number }[];
  /** Backlog pages left for later polls. */
  readonly deferred: number;
  /** Queries of the poll: always the budget (when there is at least one group). */
  readonly queries: number;
}

/**
 * The PIR queries of one poll within the fixed budget of `budget` queries per server (the
 * consensus's pir.queriesPerPoll; docs/pir.md, "Fixed sizes"). Round one: every group's first pages
 * (in order, while the budget lasts). Round two: the rest of the budget, shared among the groups in a
 * fixed pattern that does not depend on any backlog (an equal share each, the remainder to the first
 * groups), each share filled with the group's backlog pages first and dummy queries after. So every
 * poll sends the same number of queries, to the same snapshots, in the same two rounds, whether a
 * user has a backlog or not; a backlog larger than its share is spread over later polls.
 */
export function planPirPoll<W>(budget: number, groups: readonly PirPollGroup<W>[]): PirPollPlan<W> {
  if (!Number.isInteger(budget) || budget < 1) throw new RangeError('the PIR query budget must be a positive integer');
  if (groups.length === 0) return { groups: [], deferred: 0, queries: 0 };
  let left = budget;
  const first = groups.map((group) => {
    const taken = Math.min(group.firstPages, left);
    left -= taken;
    return taken;
  });
  const share = Math.floor(left / groups.length);
  const extra = left % groups.length;
  let deferred = 0;
  const planned = groups.map((group, g) => {
    const slots = share + (g < extra ? 1 : 0);
    const pages = group.backlog.slice(0, slots);
    deferred += group.backlog.length - pages.length;
    return { firstPages: first[g], pages, dummies: slots - pages.length };
  });
  return { groups: planned, deferred, queries: budget };
}

/**
 * The queries of a PIR poll's first round, for a budget of `budget` queries (the consensus's
 * pir.queriesPerPoll): half of it (rounded up), whatever the number of pairs polled; the rest of
 * the budget is the second round (backlog pages, dummies). Both rounds have fixed sizes, so
 * neither the count nor the timing of the queries says how many addresses (sessions) a user polls.
 */
export function firstRoundQueries(budget: number): number {
  if (!Number.isInteger(budget) || budget < 1) throw new RangeError('the PIR query budget must be a positive integer');
  return Math.ceil(budget / 2);
}

/** One group's first pages to choose from: how many, which are urgent (indexes), where the rotation stands. */
export interface FirstPageGroup {
  readonly count: number;
  /** Indexes of first pages to read before the rotation (buckets with pages still to read). */
  readonly urgent: readonly number[];
  /** The rotation's position (any integer; taken modulo the pages not urgent). */
  readonly cursor: number;
}

export interface FirstPageChoice {
  /** Indexes of the first pages read in this poll. */
  readonly pick: readonly number[];
  /** The group's share of the first round: pick.length + dummies. */
  readonly share: number;
  readonly dummies: number;
  /** The rotation's position for the next poll. */
  readonly cursor: number;
}

/**
 * Which first pages one PIR poll reads (docs/pir.md, "The client"). The first round
 * (firstRoundQueries) is shared among the groups (one per polled epoch) in a fixed pattern: an equal
 * share each, the remainder to the first groups. A group whose first pages fit its share reads them
 * all; one with more reads its urgent ones first (at most half the share), then the others in turn
 * from its cursor, which moves on by what it took: every first page is read at least once in
 * ⌈(count − urgent taken) / (share − urgent taken)⌉ polls. Unused slots are dummies.
 */
export function chooseFirstPages(budget: number, groups: readonly FirstPageGroup[]): FirstPageChoice[] {
  const round = firstRoundQueries(budget);
  if (groups.length === 0) return [];
  const base = Math.floor(round / groups.length);
  const extra = round % groups.length;
  return groups.map((group, g) => {
    const share = base + (g < extra ? 1 : 0);
    if (group.count <= share) return { pick: Array.from({ length: group.count }, (_, i) => i), share, dummies: share - group.count, cursor: group.cursor };
    const urgent = [...new Set(group.urgent.filter((i) => Number.isInteger(i) && i >= 0 && i < group.count))].slice(0, Math.floor(share / 2));
    const others: number[] = [];
    for (let i = 0; i < group.count; i++) if (!urgent.includes(i)) others.push(i);
    const take = Math.min(share - urgent.length, others.length);
    const start = ((group.cursor % others.length) + others.length) % others.length;
    const pick = [...urgent];
    for (let k = 0; k < take; k++) pick.push(others[(start + k) % others.length]);
    return { pick, share, dummies: share - pick.length, cursor: start + take };
  });
}
