import { hexOf } from '../../codec/bytes.js';
import { epochStart } from '../../pki/index.js';
import { nextPollAt, pollEpochs, pollFetches } from '../../traffic/poll-schedule.js';
import type { ClientCore } from '../directory.js';
import type { Clock } from '../../net/clock.js';
import { describeError } from '../errors.js';
import { LinkKeyMismatchError } from '../../net/websocket.js';
import type { PirMismatch } from '../pir-retrieval.js';
import { parseStoredCiphertext } from '../../wire/stored-ciphertext.js';
import type { StoredItem } from '../../wire/retrieval.js';
import { CatchUp } from './catch-up.js';
import type { Inbox } from './inbox.js';
import type { LoopTracker } from './loops.js';
import type { NetworkView } from './network-view.js';
import type { Outbox } from './outbox.js';
import type { FetchResult, MailboxRetrieval } from './retrieval.js';
import type { Emit, PollReport } from './types.js';

type Outcome = 'received' | 'ack' | 'loop' | 'other';

/**
 * The mailbox polls (docs/client.md, "Timers" and "Receiving"): at fixed offsets of every epoch
 * (src/traffic/poll-schedule.ts) the same fetches through the retrieval in use; each new stored item
 * under the user's addresses goes to the inbox (fragments), the loop tracker or the outbox (SURB
 * replies). After every poll: NACKs, timeouts, and expiry of what is too old to use.
 */
export class Poller {
  done = 0;
  failed = 0;
  lastMs: number | undefined;
  lastError: string | undefined;
  queries = 0;
  mismatches = 0;
  lastMismatch: string | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private running = false;
  private number = 0;
  private timer: unknown;
  private closed = false;
  /** Which older epoch each poll reads besides the two current ones (catch-up, or its cover). */
  readonly catchUp: CatchUp;

  constructor(
    private readonly core: ClientCore,
    private readonly clock: Clock,
    private readonly view: NetworkView,
    private readonly retrieval: () => MailboxRetrieval,
    private readonly parts: { readonly inbox: Inbox; readonly outbox: Outbox; readonly loops: LoopTracker },
    /** Fetches a newer consensus when the epoch moved on (before every poll). */
    private readonly refreshConsensus: () => Promise<void>,
    private readonly emit: Emit,
  ) {
    this.catchUp = new CatchUp(core.store);
  }

