import { surbKept } from './reply-window.js';

/**
 * When a recipient asks for the missing shards of a partial message (docs/client.md, "NACKs"). Pure:
 * the shell reports each fragment seen and each poll done, and sends the NACKs this names through the
 * SURBs it returns.
 */
/** Polls without a new fragment before a partial message is NACKed. */
export const NACK_AFTER_POLLS = 2;
export const MAX_NACKS_PER_MESSAGE = 3;
/** SURBs kept per partial message (the newest). */
export const MAX_SURBS_PER_MESSAGE = 8;
export const MAX_PARTIAL_MESSAGES = 256;

export interface PartialMessage<S> {
  readonly messageId: Uint8Array;
  surbs: { surb: S; epoch: number }[];
  /** The last poll in which the message made progress (or was NACKed). */
  progressPoll: number;
  nacks: number;
}

export class PartialMessages<S> {
  private readonly entries = new Map<string, PartialMessage<S>>();

  /** A fragment of a still-incomplete message arrived, carrying a SURB usable in `epoch`. */
  saw(key: string, messageId: Uint8Array, surb: S, epoch: number, poll: number, progressed: boolean): void {
    let entry = this.entries.get(key);
    if (entry === undefined) {
      if (this.entries.size >= MAX_PARTIAL_MESSAGES) this.entries.delete(this.entries.keys().next().value as string);
      entry = { messageId, surbs: [], progressPoll: poll, nacks: 0 };
      this.entries.set(key, entry);
    }
    if (progressed) entry.progressPoll = poll;
    entry.surbs.push({ surb, epoch });
    if (entry.surbs.length > MAX_SURBS_PER_MESSAGE) entry.surbs.shift();
  }

  /** The message is complete: nothing more to ask for. */
  complete(key: string): void {
    this.entries.delete(key);
  }

  /**
   * After poll `poll` in `epoch`: forgets SURBs of earlier epochs (a reply leaves only in its SURB's
   * epoch, which is this one or, for a resend's SURB, the next: src/traffic/reply-window.ts) and the messages left without one; returns the stalled
   * messages due for a NACK, each with the newest SURB and its epoch (taken: a SURB is used once).
   * `nackFor` gives a message's NACK, or undefined when nothing is missing.
   */
  due<N>(poll: number, epoch: number, nackFor: (messageId: Uint8Array) => N | undefined): { surb: S; epoch: number; nack: N }[] {
    const due: { surb: S; epoch: number; nack: N }[] = [];
    for (const [key, entry] of this.entries) {
      entry.surbs = entry.surbs.filter((s) => surbKept(s.epoch, epoch));
      if (entry.surbs.length === 0) {
        this.entries.delete(key);
        continue;
      }
      if (poll - entry.progressPoll < NACK_AFTER_POLLS || entry.nacks >= MAX_NACKS_PER_MESSAGE) continue;
      const nack = nackFor(entry.messageId);
      if (nack === undefined) continue;
      const newest = entry.surbs.pop()!;
      due.push({ surb: newest.surb, epoch: newest.epoch, nack });
      entry.nacks++;
      entry.progressPoll = poll;
    }
    return due;
  }
}
