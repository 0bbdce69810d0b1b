import { epochAt, epochStart, type EpochTiming } from '../pki/epoch.js';

/**
 * When a reply through a SURB may be sent, and when the sender stops waiting for it (docs/client.md,
 * "Replies"). Pure: times and epochs are parameters.
 *
 * A SURB is built with the mixes' keys of the epoch its fragment left in. A reply sent in another
 * epoch would be unwrapped at every mix under another key than the cover sent at the same moment
 * (or not at all after the grace period), so it would stand out. The recipient therefore sends a
 * reply only while its SURB's epoch is the current one, and drops it after; the sender, knowing
 * this, gives up waiting once no reply through the attempt's SURBs can still arrive, and resends
 * with fresh SURBs.
 */

/** Whether a reply through a SURB of `surbEpoch` may leave in `currentEpoch`. */
export function surbUsable(surbEpoch: number, currentEpoch: number): boolean {
  return surbEpoch === currentEpoch;
}

/**
 * Whether a reply through a SURB of `surbEpoch` is kept in `currentEpoch` to leave later or now: its
 * epoch is the current one or the next (a resend's SURB, see `replyEpoch`); one of the next epoch
 * waits for it. Later epochs than that are no SURB a sender makes.
 */
export function surbKept(surbEpoch: number, currentEpoch: number): boolean {
  return surbEpoch === currentEpoch || surbEpoch === currentEpoch + 1;
}

/**
 * The epoch whose keys the SURBs of a copy that leaves in `sendEpoch` are made with: the first copy's,
 * that epoch (its ACK comes back soonest); every later copy's, the next epoch, whose keys every
 * descriptor already carries. A copy was sent again because no ACK came in time, most often because
 * the recipient read it only after its SURB's epoch ended (a slow server, a busy machine, a poll that
 * failed); a resend's recipient has the rest of the epoch and all of the next one, and holds an ACK
 * read early until the next epoch starts. Which slot a reply takes is invisible on the wire.
 */
export function replyEpoch(sendEpoch: number, resends: number, readAfterEpoch = false): number {
  return resends === 0 && !readAfterEpoch ? sendEpoch : sendEpoch + 1;
}

/**
 * Mean gaps of the recipient's send stream an ACK is given to find its slot: a Poisson stream has a
 * slot within 3 mean gaps 95 % of the time (1 − e^−3).
 */
export const REPLY_SLOT_GAPS = 3;

/**
 * Whether a copy leaving at `sentMs` will most likely have its ACK leave only after its epoch ends:
 * it reaches the mailbox (twice the mixes' mean delays) and is read at the recipient's next poll
 * (polls sit at (i + ½)/k of the epoch, docs/client.md, "Polls"; the sender's own k stands for the
 * recipient's), and its ACK then waits for a slot of the recipient's send stream (REPLY_SLOT_GAPS
 * mean gaps). Such a first copy gets SURBs of the next epoch (`replyEpoch`), as a resend does: with
 * SURBs of its own epoch its ACK could not leave, and the mail would wait for a resend.
 */
export function readAfterItsEpoch(sentMs: number, timing: EpochTiming, travel: Pick<ReplyTravel, 'meanDelayMs' | 'mixLayers' | 'pollsPerEpoch' | 'sendRate'>): boolean {
  const epoch = epochAt(sentMs, timing);
  if (epoch < 0) return false; // before genesis (a network not started yet): nothing is late
  const start = epochStart(epoch, timing);
  const interval = timing.epochMs / travel.pollsPerEpoch;
  // Twice the mean of the three delays (a sum of three exponentials exceeds that about one time in
  // 16), which also covers the gateway, the provider's snapshot refresh and the poll's own time.
  // Erring late costs little (the ACK waits for the next epoch to start); erring early, a resend.
  const arrival = sentMs + 2 * travel.mixLayers * travel.meanDelayMs;
  const poll = Math.max(0, Math.ceil((arrival - start) / interval - 0.5));
  const readMs = start + (poll + 0.5) * interval;
  return readMs + (REPLY_SLOT_GAPS * 1000) / travel.sendRate > start + timing.epochMs;
}

/** Whether a reply queued for a SURB of `surbEpoch` must be dropped in `currentEpoch`. */
export function replyExpired(surbEpoch: number, currentEpoch: number): boolean {
  return surbEpoch < currentEpoch;
}

export interface ReplyTravel {
  /** The consensus's cap on one mix's delay. */
  readonly maxDelayMs: number;
  /** The consensus's mean delay of one mix. */
  readonly meanDelayMs: number;
  /** Mix layers a reply crosses. */
  readonly mixLayers: number;
  /** The sender's mailbox polls per epoch. */
  readonly pollsPerEpoch: number;
  /** The consensus's per-client send rate (packets a second): the slots a reply leaves in. */
  readonly sendRate: number;
}

/** A reply's travel under a consensus's mixing (three mix layers) and send rate for a user polling `pollsPerEpoch` times an epoch. */
export function replyTravelOf(doc: { readonly mixing: { readonly meanDelayMs: number; readonly maxDelayMs: number }; readonly traffic: { readonly clientSendRate: number } }, pollsPerEpoch: number): ReplyTravel {
  return { meanDelayMs: doc.mixing.meanDelayMs, maxDelayMs: doc.mixing.maxDelayMs, mixLayers: 3, pollsPerEpoch, sendRate: doc.traffic.clientSendRate };
}

/**
 * The latest moment an ACK through a SURB of copy `resends + 1`, sent at `sentMs`, can be read by its
 * sender (the SURB's epoch as `replyEpoch` chose it, a first copy sent late in its epoch included): the SURB's epoch ends (the last moment the reply may leave), the reply crosses the mixes (each delay at most
 * the cap), and the sender's next poll reads it; one more poll interval is allowed for a poll that
 * was slow or failed.
 */
export function replyWindowEndMs(sentMs: number, timing: EpochTiming, travel: ReplyTravel, resends = 0): number {
  const epochEnd = epochStart(replyEpoch(epochAt(sentMs, timing), resends, readAfterItsEpoch(sentMs, timing, travel)) + 1, timing);
  const pollInterval = timing.epochMs / travel.pollsPerEpoch;
  return Math.ceil(epochEnd + travel.mixLayers * travel.maxDelayMs + 2 * pollInterval);
}

/**
 * When a resend due at `dueMs` should leave: at once in the first half of an epoch, else at the
 * start of the next one. A copy's ACK must leave the recipient in the copy's own epoch (the SURB's),
 * after the copy crossed the mixes and the recipient's poll read it; a copy sent late in an epoch
 * would miss that window again and again, since each deadline falls at the same point of the next
 * epoch. Which cover slot a resend takes is invisible on the wire, so waiting costs only latency.
 */
export function resendMomentMs(dueMs: number, timing: EpochTiming): number {
  const epoch = epochAt(dueMs, timing);
  const start = epochStart(epoch, timing);
  return dueMs - start < timing.epochMs / 2 ? dueMs : epochStart(epoch + 1, timing);
}