  /** Polls now, after any poll in progress. */
  poll(): Promise<PollReport> {
    const run = this.chain.then(async () => {
      this.running = true;
      try {
        return await this.run();
      } finally {
        this.running = false;
      }
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  schedule(): void {
    if (this.closed) return;
    const now = this.view.now();
    const at = nextPollAt(now, this.view.epochAt(now), this.view.doc, this.core.settings.pollsPerEpoch);
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      if (this.closed) return;
      if (!this.running) void this.poll().catch(() => undefined);
      this.schedule();
    }, at - now);
  }

  /** Stops the schedule and waits for a poll in progress. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    await this.chain.catch(() => undefined);
  }

  private async run(): Promise<PollReport> {
    const started = this.view.now();
    await this.refreshConsensus();
    const epoch = this.view.epochAt(this.view.now());
    const poll = ++this.number;
    const history = this.catchUp.choose(epoch, this.view.doc.epochMs);
    const { fetches, addressEpoch } = this.fetchesOf(epoch, history?.epoch);
    const base = { epoch, startedMs: started, fetches: fetches.length };
    let fetched;
    try {
      fetched = await this.retrieval().fetch(fetches);
      this.queries += fetched.queries;
    } catch (error) {
      const message = describeError(error);
      this.failed++;
      this.lastError = message;
      // A provider or PIR partner whose TLS key is not the consensus's: refused, and said so.
      if (error instanceof LinkKeyMismatchError) this.emit({ type: 'error', where: 'link-key', message });
      this.emit({ type: 'poll', epoch, startedMs: started, items: 0, error: message });
      this.afterPoll(this.view.now(), poll);
      return { ...base, items: 0, received: 0, acks: 0, loops: 0, error: message };
    }
    if (this.closed) return { ...base, items: 0, received: 0, acks: 0, loops: 0, error: 'closed' };
    const now = this.view.now();
    const counts = this.handleAll(fetches, fetched.results, addressEpoch, now, poll);
    // A row that did not verify was not read; the poll is reported failed (the verified rows were read).
    const integrityError = this.reportMismatches(fetched.mismatches);
    if (integrityError === undefined) {
      // The history epoch is read through once nothing of it waits for a later poll.
      const complete = historyReadWhole(fetched, history?.epoch);
      this.guard('catch-up', () => this.catchUp.record(epoch, history, complete));
      this.done++;
      this.lastMs = now;
      // The mailbox was read: a loop due well before this poll began and not found is lost.
      this.parts.loops.overdue(started, loopSlackMs(this.view.doc.epochMs));
      this.lastError = undefined;
    } else {
      this.failed++;
      this.lastError = integrityError;
    }
    this.afterPoll(now, poll);
    const error = integrityError === undefined ? {} : { error: integrityError };
    const pirCounts = this.view.doc.retrieval === 'pir' ? { mismatches: fetched.mismatches.length, more: fetched.more } : {};
    this.emit({ type: 'poll', epoch, startedMs: started, items: counts.items, ...error });
    return { ...base, ...counts, ...pirCounts, ...error };
  }

  /**
   * Every (stored epoch, address) pair of a poll: for each polled epoch, every address the endpoint
   * polls for each polled epoch (card, own, every session's: MailEndpoint.pollAddresses); then the
   * history epoch (src/traffic/catch-up.ts) with its own and the epoch before's addresses; and the
   * epoch each address is of, which is the epoch its senders built their packets and SURBs in.
   */
  private fetchesOf(epoch: number, history: number | undefined): { fetches: [number, Uint8Array][]; addressEpoch: Map<string, number> } {
    const now = this.view.now();
    const epochs = pollEpochs(epoch);
    const addressEpoch = new Map<string, number>();
    const addressesOf = (e: number): Uint8Array[] => this.core.endpoint.pollAddresses(e, now);
    const fetches = pollFetches(epochs, addressesOf).flatMap(([e, list]) => list.map((address): [number, Uint8Array] => [e, address]));
    const sources = history === undefined ? epochs : [...epochs, history, ...(history > 0 ? [history - 1] : [])];
    for (const e of sources) for (const address of addressesOf(e)) if (!addressEpoch.has(hexOf(address))) addressEpoch.set(hexOf(address), e);
    if (history !== undefined) {
      for (const e of history > 0 ? [history, history - 1] : [history]) for (const address of addressesOf(e)) fetches.push([history, address]);
    }
    return { fetches, addressEpoch };
  }

  /** Hands every new item under the user's own addresses to its part; the counts of what they were. */
  private handleAll(fetches: readonly [number, Uint8Array][], results: readonly StoredItem[][], addressEpoch: ReadonlyMap<string, number>, now: number, poll: number): { items: number; received: number; acks: number; loops: number } {
    const counts = { items: 0, received: 0, acks: 0, loops: 0 };
    for (let i = 0; i < fetches.length; i++) {
      const fetchedEpoch = fetches[i][0];
      for (const item of results[i]) {
        const sentEpoch = addressEpoch.get(hexOf(item.address));
        if (sentEpoch === undefined) continue; // someone else's mail in the same bucket
        if (!this.parts.inbox.firstSight(fetchedEpoch, item)) continue;
        counts.items++;
        const outcome = this.guard('receive', () => this.handle(item, sentEpoch, now, poll));
        if (outcome === 'received') counts.received++;
        else if (outcome === 'ack') counts.acks++;
        else if (outcome === 'loop') counts.loops++;
      }
    }
    // Mails are in the store already: a crash before this write re-reads them (deduplicated). Synced
    // off the event loop, which times the send slots (a receipt must not show as a gap either).
    if (counts.received > 0) {
      this.core.persistInBackground().catch((error: unknown) => this.emit({ type: 'error', where: 'keystore', message: describeError(error) }));
    }
    return counts;
  }

  /**
   * Every stored item has one layout, its kind inside the encryption: a loop or an acknowledgement
   * when its SURB ID is one of ours and it decrypts under that SURB's token, else a fragment when it
   * opens with the user's key (docs/client.md, "Receiving").
   */
  private handle(item: StoredItem, epoch: number, now: number, poll: number): Outcome {
    const stored = parseStoredCiphertext(item.ciphertext);
    if (stored === undefined) return 'other';
    const loop = this.parts.loops.returnOf(stored.surbId, stored.payload, now, this.view.sphinx);
    if (loop === 'loop') return loop;
    if (this.parts.outbox.onReply(stored.surbId, stored.payload) === 'ack') return 'ack';
    return this.parts.inbox.receive(stored.payload, epoch, now, poll);
  }

  /** Emits and counts rows that did not verify; the poll's error message, or undefined when there is none. */
  private reportMismatches(mismatches: readonly PirMismatch[]): string | undefined {
    if (mismatches.length === 0) return undefined;
    for (const m of mismatches) {
      const message = `a PIR answer from ${m.provider} or ${m.partner} for epoch ${m.epoch} does not verify (${m.reason}); nothing of it was read`;
      this.mismatches++;
      this.lastMismatch = message;
      this.emit({ type: 'integrity', epoch: m.epoch, provider: m.provider, partner: m.partner, snapshot: m.snapshot, message });
      this.emit({ type: 'error', where: 'pir', message });
    }
    return `${mismatches.length} PIR ${mismatches.length === 1 ? 'answer' : 'answers'} did not verify: ${this.lastMismatch}`;
  }

  /** After every poll: NACKs for stalled partial messages, timeouts, expiry of what is too old to use. */
  private afterPoll(now: number, poll: number): void {
    if (this.closed) return;
    const epoch = this.view.epochAt(now);
    this.guard('nack', () => this.parts.inbox.afterPoll(poll, epoch));
    this.guard('timeouts', () => this.parts.outbox.checkTimeouts(now));
    this.core.endpoint.expire(now);
    // A SURB or loop made before the previous epoch points at an address no longer fetched.
    const cutoff = epochStart(Math.max(0, epoch - 1), this.view.doc);
    this.guard('expiry', () => this.core.store.deleteSurbsBefore(cutoff));
    this.parts.loops.expire(cutoff);
    this.guard('alert', () => this.parts.loops.judge(epoch, (key) => this.view.network.findByKey(key)?.name ?? 'unknown'));
  }

  private guard<T>(where: string, work: () => T): T | undefined {
    try {
      return work();
    } catch (error) {
      this.emit({ type: 'error', where, message: describeError(error) });
      return undefined;
    }
  }
}

/**
 * How long after it was due a loop may still be missing from a poll (docs/client.md, "Loops"): 2 s
 * plus 1/16 epoch, room for the provider's PIR snapshot refresh (at most 1/32 epoch) and its partner's copy.
 */
export function loopSlackMs(epochMs: number): number {
  return 2000 + Math.floor(epochMs / 16);
}

/**
 * Whether a poll read its history epoch whole: nothing of that epoch left for a later poll and its
 * snapshot not refused. What other epochs of the poll still have to read (a busy current epoch)
 * does not hold the catch-up back; without per-epoch figures (bucket and download retrieval),
 * nothing may be left anywhere.
 */
export function historyReadWhole(fetched: FetchResult, historyEpoch: number | undefined): boolean {
  if (historyEpoch !== undefined && (fetched.skipped ?? []).includes(historyEpoch)) return false;
  if (fetched.unfinished !== undefined) return historyEpoch === undefined || !fetched.unfinished.includes(historyEpoch);
  return fetched.more === 0 && (fetched.deferred ?? 0) === 0;
}
